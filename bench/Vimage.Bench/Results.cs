using System.Globalization;
using BenchmarkDotNet.Reports;

namespace Vimage.Bench;

/// <summary>Collects every figure as a ratio against its same-run baseline, and whether its goal is met.</summary>
internal static class Results
{
    private static readonly List<string> Lines = [];

    public static string F(double value, string format = "0.00") => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>Records a figure: <paramref name="met"/> null means "informative, no goal".</summary>
    public static void Add(string figure, string text, bool? met = null, string goal = "")
    {
        string verdict = met is null ? "" : (met.Value ? $"  [goal {goal}: MET]" : $"  [goal {goal}: MISSED]");
        string line = $"{figure,-16} {text}{verdict}";
        Lines.Add(line);
        Console.WriteLine(line);
    }

    public static void Note(string figure, string text) => Add(figure, text);

    /// <summary>Median ns/op of one BenchmarkDotNet method (OperationsPerInvoke already applied).</summary>
    public static double MedianNs(Summary summary, string method)
    {
        BenchmarkReport report = summary.Reports.Single(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method);
        return report.ResultStatistics?.Median
            ?? throw new InvalidOperationException($"benchmark {method} produced no result (see the log above)");
    }

    public static string LoadAverage()
        => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>Percent of CPU time idle over the next second (from /proc/stat), or 100 where there is none.</summary>
    public static double IdlePercent()
    {
        if (!File.Exists("/proc/stat"))
        {
            return 100;
        }

        (long idle0, long total0) = CpuTimes();
        Thread.Sleep(1000);
        (long idle1, long total1) = CpuTimes();
        return total1 == total0 ? 100 : 100.0 * (idle1 - idle0) / (total1 - total0);

        static (long Idle, long Total) CpuTimes()
        {
            long[] fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            return (fields[3] + fields[4], fields.Sum());
        }
    }

    public static void PrintAll()
    {
        Console.WriteLine();
        Console.WriteLine("==================== Vimage benchmark figures (ratios against same-run baselines) ====================");
        Console.WriteLine($"VIMAGE={(Vimage.Core.Vnet.IsVimage ? "on" : "off")}  CPUs={Environment.ProcessorCount}  {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}  {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        Console.WriteLine($"load average at the end: {LoadAverage()} (other processes on the machine skew every figure; run on an idle machine)");
        foreach (string line in Lines)
        {
            Console.WriteLine(line);
        }
    }
}
