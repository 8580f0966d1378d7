using System.Diagnostics;

namespace Vimage.Bench.Http;

/// <summary>Calls/s and latency percentiles of one or more measured windows (latencies in Stopwatch ticks).</summary>
internal sealed record LoadResult(long[] Latencies, double Seconds)
{
    public long Requests => Latencies.Length;

    public double PerSecond => Requests / Seconds;

    public double P50Us => Percentile(0.50);

    public double P99Us => Percentile(0.99);

    /// <summary>Several windows of one side taken as one: all calls over all the time.</summary>
    public static LoadResult Merge(IEnumerable<LoadResult> windows) =>
        new(windows.SelectMany(w => w.Latencies).Order().ToArray(), windows.Sum(w => w.Seconds));

    private double Percentile(double p) =>
        Latencies.Length == 0 ? double.NaN : Latencies[Math.Min(Latencies.Length - 1, (int)(p * Latencies.Length))] * 1e6 / Stopwatch.Frequency;
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
        return new LoadResult(latencies.SelectMany(l => l).Order().ToArray(), seconds);
    }
}
