using System.Diagnostics;
using Vimage.Core;

namespace Vimage.Bench;

/// <summary>
/// Figure 2: one thread per core all adding to ONE counter, against Interlocked.Add on one shared long. A plain
/// harness: fixed op count per thread, threads released together by a Barrier, wall time of the slowest thread,
/// median of several runs.
/// </summary>
internal static class CounterScaling
{
    private const int OpsPerThread = 4_000_000;
    private const int Runs = 7;
    private static long s_shared;

    public static void Run()
    {
        int cores = Environment.ProcessorCount;
        Counter64 counter = Counter64.Alloc();
        try
        {
            // Warm-up: get both loops to tier 1 before timing.
            Measure(1, Shared);
            Measure(1, _ => AddLoop(counter));

            counter.Zero();
            double shared1 = Median(1, Shared);
            double sharedN = Median(cores, Shared);
            double counter1 = Median(1, _ => AddLoop(counter));
            double counterN = Median(cores, _ => AddLoop(counter));
            long expected = (long)OpsPerThread * Runs * (1 + cores);
            string exact = counter.Fetch() == expected ? "exact" : $"LOST UPDATES: {counter.Fetch()} != {expected}";

            Results.Add("counter MT", $"{cores} threads, one shared long, Interlocked.Add: {Mops(sharedN)} Mops/s (1 thread: {Mops(shared1)} Mops/s, scaling {Results.F(sharedN / shared1)}x)");
            Results.Add("counter MT", $"{cores} threads, one Counter64, Counter64.Add:      {Mops(counterN)} Mops/s (1 thread: {Mops(counter1)} Mops/s, scaling {Results.F(counterN / counter1)}x; total {exact})");
            double ratio = counterN / sharedN;
            Results.Add("counter MT", $"throughput ratio Counter64 / shared Interlocked with {cores} threads: {Results.F(ratio)}x", ratio >= 3.0, ">= 3x");
            Results.Add("counter MT", $"scaling {cores} threads / 1 thread: Counter64 {Results.F(counterN / counter1)}x, shared Interlocked {Results.F(sharedN / shared1)}x (ideal {cores}x; informative)");
        }
        finally
        {
            Counter64.Free(ref counter);
        }

        static void Shared(int _)
        {
            for (int i = 0; i < OpsPerThread; i++)
            {
                Interlocked.Add(ref s_shared, 1);
            }
        }

        static void AddLoop(Counter64 counter)
        {
            for (int i = 0; i < OpsPerThread; i++)
            {
                counter.Add(1);
            }
        }
    }

    private static string Mops(double opsPerSecond) => Results.F(opsPerSecond / 1e6, "0.0");

    /// <summary>Median over <see cref="Runs"/> runs of total ops/s with <paramref name="threads"/> threads.</summary>
    private static double Median(int threads, Action<int> body)
    {
        var samples = new double[Runs];
        for (int r = 0; r < Runs; r++)
        {
            samples[r] = Measure(threads, body);
        }

        Array.Sort(samples);
        return samples[Runs / 2];
    }

    private static double Measure(int threads, Action<int> body)
    {
        using var barrier = new Barrier(threads + 1);
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                barrier.SignalAndWait();
                body(id);
            }) { IsBackground = true };
            workers[t].Start();
        }

        barrier.SignalAndWait(); // every worker is at the barrier: release them together
        var watch = Stopwatch.StartNew();
        foreach (Thread worker in workers)
        {
            worker.Join();
        }

        watch.Stop();
        return (double)threads * OpsPerThread / watch.Elapsed.TotalSeconds;
    }
}
