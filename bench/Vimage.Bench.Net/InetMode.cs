using System.Diagnostics;
using System.Globalization;
using Vimage.Core;

namespace Vimage.Bench.Net;

/// <summary>
/// <c>inet</c> mode: ping RTT, UDP request/response RTT and UDP datagrams/s between two vnets joined by an epair,
/// against two Linux network namespaces joined by a veth pair, in the same process and run. See README.md.
/// </summary>
internal static class InetMode
{
    private const int ReceiveBuffer = 1 << 20; // SO_RCVBUF of the rate runs' receiving socket, both stacks

    public static int Run(string[] args, bool chain = false)
    {
        int count = 10_000;
        int routers = 10;
        string dispatch = "all";
        bool InetOption(string[] a, ref int i)
        {
            if (a[i] == "--count" && i + 1 < a.Length && int.TryParse(a[i + 1], CultureInfo.InvariantCulture, out int c) && c > 0)
            {
                count = c;
                i++;
                return true;
            }

            if (chain && a[i] == "--routers" && i + 1 < a.Length && int.TryParse(a[i + 1], CultureInfo.InvariantCulture, out int r) && r is > 0 and < 200)
            {
                routers = r;
                i++;
                return true;
            }

            if (a[i] == "--dispatch" && i + 1 < a.Length && a[i + 1] is "direct" or "hybrid" or "deferred" or "all")
            {
                dispatch = a[++i];
                return true;
            }

            return false;
        }

        if (BenchCli.Parse(args, BenchCli.Usage, InetOption) is not { } options)
        {
            return 2;
        }

        double seconds = options.Seconds, warmupSeconds = options.WarmupSeconds;
        TimeSpan measure = TimeSpan.FromSeconds(seconds), warmup = TimeSpan.FromSeconds(warmupSeconds);
        TimeSpan cap = TimeSpan.FromSeconds(Math.Max(5, 2 * seconds)); // latency runs stop early on a very slow machine
        int latencyWarmup = Math.Min(1000, count);
        // At least 2 s: on a loaded machine the runtime's background tier-up of the ping path lags by seconds, and
        // the first dispatch mode measured would otherwise time unoptimized code (later modes inherit the tier-up).
        InetMeasure.LatencyWarmupTime = TimeSpan.FromSeconds(Math.Max(2, warmupSeconds));
        Stopwatch total = BenchCli.PrintHeader(chain ? "Vimage.Bench.Net chain" : "Vimage.Bench.Net inet");
        Console.WriteLine($"latency: {latencyWarmup} (and at least {InetMeasure.LatencyWarmupTime.TotalSeconds:0.##} s of) unmeasured + {count} measured sequential round trips each; rates: {warmupSeconds:0.##} s warm-up, then {seconds:0.##} s measured; " +
            $"64-byte UDP payloads; SO_RCVBUF {ReceiveBuffer >> 10} KiB on the rate receivers");

        using AllocTrace? tracer = options.Trace ? new AllocTrace() : null;
        using InetVimage vimage = chain ? ChainTopology.Vimage(routers) : new InetVimage();
        Console.WriteLine($"vimage: {vimage.Description}");
        string baselineNote;
        InetLinux? linux = chain
            ? BenchCli.CreateBaseline<InetLinux>(options.Baseline, (out string why) => ChainTopology.TryLinux(routers, out why), l => l.Description, out baselineNote)
            : BenchCli.CreateBaseline<InetLinux>(options.Baseline, InetLinux.TryCreate, l => l.Description, out baselineNote);

        var rows = new List<Row>();
        string[] modes = dispatch == "all" ? ["direct", "hybrid", "deferred"] : [dispatch];
        LatencyResult? lPing = null, lEcho = null;
        var lRates = new Dictionary<bool, RateResult?>();
        try
        {
            foreach (string mode in modes)
            {
                // net.isr.dispatch, as `sysctl net.isr.dispatch=<mode>` sets it; the Linux side is measured once.
                Sysctl.Set("net.isr.dispatch", mode);
                string tag = modes.Length > 1 ? $" [{mode}]" : "";
                Console.WriteLine($"net.isr.dispatch={mode}");

                // JIT warm-up, not measured: a short paced and unpaced rate run (also resolves ARP both ways).
                _ = vimage.UdpEcho(200, 1, cap);
                _ = vimage.Rate(paced: true, ReceiveBuffer, TimeSpan.Zero, TimeSpan.FromSeconds(0.3));
                _ = vimage.Rate(paced: false, ReceiveBuffer, TimeSpan.Zero, TimeSpan.FromSeconds(0.3));

                LatencyResult vPing = vimage.Ping(latencyWarmup, count, cap);
                Print("vimage ping", vPing);
                if (lPing is null && linux is not null)
                {
                    lPing = Try(linux, l => l.Ping(latencyWarmup, count, cap), ref baselineNote);
                    Print("linux  ping", lPing);
                }

                rows.Add(Row.Latency("ping RTT median (ICMP echo, 56 data bytes)" + tag, vPing.MedianUs, lPing?.MedianUs));
                rows.Add(Row.Latency("ping RTT p99" + tag, vPing.P99Us, lPing?.P99Us));

                LatencyResult vEcho = vimage.UdpEcho(latencyWarmup, count, cap);
                Print("vimage udp req/resp", vEcho);
                if (lEcho is null && linux is not null)
                {
                    lEcho = Try(linux, l => l.UdpEcho(latencyWarmup, count, cap), ref baselineNote);
                    Print("linux  udp req/resp", lEcho);
                }

                rows.Add(Row.Latency("UDP request/response RTT median (64 B)" + tag, vEcho.MedianUs, lEcho?.MedianUs));
                rows.Add(Row.Latency("UDP request/response RTT p99" + tag, vEcho.P99Us, lEcho?.P99Us));

                foreach (bool paced in new[] { true, false })
                {
                    string kind = paced ? $"paced, <= {InetMeasure.PaceWindow} in flight" : "unpaced";
                    if (tracer is not null)
                    {
                        tracer.Active = true;
                    }

                    RateResult v = vimage.Rate(paced, ReceiveBuffer, warmup, measure);
                    if (tracer is not null)
                    {
                        tracer.Active = false;
                    }

                    Print($"vimage udp datagrams/s {kind}", v);
                    if (!lRates.TryGetValue(paced, out RateResult? l))
                    {
                        l = Try(linux, x => x.Rate(paced, ReceiveBuffer, warmup, measure), ref baselineNote);
                        lRates[paced] = l;
                        Print($"linux  udp datagrams/s {kind}", l);
                    }

                    rows.Add(Row.Rate($"UDP datagrams/s received ({kind}){tag}", v, l));
                }
            }
        }
        finally
        {
            linux?.Dispose();
        }

        Console.WriteLine();
        Console.WriteLine("| measurement | vimage | linux netns | ratio |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach (Row row in rows)
        {
            Console.WriteLine($"| {row.Name} | {row.Vimage} | {row.Linux ?? "n/a"} | {(row.Ratio is double r ? $"{r:0.00}x" : "n/a")} |");
        }

        Console.WriteLine();
        Console.WriteLine("ratio: vimage/linux for rates, linux/vimage for latencies, so above 1 means Vimage is better. Latencies are Stopwatch");
        Console.WriteLine("around send -> matching reply on one thread, sequential. Rates count datagrams the receiving socket handed to the");
        Console.WriteLine("receiver thread per second of the window; drops and sender errors are in the lines above the table.");
        Console.WriteLine(baselineNote);
        List<Row> rates = rows.Where(r => r.IsRate).ToList();
        if (rates.Count > 0 && rates.All(r => r.Ratio is not null))
        {
            double bestV = rates.Max(r => r.VimageValue), bestL = rates.Max(r => r.LinuxValue!.Value);
            string perRow = string.Join("; ", rates.Select(r => $"{r.Name[(r.Name.IndexOf('(', StringComparison.Ordinal) + 1)..]}: {r.Ratio:0.00}x"));
            Console.WriteLine(bestV > bestL && rates.All(r => r.Ratio > 1)
                ? $"goal \"ahead of the kernel baseline in datagrams per second\": MET ({perRow})"
                : bestV > bestL
                    ? $"goal \"ahead of the kernel baseline in datagrams per second\": PARTLY MET: best vimage {InetMeasure.PerSecond(bestV)} vs best linux {InetMeasure.PerSecond(bestL)} ({perRow})"
                    : $"goal \"ahead of the kernel baseline in datagrams per second\": NOT MET: best vimage {InetMeasure.PerSecond(bestV)} vs best linux {InetMeasure.PerSecond(bestL)} ({perRow})");
        }
        else
        {
            Console.WriteLine("goal \"ahead of the kernel baseline in datagrams per second\": cannot be judged (no baseline)");
        }

        BenchCli.PrintFooter(tracer, "the vimage rate runs", total);
        return 0;
    }

    /// <summary>Runs a baseline measurement; a failure is reported and leaves the Linux column empty.</summary>
    private static T? Try<T>(InetLinux? linux, Func<InetLinux, T> body, ref string note)
        where T : class
    {
        if (linux is null)
        {
            return null;
        }

        try
        {
            return body(linux);
        }
        catch (Exception e)
        {
            Console.WriteLine($"  linux measurement failed: {e.Message}");
            note = $"baseline partly unavailable: {e.Message}";
            return null;
        }
    }

    private static void Print(string label, LatencyResult? r)
    {
        if (r is null)
        {
            return;
        }

        Console.WriteLine($"  {label}: {r.Count} samples, lost {r.Lost}, min {InetMeasure.Us(r.Percentile(0))}, median {InetMeasure.Us(r.MedianUs)}, " +
            $"p90 {InetMeasure.Us(r.Percentile(0.90))}, p99 {InetMeasure.Us(r.P99Us)}, max {InetMeasure.Us(r.Percentile(1))}" +
            (r.Details.Length > 0 ? $"; {r.Details}" : ""));
    }

    private static void Print(string label, RateResult? r)
    {
        if (r is null)
        {
            return;
        }

        Console.WriteLine($"  {label}: received {InetMeasure.PerSecond(r.Rate)} ({InetMeasure.Count(r.Received)} in {r.Seconds:0.00} s), " +
            $"sent {InetMeasure.PerSecond(r.OfferedRate)}, sender errors {InetMeasure.Count(r.SendErrors)}, drops {InetMeasure.Count(r.Drops)} ({r.DropDetails}), " +
            $"pacer timeouts {r.PacerTimeouts}, {r.AllocPerDatagram:0.##} B allocated/datagram (whole process)");
    }

    private sealed record Row(string Name, string Vimage, string? Linux, double? Ratio, bool IsRate, double VimageValue, double? LinuxValue)
    {
        public static Row Latency(string name, double v, double? l)
            => new(name, InetMeasure.Us(v), l is double x ? InetMeasure.Us(x) : null, l is double y && v > 0 ? y / v : null, false, v, l);

        public static Row Rate(string name, RateResult v, RateResult? l)
            => new(name, InetMeasure.PerSecond(v.Rate), l is null ? null : InetMeasure.PerSecond(l.Rate),
                l is { Rate: > 0 } ? v.Rate / l.Rate : null, true, v.Rate, l?.Rate);
    }
}
