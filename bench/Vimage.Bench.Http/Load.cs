using System.Diagnostics;

namespace Vimage.Bench.Http;

/// <summary>Requests/s and latency percentiles of one measured window.</summary>
internal readonly record struct LoadResult(long Requests, double Seconds, double P50Us, double P99Us)
{
    public double PerSecond => Requests / Seconds;
}

/// <summary>
/// A closed-loop load: <c>concurrency</c> workers each issue one call, wait for it, record its latency and issue
/// the next, until the window ends. The same harness drives both sides.
/// </summary>
internal static class Load
{
    public static async Task<LoadResult> RunAsync(Func<Task> call, int concurrency, TimeSpan window)
    {
        long end = Stopwatch.GetTimestamp() + (long)(window.TotalSeconds * Stopwatch.Frequency);
        var latencies = new List<long>[concurrency];
        var workers = new Task[concurrency];
        long start = Stopwatch.GetTimestamp();
        for (int w = 0; w < concurrency; w++)
        {
            var mine = latencies[w] = new List<long>(1 << 16);
            workers[w] = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < end)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    await call().ConfigureAwait(false);
                    mine.Add(Stopwatch.GetTimestamp() - t0);
                }
            });
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        double seconds = (double)(Stopwatch.GetTimestamp() - start) / Stopwatch.Frequency;
        long[] all = latencies.SelectMany(l => l).Order().ToArray();
        return new LoadResult(all.Length, seconds, Percentile(all, 0.50), Percentile(all, 0.99));
    }

    private static double Percentile(long[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))] * 1e6 / Stopwatch.Frequency;
}
