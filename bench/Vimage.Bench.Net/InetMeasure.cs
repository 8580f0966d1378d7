using System.Diagnostics;
using System.Globalization;

namespace Vimage.Bench.Net;

/// <summary>Round-trip latencies of one measurement: all samples in µs, sorted.</summary>
internal sealed record LatencyResult(double[] SamplesUs, int Lost, string Details)
{
    public int Count => SamplesUs.Length;

    public double MedianUs => Percentile(0.50);

    public double P99Us => Percentile(0.99);

    public double Percentile(double q)
        => SamplesUs.Length == 0 ? double.NaN : SamplesUs[Math.Clamp((int)Math.Ceiling(q * SamplesUs.Length) - 1, 0, SamplesUs.Length - 1)];
}

/// <summary>Datagrams/s socket to socket over one measured window.</summary>
internal sealed record RateResult(
    long Received,
    long Sent,
    long SendErrors,
    long Drops,
    long PacerTimeouts,
    double Seconds,
    long AllocatedBytes,
    string DropDetails)
{
    public double Rate => Received / Seconds;

    public double OfferedRate => Sent / Seconds;

    public double AllocPerDatagram => Received == 0 ? double.NaN : (double)AllocatedBytes / Received;
}

/// <summary>The loops shared by the Vimage and the Linux side, so both are driven the same way.</summary>
internal static class InetMeasure
{
    /// <summary>A paced sender keeps at most this many datagrams in flight (sent − received).</summary>
    public const int PaceWindow = 128;

    /// <summary>A paced sender that waited this long for the receiver assumes the datagrams in flight are lost.</summary>
    private static readonly long PaceTimeoutTicks = Stopwatch.Frequency / 100; // 10 ms: a busy 2-CPU machine deschedules for ms

    /// <summary>
    /// The least time the unmeasured round trips of <see cref="Latency"/> run (`--warmup`): 1,000 pings take ~2 ms
    /// where the runtime promotes hot methods to optimized code only after ~100 ms of calls, so a count alone
    /// measured partly unoptimized code. Both sides get the same warm-up.
    /// </summary>
    public static TimeSpan LatencyWarmupTime { get; set; }

    /// <summary>
    /// <paramref name="warmup"/> unmeasured round trips (and at least <see cref="LatencyWarmupTime"/> of them), then
    /// up to <paramref name="count"/> measured ones (at most <paramref name="cap"/> in all), each timed with
    /// Stopwatch around the whole call. <paramref name="roundTrip"/> gets the sequence number and returns false when
    /// the reply did not come (counted as lost).
    /// </summary>
    public static LatencyResult Latency(Func<int, bool> roundTrip, int warmup, int count, TimeSpan cap, Func<string>? details = null)
    {
        int seq = 0;
        long warmupEnd = Stopwatch.GetTimestamp() + (long)(LatencyWarmupTime.TotalSeconds * Stopwatch.Frequency);
        for (int i = 0; i < warmup || Stopwatch.GetTimestamp() < warmupEnd; i++)
        {
            roundTrip(seq++);
        }

        var samples = new double[count];
        int n = 0, lost = 0;
        double toUs = 1e6 / Stopwatch.Frequency;
        long deadline = Stopwatch.GetTimestamp() + (long)(cap.TotalSeconds * Stopwatch.Frequency);
        for (int i = 0; i < count && Stopwatch.GetTimestamp() < deadline; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            bool ok = roundTrip(seq++);
            long t1 = Stopwatch.GetTimestamp();
            if (ok)
            {
                samples[n++] = (t1 - t0) * toUs;
            }
            else
            {
                lost++;
            }
        }

        Array.Resize(ref samples, n);
        Array.Sort(samples);
        return new LatencyResult(samples, lost, details?.Invoke() ?? "");
    }

    /// <summary>
    /// One sender thread calling <paramref name="sendOne"/> in a loop (false = the send failed, e.g. ENOBUFS), one
    /// receiver thread calling <paramref name="receiveOne"/> (false = timed out, so it can see the stop flag).
    /// Paced (<paramref name="paced"/>): the sender keeps at most <see cref="PaceWindow"/> datagrams in flight; if
    /// the receiver does not catch up within 10 ms the datagrams in flight are written off (a pacer timeout) so a
    /// drop cannot stall the sender. <paramref name="drops"/> reads the stack's drop counters (named by
    /// <paramref name="dropNames"/>); the window's deltas are reported.
    /// </summary>
    public static RateResult Rate(Func<bool> sendOne, Func<bool> receiveOne, Func<long[]> drops, string[] dropNames,
        bool paced, TimeSpan warmup, TimeSpan measure)
    {
        var sent = new PaddedLong[1];
        var errors = new PaddedLong[1];
        var received = new PaddedLong[1];
        var timeouts = new PaddedLong[1];
        bool stop = false;
        Exception? failure = null;
        var receiver = new Thread(() =>
        {
            long count = 0;
            try
            {
                while (!Volatile.Read(ref stop))
                {
                    if (receiveOne())
                    {
                        Volatile.Write(ref received[0].Value, ++count);
                    }
                }
            }
            catch (Exception e)
            {
                failure ??= e;
            }
        })
        { IsBackground = true, Name = "inet receiver" };
        var sender = new Thread(() =>
        {
            long count = 0, failed = 0, written = 0, paceTimeouts = 0;
            try
            {
                while (!Volatile.Read(ref stop))
                {
                    if (paced && count - written - Volatile.Read(ref received[0].Value) > PaceWindow)
                    {
                        long start = Stopwatch.GetTimestamp();
                        while (count - written - Volatile.Read(ref received[0].Value) > PaceWindow && !Volatile.Read(ref stop))
                        {
                            if (Stopwatch.GetTimestamp() - start > PaceTimeoutTicks)
                            {
                                written = count - Volatile.Read(ref received[0].Value);
                                Volatile.Write(ref timeouts[0].Value, ++paceTimeouts);
                                break;
                            }

                            Thread.Yield(); // 2 CPUs: let the receiver (and Vimage's if_io_tqg worker) run
                        }
                    }

                    if (sendOne())
                    {
                        count++;
                    }
                    else
                    {
                        failed++;
                    }

                    if (((count + failed) & 15) == 0)
                    {
                        Volatile.Write(ref sent[0].Value, count);
                        Volatile.Write(ref errors[0].Value, failed);
                    }
                }
            }
            catch (Exception e)
            {
                failure ??= e;
            }
        })
        { IsBackground = true, Name = "inet sender" };
        receiver.Start();
        sender.Start();
        Thread.Sleep(warmup);
        long[] drops0 = drops();
        long r0 = Volatile.Read(ref received[0].Value), s0 = Volatile.Read(ref sent[0].Value), e0 = Volatile.Read(ref errors[0].Value);
        long t0 = Volatile.Read(ref timeouts[0].Value);
        long a0 = GC.GetTotalAllocatedBytes(precise: true);
        var window = Stopwatch.StartNew();
        Thread.Sleep(measure);
        long r1 = Volatile.Read(ref received[0].Value), s1 = Volatile.Read(ref sent[0].Value), e1 = Volatile.Read(ref errors[0].Value);
        double seconds = window.Elapsed.TotalSeconds;
        long a1 = GC.GetTotalAllocatedBytes(precise: true);
        long t1 = Volatile.Read(ref timeouts[0].Value);
        long[] drops1 = drops();
        Volatile.Write(ref stop, true);
        sender.Join();
        receiver.Join();
        if (failure is not null)
        {
            throw new InvalidOperationException($"rate run failed: {failure.Message}", failure);
        }

        long[] delta = drops1.Zip(drops0, (x, y) => x - y).ToArray();
        string dropDetails = string.Join(", ", dropNames.Select((name, i) => $"{name} {Count(delta[i])}"));
        return new RateResult(r1 - r0, s1 - s0, e1 - e0, delta.Sum(), t1 - t0, seconds, a1 - a0, dropDetails);
    }

    public static string Us(double us) => double.IsNaN(us) ? "n/a" : us >= 100 ? $"{us:0} µs" : $"{us:0.0} µs";

    public static string PerSecond(double rate) => rate >= 1e6 ? $"{rate / 1e6:0.00} M/s" : $"{rate / 1e3:0.0} k/s";

    public static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}
