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

    /// <summary>Milliseconds since start: the time base the timers compare against (like ticks); follows the virtual clock when one is on.</summary>
    public static long NowMs => ClockOverride?.Invoke() ?? VirtualMs() ?? (Environment.TickCount64 + (Volatile.Read(ref s_realOffsetUs) / 1000));

    /// <summary>Tests move time forward (ARP's timers) without waiting; null means the real clock.</summary>
    internal static Func<long>? ClockOverride { get; set; }

    private static readonly long StartTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>
    /// The stack's microsecond clock (monotonic, from process start): what TCP's timers, RTT samples and timestamps
    /// read, and nothing else. <see cref="UsClockOverride"/> replaces it (a virtual clock for tests).
    /// </summary>
    public static long NowUs => UsClockOverride?.Invoke() ?? VirtualUs() ?? RealUs;

    /// <summary>
    /// The real monotonic clock behind <see cref="NowUs"/>; after a stretch of virtual time it continues from where
    /// the virtual clock stopped (the stack's time never goes back).
    /// </summary>
    public static long RealUs => (long)((System.Diagnostics.Stopwatch.GetTimestamp() - StartTimestamp) * (1_000_000.0 / System.Diagnostics.Stopwatch.Frequency))
        + Volatile.Read(ref s_realOffsetUs);

    /// <summary>How far virtual time ran ahead of the real clock (added to it once back on it).</summary>
    private static long s_realOffsetUs;

    /// <summary>A virtual microsecond clock (tests; later a virtual-time driver); null means the real one.</summary>
    internal static Func<long>? UsClockOverride { get; set; }

    // ---- virtual time -------------------------------------------------------------------------------------------
    // The whole process's stack clock can be switched to a virtual one that moves only when told (AdvanceTo). An
    // advance runs, in time order and each at its own instant, every timer due on the way: the clock-driven timer
    // services that registered (the TCP callout wheel) and the slow per-vnet timers above, every Interval. Nothing
    // in a protocol knows whether time is real or virtual.

    private static readonly object AdvanceGate = new();
    private static readonly List<(Action RunDue, Func<long> NextDueUs)> Clocked = [];
    private static long s_virtualUs = -1; // -1: the real clock
    private static long s_virtualUsBase;
    private static long s_virtualMsBase;
    private static long s_nextSlowUs;

    /// <summary>True while the stack runs on the virtual clock.</summary>
    public static bool IsVirtual => Volatile.Read(ref s_virtualUs) >= 0;

    private static long? VirtualUs()
    {
        long v = Volatile.Read(ref s_virtualUs);
        return v >= 0 ? v : null;
    }

    private static long? VirtualMs()
    {
        long v = Volatile.Read(ref s_virtualUs);
        return v >= 0 ? s_virtualMsBase + ((v - s_virtualUsBase) / 1000) : null;
    }

    /// <summary>
    /// A timer service driven by the stack clock (callout's softclock): <paramref name="runDue"/> runs what is due at
    /// <see cref="NowUs"/>; <paramref name="nextDueUs"/> says when its earliest entry falls due (long.MaxValue: none).
    /// </summary>
    public static void RegisterClockDriven(Action runDue, Func<long> nextDueUs)
    {
        lock (Clocked)
        {
            Clocked.Add((runDue, nextDueUs));
        }
    }

    /// <summary>Switches the stack to the virtual clock, starting where the real one is now (no jump).</summary>
    public static void UseVirtualClock()
    {
        lock (AdvanceGate)
        {
            if (IsVirtual)
            {
                return;
            }

            long us = RealUs;
            s_virtualUsBase = us;
            s_virtualMsBase = Environment.TickCount64 + (Volatile.Read(ref s_realOffsetUs) / 1000);
            s_nextSlowUs = us + (long)Interval.TotalMicroseconds;
            Volatile.Write(ref s_virtualUs, us);
        }
    }

    /// <summary>
    /// Back to the real clock, which continues from the virtual time reached (no step back: deadlines, rate-limit
    /// windows and RTT samples taken on the virtual clock stay consistent); what falls due runs on the timers' threads.
    /// </summary>
    public static void UseRealClock()
    {
        lock (AdvanceGate)
        {
            long v = Volatile.Read(ref s_virtualUs);
            if (v < 0)
            {
                return;
            }

            long ahead = v - RealUs;
            if (ahead > 0)
            {
                Interlocked.Add(ref s_realOffsetUs, ahead);
            }

            Volatile.Write(ref s_virtualUs, -1);
        }
    }

    /// <summary>The earliest instant any clock-driven timer is due (long.MaxValue: none scheduled).</summary>
    public static long NextDueUs()
    {
        long next = long.MaxValue;
        foreach ((Action _, Func<long> due) in SnapshotClocked())
        {
            next = Math.Min(next, due());
        }

        return next;
    }

    /// <summary>Moves the virtual clock by <paramref name="deltaUs"/> (see <see cref="AdvanceTo"/>).</summary>
    public static void Advance(long deltaUs) => AdvanceTo(NowUs + Math.Max(0, deltaUs));

    /// <summary>
    /// Moves the virtual clock forward to <paramref name="us"/>, stopping at each instant a timer is due on the way
    /// and running it there (so a timer fires at exactly its time, and one it arms is honoured in the same advance).
    /// A time in the past is a no-op. Only on the virtual clock (InvalidOperationException otherwise).
    /// </summary>
    public static void AdvanceTo(long us)
    {
        lock (AdvanceGate)
        {
            if (!IsVirtual)
            {
                throw new InvalidOperationException("the stack is on the real clock (UseVirtualClock first)");
            }

            (Action RunDue, Func<long> NextDueUs)[] clocked = SnapshotClocked();
            long lastRun = -1;
            while (true)
            {
                long now = Volatile.Read(ref s_virtualUs);
                long next = s_nextSlowUs;
                foreach ((Action _, Func<long> due) in clocked)
                {
                    next = Math.Min(next, due());
                }

                if (next <= now)
                {
                    if (lastRun == now)
                    {
                        next = now + 1; // ran at this instant already: whatever remains is due no earlier than the next one
                    }
                    else
                    {
                        next = now;
                    }
                }

                if (next > us)
                {
                    break;
                }

                Volatile.Write(ref s_virtualUs, next);
                RunClocked(clocked);
                lastRun = next;
                if (s_nextSlowUs <= next)
                {
                    s_nextSlowUs += (long)Interval.TotalMicroseconds;
                    TickNow();
                }
            }

            if (us > Volatile.Read(ref s_virtualUs))
            {
                Volatile.Write(ref s_virtualUs, us);
                RunClocked(clocked);
            }
        }
    }

    private static (Action RunDue, Func<long> NextDueUs)[] SnapshotClocked()
    {
        lock (Clocked)
        {
            return [.. Clocked];
        }
    }

    private static void RunClocked((Action RunDue, Func<long> NextDueUs)[] clocked)
    {
        foreach ((Action run, Func<long> _) in clocked)
        {
            try
            {
                run();
            }
            catch (Exception)
            {
                Interlocked.Increment(ref s_failures);
            }
        }
    }

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
            if (IsVirtual)
            {
                continue; // AdvanceTo runs the slow timers at their virtual instants
            }

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
