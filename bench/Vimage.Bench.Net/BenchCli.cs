using System.Diagnostics;
using System.Globalization;
using Vimage.Core;

namespace Vimage.Bench.Net;

/// <summary>What the frames mode (Program.cs) and the inet mode (InetMode.cs) share: options, header, baseline line, footer.</summary>
internal static class BenchCli
{
    public const string Usage = "usage: Vimage.Bench.Net [frames] [--seconds N] [--warmup S] [--mode paced|flood|both] [--rx-budget N] [--no-baseline] [--alloc-trace]\n"
        + "       Vimage.Bench.Net inet [--seconds N] [--warmup S] [--count N] [--dispatch direct|hybrid|deferred|all] [--no-baseline] [--alloc-trace]\n"
        + "       Vimage.Bench.Net chain [--seconds N] [--warmup S] [--count N] [--routers N] [--dispatch direct|hybrid|deferred|all] [--no-baseline]";

    /// <summary>A mode's own option at <c>args[i]</c>: true when taken (with <paramref name="i"/> past its value), false when unknown.</summary>
    public delegate bool ModeOption(string[] args, ref int i);

    /// <summary>A baseline's TryCreate: the baseline, or null with the reason it cannot run.</summary>
    public delegate T? BaselineFactory<T>(out string reason)
        where T : class;

    /// <summary>
    /// Parses --seconds, --warmup, --no-baseline and --alloc-trace, handing every other argument to <paramref name="modeOption"/>;
    /// on an unknown or malformed argument prints <paramref name="usage"/> to stderr and returns null (exit code 2).
    /// </summary>
    public static Options? Parse(string[] args, string usage, ModeOption modeOption)
    {
        var options = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds" when i + 1 < args.Length && double.TryParse(args[i + 1], CultureInfo.InvariantCulture, out double s) && s > 0:
                    options.Seconds = s;
                    i++;
                    break;
                case "--warmup" when i + 1 < args.Length && double.TryParse(args[i + 1], CultureInfo.InvariantCulture, out double w) && w >= 0:
                    options.WarmupSeconds = w;
                    i++;
                    break;
                case "--no-baseline":
                    options.Baseline = false;
                    break;
                case "--alloc-trace":
                    options.Trace = true;
                    break;
                default:
                    if (!modeOption(args, ref i))
                    {
                        Console.Error.WriteLine(usage);
                        return null;
                    }

                    break;
            }
        }

        return options;
    }

    /// <summary>Samples how idle the machine is, prints the header line (and a warning when busy); returns the total-time clock.</summary>
    public static Stopwatch PrintHeader(string title)
    {
        double idle = MachineInfo.IdlePercent();
        var total = Stopwatch.StartNew();
        Console.WriteLine($"{title}: VIMAGE={(Vnet.IsVimage ? "on" : "off")}, {Environment.ProcessorCount} CPUs, .NET {Environment.Version}, " +
            $"GC {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, load average {MachineInfo.LoadAverage()}");
        if (idle < 80)
        {
            Console.WriteLine($"WARNING: the machine was busy at the start ({idle:0}% idle over 1 s): other processes share the {Environment.ProcessorCount} CPUs and skew every figure");
        }

        return total;
    }

    /// <summary>Creates the Linux baseline unless disabled, prints the baseline line and a blank line; <paramref name="note"/> is that line.</summary>
    public static T? CreateBaseline<T>(bool enabled, BaselineFactory<T> create, Func<T, string> describe, out string note)
        where T : class
    {
        T? baseline = null;
        if (enabled)
        {
            baseline = create(out string reason);
            note = baseline is null ? $"baseline unavailable: {reason}" : $"baseline: {describe(baseline)}";
        }
        else
        {
            note = "baseline unavailable: disabled with --no-baseline";
        }

        Console.WriteLine(note);
        Console.WriteLine();
        return baseline;
    }

    /// <summary>Prints the allocation samples (if tracing) and the closing load-average line.</summary>
    public static void PrintFooter(AllocTrace? tracer, string during, Stopwatch total)
    {
        if (tracer is not null)
        {
            Console.WriteLine($"allocation samples during {during} (GCAllocationTick, bytes by type):");
            foreach (var (type, bytes) in tracer.Top(15))
            {
                Console.WriteLine($"  {bytes,14:N0}  {type}");
            }
        }

        Console.WriteLine($"load average at the end: {MachineInfo.LoadAverage()}; total time {total.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>The options both modes take; each mode keeps its own.</summary>
    internal sealed class Options
    {
        public double Seconds { get; set; } = 2;

        public double WarmupSeconds { get; set; } = 0.5;

        public bool Baseline { get; set; } = true;

        public bool Trace { get; set; }
    }
}
