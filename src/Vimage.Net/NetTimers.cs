using Vimage.Core;

namespace Vimage.Net;

/// <summary>
/// callout(9) for the protocols' slow timers (arptimer, ip_slowtimo): one background thread ticks every
/// <see cref="Interval"/> and runs every registered handler in every live vnet, with that vnet current.
/// A handler that throws is counted and does not stop the others.
/// </summary>
public static class NetTimers
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private static readonly List<Action> Handlers = [];
    private static Thread? s_thread;
    private static long s_failures;

    /// <summary>Handler failures so far.</summary>
    public static long Failures => Interlocked.Read(ref s_failures);

    /// <summary>Milliseconds since start: the time base the timers compare against (like ticks).</summary>
    public static long NowMs => ClockOverride?.Invoke() ?? Environment.TickCount64;

    /// <summary>Tests move time forward (ARP's timers) without waiting; null means the real clock.</summary>
    internal static Func<long>? ClockOverride { get; set; }

    private static readonly long StartTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>
    /// The stack's microsecond clock (monotonic, from process start): what TCP's timers, RTT samples and timestamps
    /// read, and nothing else. <see cref="UsClockOverride"/> replaces it (a virtual clock for tests).
    /// </summary>
    public static long NowUs => UsClockOverride?.Invoke() ?? RealUs;

    /// <summary>The real monotonic clock behind <see cref="NowUs"/>.</summary>
    public static long RealUs => (long)((System.Diagnostics.Stopwatch.GetTimestamp() - StartTimestamp) * (1_000_000.0 / System.Diagnostics.Stopwatch.Frequency));

    /// <summary>A virtual microsecond clock (tests; later a virtual-time driver); null means the real one.</summary>
    internal static Func<long>? UsClockOverride { get; set; }

    public static void RegisterPerVnet(Action tick)
    {
        lock (Handlers)
        {
            Handlers.Add(tick);
            if (s_thread is null)
            {
                s_thread = new Thread(Run) { IsBackground = true, Name = "net timers" };
                s_thread.Start();
            }
        }
    }

    /// <summary>Runs every handler in every vnet now (tests use it to avoid waiting).</summary>
    public static void TickNow()
    {
        Action[] handlers;
        lock (Handlers)
        {
            handlers = [.. Handlers];
        }

        foreach (Vnet vnet in Vnet.List())
        {
            if (!vnet.TryEnter())
            {
                continue;
            }

            try
            {
                using (Curvnet.Set(vnet))
                {
                    foreach (Action handler in handlers)
                    {
                        try
                        {
                            handler();
                        }
                        catch (Exception)
                        {
                            Interlocked.Increment(ref s_failures);
                        }
                    }
                }
            }
            finally
            {
                vnet.Exit();
            }
        }
    }

    private static void Run()
    {
        while (true)
        {
            Thread.Sleep(Interval);
            try
            {
                TickNow();
            }
            catch (Exception)
            {
                Interlocked.Increment(ref s_failures);
            }
        }
    }
}
