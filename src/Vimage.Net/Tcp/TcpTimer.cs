using Vimage.Core;
using Vimage.Net.Tcp.Cc;

namespace Vimage.Net.Tcp;

/// <summary>
/// A connection's callout (struct callout in the tcpcb): its link in the <see cref="TcpTimerWheel"/>. FreeBSD 14
/// keeps one callout per tcpcb set to the earliest of t_timers[]; so does this: arming or stopping any timer moves
/// this one entry, in O(1).
/// </summary>
internal sealed class TcpCallout(Tcpcb tp)
{
    public readonly Tcpcb Tp = tp;
    public TcpCallout? Prev;
    public TcpCallout? Next;

    /// <summary>The millisecond tick it fires at.</summary>
    public long DueTick;

    /// <summary>Its slot in the wheel, -1 when not scheduled.</summary>
    public int Slot = -1;
}

/// <summary>
/// The callout wheel every TCP connection of every vnet shares (kern_timeout.c's callwheel, one per process here):
/// 4,096 slots of one millisecond of <see cref="NetTimers.NowUs"/>, entries embedded in their tcpcb, doubly linked so
/// arming and stopping are O(1); an entry further away than the wheel's span waits in its slot for later rounds. One
/// thread serves it: it sleeps while nothing is scheduled and wakes each millisecond while something is. Expired
/// entries run <see cref="Tcp.TimerFire"/> outside the wheel's lock, so a handler may re-arm any timer.
/// 100,000 connections are 100,000 list nodes, not 100,000 timers or threads.
/// </summary>
public static class TcpTimerWheel
{
    private const int Bits = 12;
    private const int Slots = 1 << Bits;
    private static readonly TcpCallout?[] Heads = new TcpCallout?[Slots];
    private static readonly Lock Gate = new();
    private static readonly object RunGate = new();
    private static readonly AutoResetEvent Wake = new(false);
    private static readonly List<TcpCallout> Expired = [];
    private static long s_cursor = NetTimers.NowUs / 1000;
    private static int s_pending;
    private static Thread? s_thread;

    // Hook for virtual time: NetTimers.AdvanceTo runs the wheel at each instant an entry is due.
    static TcpTimerWheel() => NetTimers.RegisterClockDriven(RunDue, NextDueUs);

    /// <summary>When the earliest scheduled entry is due, in microseconds of the stack clock (long.MaxValue: none).</summary>
    public static long NextDueUs()
    {
        lock (Gate)
        {
            if (s_pending == 0)
            {
                return long.MaxValue;
            }

            long min = long.MaxValue;
            foreach (TcpCallout? head in Heads)
            {
                for (TcpCallout? c = head; c is not null; c = c.Next)
                {
                    min = Math.Min(min, c.DueTick);
                }
            }

            return min == long.MaxValue ? min : min * 1000;
        }
    }

    /// <summary>Entries scheduled now (all vnets).</summary>
    public static int Pending => Volatile.Read(ref s_pending);

    /// <summary>Threads serving the wheel (0 before the first timer, 1 after).</summary>
    public static int Threads => s_thread is null ? 0 : 1;

    /// <summary>callout_reset: (re)schedules <paramref name="c"/> at <paramref name="dueUs"/>.</summary>
    internal static void Schedule(TcpCallout c, long dueUs)
    {
        bool wake;
        lock (Gate)
        {
            long tick = (dueUs + 999) / 1000;
            if (tick <= s_cursor)
            {
                tick = s_cursor + 1;
            }

            wake = false;
            if (c.Slot >= 0)
            {
                if (c.DueTick == tick)
                {
                    return;
                }

                Unlink(c); // moved, still counted
            }
            else
            {
                wake = s_pending++ == 0;
            }

            c.DueTick = tick;
            Link(c, (int)(tick & (Slots - 1)));
            if (s_thread is null)
            {
                s_thread = new Thread(Run) { IsBackground = true, Name = "tcp callout wheel" };
                s_thread.Start();
            }
        }

        if (wake)
        {
            Wake.Set();
        }
    }

    /// <summary>callout_stop.</summary>
    internal static void Cancel(TcpCallout c)
    {
        lock (Gate)
        {
            if (c.Slot >= 0)
            {
                Unlink(c);
                s_pending--;
            }
        }
    }

    /// <summary>Runs every entry due by <see cref="NetTimers.NowUs"/> (the wheel's thread does this; tests driving a virtual clock call it).</summary>
    public static void RunDue()
    {
        lock (RunGate)
        {
            long now = NetTimers.NowUs / 1000;
            lock (Gate)
            {
                if (now < s_cursor)
                {
                    // The clock went back (a virtual clock was removed): entries keep their ticks and slots, so
                    // walking forward from here still meets each at its time.
                    s_cursor = now;
                }

                if (now - s_cursor >= Slots)
                {
                    for (int i = 0; i < Slots; i++)
                    {
                        CollectSlot(i, now);
                    }

                    s_cursor = now;
                }

                while (s_cursor < now)
                {
                    s_cursor++;
                    CollectSlot((int)(s_cursor & (Slots - 1)), s_cursor);
                }
            }

            foreach (TcpCallout c in Expired)
            {
                Tcp.TimerFire(c.Tp);
            }

            Expired.Clear();
        }
    }

    /// <summary>What is scheduled (diagnostics): each entry's connection.</summary>
    internal static List<string> Describe()
    {
        var list = new List<string>();
        lock (Gate)
        {
            foreach (TcpCallout? head in Heads)
            {
                for (TcpCallout? c = head; c is not null; c = c.Next)
                {
                    list.Add($"{c.Tp.Vnet.Name} {TcpFsm.Name(c.Tp.t_state)} flags {c.Tp.t_flags} timers {string.Join(",", c.Tp.t_timers)}");
                }
            }
        }

        return list;
    }

    private static void CollectSlot(int slot, long now)
    {
        TcpCallout? c = Heads[slot];
        while (c is not null)
        {
            TcpCallout? next = c.Next;
            if (c.DueTick <= now)
            {
                Unlink(c);
                s_pending--;
                Expired.Add(c);
            }

            c = next;
        }
    }

    private static void Link(TcpCallout c, int slot)
    {
        c.Slot = slot;
        c.Prev = null;
        c.Next = Heads[slot];
        if (c.Next is not null)
        {
            c.Next.Prev = c;
        }

        Heads[slot] = c;
    }

    private static void Unlink(TcpCallout c)
    {
        if (c.Prev is not null)
        {
            c.Prev.Next = c.Next;
        }
        else
        {
            Heads[c.Slot] = c.Next;
        }

        if (c.Next is not null)
        {
            c.Next.Prev = c.Prev;
        }

        c.Prev = c.Next = null;
        c.Slot = -1;
    }

    private static void Run()
    {
        while (true)
        {
            Wake.WaitOne(Volatile.Read(ref s_pending) == 0 ? Timeout.Infinite : 1);
            try
            {
                RunDue();
            }
            catch (Exception)
            {
                // A handler's failure must not stop every connection's timers; TimerFire counts its own.
            }
        }
    }
}

/// <summary>tcp_timer.c: the five timers of a connection and what each does when it fires.</summary>
public static partial class Tcp
{
    private static long s_timerFailures;

    /// <summary>Timer handlers that threw (a bug; they are counted, not propagated).</summary>
    public static long TimerFailures => Interlocked.Read(ref s_timerFailures);

    /// <summary>tcp_timer_activate: <paramref name="deltaUs"/> from now, or 0 to stop it.</summary>
    internal static void TimerActivate(Tcpcb tp, TcpTimerKind which, long deltaUs)
    {
        tp.t_timers[(int)which] = deltaUs == 0 ? 0 : NetTimers.NowUs + Math.Max(1, deltaUs);
        Reschedule(tp);
    }

    /// <summary>tcp_timer_stop for all of them (tcp_discardcb).</summary>
    internal static void TimersStop(Tcpcb tp)
    {
        Array.Clear(tp.t_timers);
        TcpTimerWheel.Cancel(tp.t_callout);
    }

    private static void Reschedule(Tcpcb tp)
    {
        long min = long.MaxValue;
        foreach (long t in tp.t_timers)
        {
            if (t != 0 && t < min)
            {
                min = t;
            }
        }

        if (min == long.MaxValue)
        {
            TcpTimerWheel.Cancel(tp.t_callout);
        }
        else
        {
            TcpTimerWheel.Schedule(tp.t_callout, min);
        }
    }

    /// <summary>tcp_timer_enter: the callout fired; runs every expired timer of the connection in its vnet under its lock.</summary>
    internal static void TimerFire(Tcpcb tp)
    {
        Vnet vnet = tp.Vnet;
        if (!vnet.TryEnter())
        {
            return;
        }

        try
        {
            using (Curvnet.Set(vnet))
            {
                lock (tp.Lock)
                {
                    if ((tp.t_flags & TcpCbFlags.TF_CLOSED) != 0)
                    {
                        return;
                    }

                    long now = NetTimers.NowUs;
                    for (int i = 0; i < Tcpcb.TimerCount; i++)
                    {
                        long due = tp.t_timers[i];
                        if (due == 0 || due > now)
                        {
                            continue;
                        }

                        tp.t_timers[i] = 0;
                        try
                        {
                            RunTimer(tp, (TcpTimerKind)i);
                        }
                        catch (Exception)
                        {
                            Interlocked.Increment(ref s_timerFailures);
                        }

                        if ((tp.t_flags & TcpCbFlags.TF_CLOSED) != 0)
                        {
                            return;
                        }
                    }

                    Reschedule(tp);
                }

                FlushOutput();
            }
        }
        finally
        {
            FlushOutput();
            vnet.Exit();
        }
    }

    private static void RunTimer(Tcpcb tp, TcpTimerKind which)
    {
        switch (which)
        {
            case TcpTimerKind.TT_DELACK:
                // tcp_timer_delack
                tp.t_flags |= TcpCbFlags.TF_ACKNOW;
                Stat(TcpStat.tcps_delack);
                Output(tp);
                break;
            case TcpTimerKind.TT_REXMT:
                TimerRexmt(tp);
                break;
            case TcpTimerKind.TT_PERSIST:
                TimerPersist(tp);
                break;
            case TcpTimerKind.TT_KEEP:
                TimerKeep(tp);
                break;
            case TcpTimerKind.TT_2MSL:
                Timer2Msl(tp);
                break;
            case TcpTimerKind.TT_ENOBUFS:
                TimerEnobufs(tp);
                break;
        }
    }

    /// <summary>
    /// tcp_timer_rexmt: back off (tcp_syn_backoff while connecting, tcp_backoff after), give up after
    /// TCP_MAXRXTSHIFT with ETIMEDOUT (or the soft error an ICMP message left), tell congestion control (CC_RTO), and
    /// resend from snd_una; no RTT is taken from the retransmission (Karn).
    /// </summary>
    private static void TimerRexmt(Tcpcb tp)
    {
        if (++tp.t_rxtshift_ > Tcpcb.TCP_MAXRXTSHIFT)
        {
            tp.t_rxtshift_ = Tcpcb.TCP_MAXRXTSHIFT;
            Stat(TcpStat.tcps_timeoutdrop);
            TcpDrop(tp, tp.t_softerror != 0 ? tp.t_softerror : Errno.ETIMEDOUT);
            return;
        }

        Stat(TcpStat.tcps_rexmttimeo);
        if (tp.t_rxtshift_ == 1 && tp.t_state == TcpState.TCPS_ESTABLISHED)
        {
            // tcp_timer_rexmt: remember the state before the first timeout, to undo it if the ACK shows it spurious.
            tp.t_badrxtwin = NetTimers.NowUs + tp.t_srtt / 2;
        }

        long rexmt = tp.t_state == TcpState.TCPS_SYN_SENT
            ? MsToUs(V_tcp_rexmit_initial) * Tcpcb.SynBackoff[tp.t_rxtshift_]
            : RexmtVal(tp) * Tcpcb.Backoff[tp.t_rxtshift_];
        tp.t_rxtcur = RangeSet(rexmt, tp.t_rttmin, Tcpcb.TCPTV_REXMTMAX);
        tp.snd_nxt = tp.snd_una;
        tp.snd_recover = tp.snd_max;
        tp.t_flags |= TcpCbFlags.TF_ACKNOW;
        tp.t_rtttime = 0; // Karn
        CcCongSignal(tp, CcSignal.CC_RTO);
        Output(tp);
    }

    /// <summary>tcp_timer_persist: a zero-window probe (one byte beyond the window, forced), then the next, backed off.</summary>
    private static void TimerPersist(Tcpcb tp)
    {
        Stat(TcpStat.tcps_persisttimeo);
        SetPersist(tp);
        tp.t_flags |= TcpCbFlags.TF_FORCEDATA;
        Output(tp);
        tp.t_flags &= ~TcpCbFlags.TF_FORCEDATA;
    }

    /// <summary>
    /// tcp_timer_keep: an unestablished connection is dropped after keepinit; with SO_KEEPALIVE an idle one is probed
    /// every keepintvl after keepidle (a segment the peer must ACK: seq snd_una - 1) and dropped after keepcnt unanswered probes.
    /// </summary>
    private static void TimerKeep(Tcpcb tp)
    {
        Stat(TcpStat.tcps_keeptimeo);
        if (tp.t_state < TcpState.TCPS_ESTABLISHED)
        {
            Stat(TcpStat.tcps_keepdrops);
            TcpDrop(tp, Errno.ETIMEDOUT);
            return;
        }

        long now = NetTimers.NowUs;
        if ((tp.So.Options & Sockets.SoOptions.SO_KEEPALIVE) != 0 && tp.t_state <= TcpState.TCPS_CLOSING)
        {
            long idle = now - tp.t_rcvtime;
            if (idle >= MsToUs(V_tcp_keepidle) + (long)V_tcp_keepcnt * MsToUs(V_tcp_keepintvl))
            {
                Stat(TcpStat.tcps_keepdrops);
                TcpDrop(tp, Errno.ETIMEDOUT);
                return;
            }

            if (idle >= MsToUs(V_tcp_keepidle))
            {
                Stat(TcpStat.tcps_keepprobe);
                RespondTp(tp, tp.rcv_nxt, tp.snd_una - 1, TcpFlags.TH_ACK);
                TimerActivate(tp, TcpTimerKind.TT_KEEP, MsToUs(V_tcp_keepintvl));
                return;
            }

            TimerActivate(tp, TcpTimerKind.TT_KEEP, MsToUs(V_tcp_keepidle) - idle);
            return;
        }

        TimerActivate(tp, TcpTimerKind.TT_KEEP, MsToUs(V_tcp_keepidle));
    }

    /// <summary>tcp_timer_2msl: TIME_WAIT is over; an orphaned FIN_WAIT_2 connection idle for finwait2_timeout is dropped.</summary>
    private static void Timer2Msl(Tcpcb tp)
    {
        if (tp.t_state == TcpState.TCPS_TIME_WAIT)
        {
            TcpClose(tp);
            return;
        }

        if (tp.t_state == TcpState.TCPS_FIN_WAIT_2)
        {
            long idle = NetTimers.NowUs - tp.t_rcvtime;
            long limit = MsToUs(V_tcp_finwait2_timeout);
            if (idle >= limit || (tp.So.State & Sockets.SocketState.SS_NOFDREF) != 0)
            {
                Stat(TcpStat.tcps_finwait2_drops);
                TcpClose(tp);
                return;
            }

            TimerActivate(tp, TcpTimerKind.TT_2MSL, limit - idle);
        }
    }

    /// <summary>tcp_setpersist: the next probe after ((srtt + 4·rttvar) / 2) · backoff, within persmin..persmax.</summary>
    internal static void SetPersist(Tcpcb tp)
    {
        long t = tp.t_srtt == 0 ? MsToUs(V_tcp_rexmit_initial) : (tp.t_srtt + 4 * tp.t_rttvar) / 2;
        long tt = Math.Clamp(t * Tcpcb.Backoff[tp.t_rxtshift_], MsToUs(V_tcp_persmin), MsToUs(V_tcp_persmax));
        TimerActivate(tp, TcpTimerKind.TT_PERSIST, tt);
        if (tp.t_rxtshift_ < Tcpcb.TCP_MAXRXTSHIFT)
        {
            tp.t_rxtshift_++;
        }
    }

    /// <summary>TCP_REXMTVAL: RFC 6298's SRTT + 4·RTTVAR (rexmit_initial before the first sample), at least rexmit_min.</summary>
    internal static long RexmtVal(Tcpcb tp)
        => tp.t_srtt == 0 ? MsToUs(V_tcp_rexmit_initial) : Math.Max(tp.t_rttmin, tp.t_srtt + 4 * tp.t_rttvar);

    /// <summary>TCPT_RANGESET: value plus net.inet.tcp.rexmit_slop, within [min, max].</summary>
    internal static long RangeSet(long value, long min, long max)
        => Math.Clamp(value + MsToUs(V_tcp_rexmit_slop), min, max);
}
