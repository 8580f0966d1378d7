using System.Diagnostics;
using Vimage.Core;
using Vimage.Net.Pfil;

namespace Vimage.Net.Dummynet;

/// <summary>A held packet and where it goes back in (a pooled node: nothing is allocated per packet in steady state).</summary>
internal sealed class DnPacket
{
    public Mbuf? M;
    public Ifnet? Ifp;
    public PfilDir Dir;
    public uint Hop;
    public int Resume;
    public Vnet? Vnet;
    public object? Owner;
    public long Due;
    public int Length;
    public DnPacket? Next;

    /// <summary>A service event of a scheduled link (no packet): the link is free again at <see cref="Due"/>.</summary>
    public DnPipe? Service;
}

/// <summary>
/// The one hashed timer wheel (Varghese &amp; Lauck) holding every delayed packet of every pipe of every vnet, served by
/// one thread: slots of <see cref="Resolution"/> Stopwatch ticks, a packet further away than the wheel's span waits
/// in its slot for later rounds. 10,000 pipes cost 10,000 configurations, not threads or timers. The thread sleeps
/// until <see cref="SpinWindow"/> before the next packet is due and then spins on the CPU (no yield: a yield hands the
/// core to whatever else is runnable and the thread comes back a scheduler slice later) until it is; it spins only
/// while a held packet is due within that window, so an idle wheel, or one whose next packet is far away, sleeps.
/// This is what keeps the delay error in microseconds rather than the kernel timer's wake-up lateness.
/// </summary>
internal static class DnWheel
{
    private const int Bits = 16;
    private const int Slots = 1 << Bits;
    private static readonly long Resolution = Math.Max(1, Stopwatch.Frequency / 100_000); // 10 µs
    private static readonly long SpinWindow = Stopwatch.Frequency / 1000; // 1 ms: a timed wait's wake-up is late by less
    private static readonly DnPacket?[] Heads = new DnPacket?[Slots];
    private static readonly DnPacket?[] Tails = new DnPacket?[Slots];
    private static readonly Lock Gate = new();
    private static readonly AutoResetEvent Wake = new(false);
    private static DnPacket? s_free;
    private static int s_freeCount;
    private static long s_cursor = Stopwatch.GetTimestamp() / Resolution;
    private static long s_pending;
    private static long s_released;
    private static long s_nextWake = long.MaxValue;
    private static Thread? s_thread;

    /// <summary>The slot a packet due at <paramref name="due"/> goes to: rounded up, so nothing leaves early.</summary>
    private static long TickOf(long due) => (due + Resolution - 1) / Resolution;

    /// <summary>Packets held right now, all vnets.</summary>
    public static long Pending => Interlocked.Read(ref s_pending);

    /// <summary>Packets released back into their vnet since boot, all vnets.</summary>
    public static long Released => Interlocked.Read(ref s_released);

    public static DnPacket Rent()
    {
        lock (Gate)
        {
            if (s_free is { } node)
            {
                s_free = node.Next;
                s_freeCount--;
                node.Next = null;
                return node;
            }
        }

        return new DnPacket();
    }

    /// <summary>Holds <paramref name="p"/> until its <see cref="DnPacket.Due"/> (Stopwatch ticks).</summary>
    public static void Schedule(DnPacket p)
    {
        bool wake;
        lock (Gate)
        {
            long tick = Math.Max(TickOf(p.Due), s_cursor + 1);
            int slot = (int)(tick & (Slots - 1));
            p.Next = null;
            if (Tails[slot] is { } tail)
            {
                tail.Next = p;
            }
            else
            {
                Heads[slot] = p;
            }

            Tails[slot] = p;
            s_pending++;
            wake = p.Due < s_nextWake;
            if (wake)
            {
                Volatile.Write(ref s_nextWake, p.Due); // a spinning thread sees the earlier deadline at once
            }
            if (s_thread is null)
            {
                s_thread = new Thread(Run) { IsBackground = true, Name = "dummynet", Priority = ThreadPriority.AboveNormal };
                s_thread.Start();
            }
        }

        if (wake)
        {
            Wake.Set();
        }
    }

    /// <summary>Frees every held packet matching <paramref name="owner"/> (a pipe) or <paramref name="vnet"/>; returns how many.</summary>
    public static int Purge(object? owner, Vnet? vnet)
    {
        DnPacket? dead = null;
        int count = 0;
        lock (Gate)
        {
            for (int s = 0; s < Slots; s++)
            {
                DnPacket? prev = null;
                for (DnPacket? p = Heads[s]; p is not null;)
                {
                    DnPacket? next = p.Next;
                    if ((owner is not null && p.Owner == owner) || (vnet is not null && p.Vnet == vnet))
                    {
                        if (prev is null)
                        {
                            Heads[s] = next;
                        }
                        else
                        {
                            prev.Next = next;
                        }

                        if (Tails[s] == p)
                        {
                            Tails[s] = prev;
                        }

                        p.Next = dead;
                        dead = p;
                        s_pending--;
                        count++;
                    }
                    else
                    {
                        prev = p;
                    }

                    p = next;
                }
            }
        }

        while (dead is not null)
        {
            DnPacket? next = dead.Next;
            dead.M?.Free();
            Return(dead);
            dead = next;
        }

        return count;
    }

    public static void Return(DnPacket p)
    {
        p.M = null;
        p.Ifp = null;
        p.Vnet = null;
        p.Owner = null;
        p.Service = null;
        lock (Gate)
        {
            if (s_freeCount < 65536)
            {
                p.Next = s_free;
                s_free = p;
                s_freeCount++;
            }
        }
    }

    private static void Run()
    {
        while (true)
        {
            DnPacket? ready = Collect(Stopwatch.GetTimestamp(), out long nextDue);
            Deliver(ready);
            if (ready is not null)
            {
                continue;
            }

            if (nextDue == long.MaxValue)
            {
                Wake.WaitOne(100); // idle: nothing held
                continue;
            }

            // sleep to SpinWindow before the deadline (whole milliseconds, rounded down: early, never late; a packet
            // scheduled earlier meanwhile sets Wake), then spin the rest: at most two windows on the CPU
            long ms = (nextDue - Stopwatch.GetTimestamp() - SpinWindow) * 1000 / Stopwatch.Frequency;
            if (ms > 0)
            {
                Wake.WaitOne((int)Math.Min(ms, 100));
                continue;
            }

            SpinUntil(nextDue);
        }
    }

    /// <summary>
    /// The last stretch before <paramref name="due"/>: stays on the CPU (pause instructions, no yield) until it is
    /// reached or an earlier packet is scheduled (<see cref="Schedule"/> lowers s_nextWake). At most
    /// two <see cref="SpinWindow"/>s per release (the sleep is in whole milliseconds).
    /// </summary>
    private static void SpinUntil(long due)
    {
        while (Stopwatch.GetTimestamp() < due && Volatile.Read(ref s_nextWake) >= due)
        {
            Thread.SpinWait(10);
        }
    }

    /// <summary>Unlinks every packet due by <paramref name="now"/>, in slot and arrival order; reports the next due time seen.</summary>
    private static DnPacket? Collect(long now, out long nextDue)
    {
        DnPacket? head = null, tail = null;
        nextDue = long.MaxValue;
        lock (Gate)
        {
            long target = now / Resolution;
            while (s_cursor < target)
            {
                long tick = ++s_cursor;
                int slot = (int)(tick & (Slots - 1));
                DnPacket? keep = null, keepTail = null;
                for (DnPacket? p = Heads[slot]; p is not null;)
                {
                    DnPacket? next = p.Next;
                    p.Next = null;
                    if (TickOf(p.Due) <= tick)
                    {
                        if (tail is null)
                        {
                            head = p;
                        }
                        else
                        {
                            tail.Next = p;
                        }

                        tail = p;
                        s_pending--;
                    }
                    else
                    {
                        if (keepTail is null)
                        {
                            keep = p;
                        }
                        else
                        {
                            keepTail.Next = p;
                        }

                        keepTail = p;
                    }

                    p = next;
                }

                Heads[slot] = keep;
                Tails[slot] = keepTail;
            }

            if (s_pending > 0)
            {
                // look ahead up to 20 ms of slots for the next packet; beyond that, wake in 20 ms and look again
                long horizon = Math.Min(Slots - 1, 2000);
                for (long t = s_cursor + 1; t <= s_cursor + horizon; t++)
                {
                    for (DnPacket? p = Heads[(int)(t & (Slots - 1))]; p is not null; p = p.Next)
                    {
                        // only this round's packets: one due a wheel span later shares the slot and must not
                        // make the thread sleep past the packets due before it
                        long due = TickOf(p.Due);
                        if (due <= t)
                        {
                            nextDue = Math.Min(nextDue, due * Resolution);
                        }
                    }

                    if (nextDue != long.MaxValue)
                    {
                        break;
                    }
                }

                if (nextDue == long.MaxValue)
                {
                    nextDue = (s_cursor + horizon) * Resolution;
                }
            }

            s_nextWake = nextDue;
        }

        return head;
    }

    private static void Deliver(DnPacket? p)
    {
        DnPacket? freeHead = null, freeTail = null;
        int freed = 0;
        while (p is not null)
        {
            DnPacket? next = p.Next;
            if (p.Service is { } link)
            {
                try
                {
                    link.OnService(); // serve_sched: the link is free, the scheduler picks what goes next
                }
                catch (Exception)
                {
                    DnIo.CountFailure();
                }

                Return(p);
                p = next;
                continue;
            }

            Mbuf m = p.M!;
            Vnet vnet = p.Vnet!;
            Ifnet ifp = p.Ifp!;
            if (vnet.TryEnter())
            {
                try
                {
                    using (Curvnet.Set(vnet))
                    {
                        if (DnIo.Reinject is { } reinject && ifp.Vnet == vnet)
                        {
                            Interlocked.Increment(ref s_released);
                            reinject(m, ifp, p.Dir, p.Hop, p.Resume);
                        }
                        else
                        {
                            m.Free();
                        }
                    }
                }
                catch (Exception)
                {
                    DnIo.CountFailure();
                }
                finally
                {
                    vnet.Exit();
                }
            }
            else
            {
                m.Free();
            }

            // back to the free list in one batch (one lock per release run, not per packet)
            p.M = null;
            p.Ifp = null;
            p.Vnet = null;
            p.Owner = null;
            p.Next = freeHead;
            freeHead = p;
            freeTail ??= p;
            freed++;
            p = next;
        }

        if (freeHead is not null)
        {
            lock (Gate)
            {
                if (s_freeCount < 65536)
                {
                    freeTail!.Next = s_free;
                    s_free = freeHead;
                    s_freeCount += freed;
                }
            }
        }
    }
}
