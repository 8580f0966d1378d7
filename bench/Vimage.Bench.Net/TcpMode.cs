using System.Diagnostics;
using System.Globalization;

namespace Vimage.Bench.Net;

/// <summary>
/// <c>tcp</c> mode (issue 14's goals): bulk throughput with 1 and 8 streams, 64-byte request/response latency, memory
/// per idle connection, connections per second, and N (100,000) established connections, between two vnets over an
/// epair against two Linux network namespaces over veth, same process and run, same code on both (TcpMeasure).
/// </summary>
internal static class TcpMode
{
    public const string Usage = "usage: Vimage.Bench.Net tcp [--seconds N] [--warmup S] [--count N] [--idle-connections N] [--connections N] [--idle S] [--rows bulk,rr,memory,cps,many] [--tso 0|1] [--no-baseline] [--alloc-trace]";

    public static int Run(string[] args)
    {
        int count = 10_000, idleConnections = 5_000, connections = 100_000;
        double idleSeconds = 3;
        int tso = 1;
        string[] only = ["bulk", "rr", "memory", "cps", "many"];
        bool TcpOption(string[] a, ref int i)
        {
            if (i + 1 >= a.Length)
            {
                return false;
            }

            bool isInt = int.TryParse(a[i + 1], CultureInfo.InvariantCulture, out int v);
            switch (a[i])
            {
                case "--count" when isInt && v > 0:
                    count = v;
                    break;
                case "--idle-connections" when isInt && v > 0:
                    idleConnections = v;
                    break;
                case "--tso" when isInt && v is 0 or 1:
                    tso = v;
                    break;
                case "--connections" when isInt && v is >= 0 and <= 100_000:
                    connections = v;
                    break;
                case "--rows" when a[i + 1].Split(',') is { } names && names.All(only.Contains):
                    only = names;
                    break;
                case "--idle" when double.TryParse(a[i + 1], CultureInfo.InvariantCulture, out double s) && s > 0:
                    idleSeconds = s;
                    break;
                default:
                    return false;
            }

            i++;
            return true;
        }

        if (BenchCli.Parse(args, Usage, TcpOption) is not { } options)
        {
            return 2;
        }

        TimeSpan measure = TimeSpan.FromSeconds(options.Seconds), warmup = TimeSpan.FromSeconds(options.WarmupSeconds), idle = TimeSpan.FromSeconds(idleSeconds);
        TimeSpan cap = TimeSpan.FromSeconds(Math.Max(5, 2 * options.Seconds));
        int latencyWarmup = Math.Min(1000, count);
        Stopwatch total = BenchCli.PrintHeader("Vimage.Bench.Net tcp");
        Console.WriteLine($"bulk: send()/recv() of {TcpMeasure.Chunk >> 10} KiB, {options.WarmupSeconds:0.##} s warm-up then {options.Seconds:0.##} s measured; request/response: " +
            $"{latencyWarmup} + {count} round trips of {TcpMeasure.Message} B, TCP_NODELAY; idle memory: {idleConnections:N0} connections; many: {connections:N0} connections; idle CPU over {idleSeconds:0.##} s");
        using AllocTrace? tracer = options.Trace ? new AllocTrace() : null;
        var vimage = new TcpVimage(tso: tso);
        Console.WriteLine($"vimage: {vimage.Description}");
        TcpLinux? linux = BenchCli.CreateBaseline<TcpLinux>(options.Baseline, TcpLinux.TryCreate, l => l.Description, out string baselineNote);
        if (linux is null)
        {
            Console.WriteLine($"SKIP: no Linux baseline ({baselineNote}); it needs root to create network namespaces. The Vimage figures below have no ratio.");
        }

        var rows = new List<TcpRow>();
        try
        {
            // JIT warm-up, not measured: a short run of each loop on Vimage (the Linux side is the kernel's code).
            _ = TcpMeasure.Bulk(vimage, 5200, 1, TimeSpan.Zero, TimeSpan.FromSeconds(0.3));
            _ = TcpMeasure.RequestResponse(vimage, 5200, 200, 200, cap);

            foreach (int streams in only.Contains("bulk") ? new[] { 1, 8 } : [])
            {
                var (v, l) = Both(vimage, linux, s => Traced(tracer, s, () => TcpMeasure.Bulk(s, 5201, streams, warmup, measure)), PrintBulk, ref baselineNote);
                rows.Add(TcpRow.Higher($"bulk, {streams} stream{(streams > 1 ? "s" : "")} A->B, Gbit/s", v.Gbps, l?.Gbps, "0.00", 1));
                if (streams == 1)
                {
                    rows.Add(new TcpRow("bytes allocated per data segment sent (bulk, 1 stream, whole process)", v.AllocPerSegment.ToString("0.###", CultureInfo.InvariantCulture),
                        null, null, "0", v.AllocPerSegment < 0.5 ? "met" : "missed"));
                }
            }

            if (only.Contains("rr"))
            {
                var (vr, lr) = Both(vimage, linux, s => TcpMeasure.RequestResponse(s, 5203, latencyWarmup, count, cap), PrintLatency, ref baselineNote);
                rows.Add(TcpRow.Lower("request/response 64 B, median", vr.MedianUs, lr?.MedianUs, 2));
                rows.Add(TcpRow.Lower("request/response 64 B, p99", vr.P99Us, lr?.P99Us, 0));
            }

            // Before the connection-rate row, whose TIME_WAITs (a full tcpcb each in Vimage) would expire during this one.
            if (only.Contains("memory"))
            {
                var (vm, lm) = Both(vimage, linux, s => TcpMeasure.Idle(s, 5204, idleConnections, idle), PrintIdle, ref baselineNote);
                rows.Add(new TcpRow($"memory per idle established connection (both ends, {idleConnections:N0} connections)", Bytes(vm.PerConnection),
                    lm is null ? null : Bytes(lm.PerConnection), lm is null ? null : lm.PerConnection / vm.PerConnection, "<= kernel", lm is null ? "n/a" : vm.PerConnection <= lm.PerConnection ? "met" : "missed"));
            }

            if (only.Contains("cps"))
            {
                var (vc, lc) = Both(vimage, linux, s => TcpMeasure.ConnectRate(s, 5202, warmup, measure), PrintRate, ref baselineNote);
                rows.Add(TcpRow.Higher("connections/s (connect, 1 B each way, close)", vc.Rate, lc?.Rate, "N0", 2));
            }

            if (connections > 0 && only.Contains("many"))
            {
                // A fresh pair of vnets: no TIME_WAIT left from the rows above holds ports or wakes the timer wheel.
                vimage.Dispose();
                vimage = new TcpVimage("2", tso);
                // Linux first: Vimage's 100,000 TIME_WAITs (managed tcpcbs) expiring would skew its heap difference.
                var (vn, ln) = Both(vimage, linux, s => TcpMeasure.Idle(s, 5205, Math.Min(connections, s.MaxConnections), idle), PrintIdle, ref baselineNote, linuxFirst: true);
                static string Many(IdleResult r) => $"{r.Connections:N0}: open {r.OpenSeconds:0.0} s, {Bytes(r.PerConnection)}/conn, idle CPU {Pct(r.IdleCpuEstablished)}, {r.CleanCloses:N0} clean closes";
                bool ok = vn.CleanCloses == connections && vn.Connections == connections;
                rows.Add(new TcpRow($"{connections:N0} connections: established, 1 B each way, closed", Many(vn), ln is null ? null : Many(ln),
                    ln is null ? null : ln.PerConnection / vn.PerConnection, "all closed cleanly; memory reported (linux: as many as RLIMIT_NOFILE allows)", ok ? "met" : "missed"));
            }
        }
        finally
        {
            linux?.Dispose();
            vimage.Dispose();
        }

        Console.WriteLine();
        Console.WriteLine("| measurement | vimage | linux netns | ratio | goal | met |");
        Console.WriteLine("| --- | ---: | ---: | ---: | --- | --- |");
        foreach (TcpRow r in rows)
        {
            Console.WriteLine($"| {r.Name} | {r.Vimage} | {r.Linux ?? "n/a"} | {(r.Ratio is double x ? $"{x:0.00}x" : "n/a")} | {r.Goal} | {r.Met} |");
        }

        Console.WriteLine();
        Console.WriteLine("ratio: vimage/linux for rates, linux/vimage for latencies and memory, so above 1 means Vimage is better.");
        Console.WriteLine(baselineNote);
        BenchCli.PrintFooter(tracer, "the vimage bulk runs", total);
        return 0;
    }

    /// <summary>Runs <paramref name="measure"/> on Vimage, then on Linux (a Linux failure is printed and leaves its column empty).</summary>
    private static (T V, T? L) Both<T>(TcpSide vimage, TcpSide? linux, Func<TcpSide, T> measure, Action<string, T> print, ref string note, bool linuxFirst = false)
        where T : class
    {
        T? v = null;
        if (!linuxFirst)
        {
            v = measure(vimage);
            print("vimage", v);
        }

        T? l = null;
        if (linux is not null)
        {
            try
            {
                l = measure(linux);
                print("linux ", l);
            }
            catch (Exception e)
            {
                Console.WriteLine($"  linux measurement failed: {e.Message}");
                note = $"baseline partly unavailable: {e.Message}";
            }
        }

        if (v is null)
        {
            v = measure(vimage);
            print("vimage", v);
        }

        return (v, l);
    }

    /// <summary>Runs <paramref name="body"/> with the allocation trace on when it measures Vimage.</summary>
    private static T Traced<T>(AllocTrace? tracer, TcpSide side, Func<T> body)
    {
        if (tracer is null || side is not TcpVimage)
        {
            return body();
        }

        tracer.Active = true;
        try
        {
            return body();
        }
        finally
        {
            tracer.Active = false;
        }
    }

    private static void PrintBulk(string side, BulkResult r) =>
        Console.WriteLine($"  {side} bulk: {r.Gbps:0.00} Gbit/s ({r.Bytes:N0} B in {r.Seconds:0.00} s), {r.Segments:N0} segments sent by A ({r.Retransmitted:N0} retransmitted), " +
            $"{r.Allocated:N0} B allocated ({r.AllocPerSegment:0.###} B/segment, whole process); load {MachineInfo.LoadAverage()}" +
            (r.Counters.Length > 0 ? $"\n    counters over the window: {r.Counters}" : ""));

    private static void PrintLatency(string side, LatencyResult r) =>
        Console.WriteLine($"  {side} request/response: {r.Count} samples, lost {r.Lost}, min {InetMeasure.Us(r.Percentile(0))}, median {InetMeasure.Us(r.MedianUs)}, " +
            $"p90 {InetMeasure.Us(r.Percentile(0.90))}, p99 {InetMeasure.Us(r.P99Us)}, max {InetMeasure.Us(r.Percentile(1))}; load {MachineInfo.LoadAverage()}");

    private static void PrintRate(string side, RateWindow r) =>
        Console.WriteLine($"  {side} connections/s: {r.Rate:N0} ({r.Connections:N0} in {r.Seconds:0.00} s), TIME_WAIT afterwards A {r.TimeWaitA:N0} / B {r.TimeWaitB:N0}" +
            (r.Error.Length > 0 ? $", {r.Error}" : "") + $"; load {MachineInfo.LoadAverage()}");

    private static void PrintIdle(string side, IdleResult r)
    {
        Console.WriteLine($"  {side} {r.Connections:N0} connections: opened in {r.OpenSeconds:0.00} s ({r.Connections / r.OpenSeconds:N0}/s), {Bytes(r.PerConnection)} per connection " +
            $"({r.MemoryBytes:N0} B in all); closed in {r.CloseSeconds:0.00} s, {r.CleanCloses:N0} server ends read the FIN; TIME_WAIT A {r.TimeWaitA:N0} / B {r.TimeWaitB:N0}; " +
            $"process CPU while idle: {Pct(r.IdleCpuBefore)} before, {Pct(r.IdleCpuEstablished)} established, {Pct(r.IdleCpuTimeWait)} with the TIME_WAITs; load {MachineInfo.LoadAverage()}");
        Console.WriteLine($"    memory before: {r.MemoryBefore}");
        Console.WriteLine($"    memory after:  {r.MemoryAfter}");
    }

    private static string Bytes(double b) => b >= 10_240 ? $"{b / 1024:0.0} KiB" : $"{b:N0} B";

    private static string Pct(double share) => $"{share * 100:0.0}% of a CPU";

    private sealed record TcpRow(string Name, string Vimage, string? Linux, double? Ratio, string Goal, string Met)
    {
        /// <summary>A rate: ratio vimage/linux, met when it reaches <paramref name="goal"/> (0: informative).</summary>
        public static TcpRow Higher(string name, double v, double? l, string format, double goal)
        {
            double? ratio = l is > 0 ? v / l : null;
            return new(name, v.ToString(format, CultureInfo.InvariantCulture), l?.ToString(format, CultureInfo.InvariantCulture), ratio,
                $">= {goal}x", ratio is null ? "n/a" : ratio >= goal ? "met" : "missed");
        }

        /// <summary>A latency: ratio linux/vimage, met when it reaches <paramref name="goal"/> (0: informative).</summary>
        public static TcpRow Lower(string name, double v, double? l, double goal)
        {
            double? ratio = l is double x && v > 0 ? x / v : null;
            return new(name, InetMeasure.Us(v), l is double y ? InetMeasure.Us(y) : null, ratio,
                goal > 0 ? $">= {goal}x" : "informative", goal == 0 ? "" : ratio is null ? "n/a" : ratio >= goal ? "met" : "missed");
        }
    }
}
