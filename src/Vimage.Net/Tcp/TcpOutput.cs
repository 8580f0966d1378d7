using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp.Cc;

namespace Vimage.Net.Tcp;

/// <summary>
/// tcp_output (netinet/tcp_output.c): decides whether a segment is due (data the windows allow, Nagle unless
/// TCP_NODELAY, sender and receiver SWS avoidance, window updates, SYN/FIN/RST, a forced window probe), builds it in a
/// pooled mbuf (header, options in FreeBSD's order, data copied from so_snd at its offset, checksum) and advances
/// snd_nxt/snd_max with the retransmit timer and RTT timing. Segments are not handed to ip_output under the
/// connection lock: they wait in the connection's own queue, which the outermost TCP entry point drains once it has
/// let go of every lock (<see cref="FlushOutput"/>), one thread at a time per connection. With direct dispatch the
/// peer's input, and its answer back to us, run on this thread during that drain: queueing keeps it from
/// re-entering a connection mid-update, and the single drainer keeps each connection's segments in order (FreeBSD
/// gets that by calling ip_output under the INP lock).
/// </summary>
public static partial class Tcp
{
    [ThreadStatic]
    private static List<TcpOutQueue>? t_dirty;
    [ThreadStatic]
    private static TcpOutQueue? t_loose;
    [ThreadStatic]
    private static bool t_flushing;

    /// <summary>
    /// Queues a segment tcp_respond built for <paramref name="tp"/> (IP payload) for ip_output after the locks are
    /// released, behind the connection's others; an error is only counted by the layer that dropped it.
    /// </summary>
    private static void Enqueue(Tcpcb tp, Mbuf m, InAddr src, InAddr dst, IpOutputOptions options)
        => Enqueue(tp.t_outq, new PendingSegment { M = m, Src = src, Dst = dst, Options = options });

    /// <summary>Queues a segment of <paramref name="tp"/> whose sequence advance ip_output's error undoes (<see cref="OutputError"/>).</summary>
    private static void Enqueue(Tcpcb tp, Mbuf m, InAddr src, InAddr dst, IpOutputOptions options, uint seq, int len, TcpBackout backout, bool hasAck, uint advEdge)
        => Enqueue(tp.t_outq, new PendingSegment
        {
            M = m, Tp = tp, Src = src, Dst = dst, Options = options, Seq = seq, Len = len, Backout = backout, Ack = tp.rcv_nxt, AdvEdge = advEdge, HasAck = hasAck,
        });

    /// <summary>Queues a segment that belongs to no connection (a RST for a closed port, a SYN-ACK from the syncache).</summary>
    private static void Enqueue(Mbuf m, InAddr src, InAddr dst, IpOutputOptions options)
        => Enqueue(t_loose ??= new TcpOutQueue(), new PendingSegment { M = m, Src = src, Dst = dst, Options = options });

    private static void Enqueue(TcpOutQueue q, PendingSegment p)
    {
        p.Vnet = Curvnet.Current!;
        q.Push(in p);
        List<TcpOutQueue> dirty = t_dirty ??= new List<TcpOutQueue>(16);
        if (dirty.Count == 0 || dirty[^1] != q)
        {
            dirty.Add(q);
        }
    }

    /// <summary>
    /// Sends what this thread queued. Each connection's segments leave in order through one thread at a time: a
    /// queue another thread is already draining is left to it (it drains until empty). A flush already running
    /// lower on this thread's stack (we are inside its ip_output) is left to send what nested input queued.
    /// </summary>
    internal static void FlushOutput()
    {
        List<TcpOutQueue>? dirty = t_dirty;
        if (t_flushing || dirty is null || dirty.Count == 0)
        {
            return;
        }

        t_flushing = true;
        try
        {
            // Round robin, DrainBudget segments per connection and pass: with direct dispatch a queue refills while
            // it drains (the peer's ACKs run on this thread and open the window), so draining one queue until empty
            // left the other connections' windows waiting in theirs.
            bool more = true;
            while (more)
            {
                more = false;
                for (int i = 0; i < dirty.Count; i++)
                {
                    more |= Drain(dirty[i]);
                }
            }
        }
        finally
        {
            dirty.Clear();
            t_flushing = false;
        }
    }

    /// <summary>Segments one connection sends per round of <see cref="FlushOutput"/> before the next one's turn.</summary>
    private const int DrainBudget = 8;

    /// <summary>
    /// Sends up to <see cref="DrainBudget"/> of <paramref name="q"/>'s segments, unless another thread is draining
    /// it. Returns true when segments are left for this thread's next round.
    /// </summary>
    private static bool Drain(TcpOutQueue q)
    {
        if (!q.TryBeginDrain())
        {
            return false;
        }

        bool ended = false; // TryPop found the queue empty and ended the drain in the same step
        int budget = DrainBudget;
        try
        {
            while (true)
            {
                if (budget-- == 0)
                {
                    return true;
                }

                if (!q.TryPop(out PendingSegment p))
                {
                    ended = true;
                    return false;
                }

                if (!p.Vnet.TryEnter())
                {
                    p.M.Free();
                    continue;
                }

                try
                {
                    using (Curvnet.Set(p.Vnet))
                    {
                        int error = IpOutput.Send(p.M, p.Src, p.Dst, IpProto.Tcp, p.Options);
                        if (error == 0)
                        {
                            Stat(TcpStat.tcps_sndtotal); // counted once ip_output took it, as tcp_output does
                            if (p.Tp is { } sent && p.HasAck)
                            {
                                AckSent(sent, in p);
                            }
                        }
                        else if (p.Tp is { } tp)
                        {
                            OutputError(tp, in p, error);
                        }
                    }
                }
                finally
                {
                    p.Vnet.Exit();
                }
            }
        }
        finally
        {
            if (!ended)
            {
                q.EndDrain(); // budget spent or an exception: let the next drainer in (another may own it once ended)
            }
        }
    }

    /// <summary>tcp_mssopt: the MSS we offer: the outgoing interface's MTU less 40 (net.inet.tcp.mssdflt without a route).</summary>
    internal static int MssOpt(InAddr foreign, int fib)
    {
        Rtentry? rt = Routes.Lookup(fib, foreign);
        int mss = rt is null ? V_tcp_mssdflt : rt.Interface.Mtu - IpHeader.MinLength - TcpHeader.MinLength;
        return Math.Max(mss, Math.Max(V_tcp_minmss, 64));
    }

    /// <summary>tcp_mss: t_maxseg from the peer's offer (mssdflt without one) and our MTU, at least net.inet.tcp.minmss.</summary>
    internal static void Mss(Tcpcb tp, int offer)
    {
        int ours = MssOpt(tp.Inp.Ends.Foreign, tp.So.Fib);
        int mss = offer == 0 ? V_tcp_mssdflt : offer;
        mss = Math.Min(mss, ours);
        tp.maxseg = Math.Max(mss, Math.Max(V_tcp_minmss, 64));
        MssTso(tp);
    }

    /// <summary>tcp_mss's socket-buffer part, once the peer's MSS is known: so_snd and so_rcv rounded up to whole segments.</summary>
    internal static void MssSockbufs(Tcpcb tp)
    {
        tp.So.SbRoundToMss(receive: false, tp.t_maxseg);
        tp.So.SbRoundToMss(receive: true, tp.t_maxseg);
    }

    private static IpOutputOptions OutOptions(Tcpcb tp)
        => new(Ttl: tp.Inp.Ttl, Tos: tp.Inp.Tos, DontFragment: V_path_mtu_discovery != 0) { Fib = tp.So.Fib };

    /// <summary>tcp_ts_getticks + ts_offset: the timestamp clock (milliseconds), offset per connection (RFC 7323 §5.4).</summary>
    internal static uint TsNow(Tcpcb tp) => (uint)(NetTimers.NowUs / 1000) + tp.ts_offset;

    /// <summary>The receive window to advertise now (sbspace with receiver SWS avoidance), never shrinking what was offered.</summary>
    private static uint RecvWindow(Tcpcb tp, Socket so)
    {
        long recwin = so.ReceiveSpace;
        int hiwat = so.GetOption(SoOption.SO_RCVBUF);
        if (recwin < hiwat / 4 && recwin < tp.t_maxseg)
        {
            recwin = 0;
        }

        if (TcpSeq.Gt(tp.rcv_adv, tp.rcv_nxt) && recwin < (long)(tp.rcv_adv - tp.rcv_nxt))
        {
            recwin = tp.rcv_adv - tp.rcv_nxt;
        }

        return (uint)Math.Min(recwin, (long)CcModules.TCP_MAXWIN << tp.rcv_scale);
    }

    /// <summary>tcp_output. Called with the connection lock held; returns 0 or an errno (ENOBUFS).</summary>
    internal static int Output(Tcpcb tp)
    {
        if ((tp.t_flags & TcpCbFlags.TF_CLOSED) != 0 && tp.t_state != TcpState.TCPS_CLOSED)
        {
            return 0;
        }

        Socket so = tp.So;
        long now = NetTimers.NowUs;
        bool idle = tp.snd_max == tp.snd_una;
        if (idle && tp.t_state >= TcpState.TCPS_ESTABLISHED && now - tp.t_rcvtime >= tp.t_rxtcur)
        {
            CcAfterIdle(tp);
        }

        while (true)
        {
            bool sendalot = false;
            TcpState state = tp.t_state;
            bool synState = state is TcpState.TCPS_SYN_SENT or TcpState.TCPS_SYN_RECEIVED;
            TcpFlags flags = TcpFsm.OutFlags(state);
            if (synState && tp.snd_nxt != tp.iss)
            {
                flags &= ~TcpFlags.TH_SYN; // our SYN is out: resent only when the retransmit timer pulls snd_nxt back
            }

            int sbavail = so.SendQueued;
            int off = synState ? 0 : (int)(tp.snd_nxt - tp.snd_una);
            long sendwin = Math.Min(tp.snd_wnd, tp.snd_cwnd);
            if (V_tcp_do_autosndbuf != 0 && !synState)
            {
                // tcp_autosndbuf: the peer's window could take more than the buffer holds and the buffer is nearly
                // full of data the windows allow: grow by sendbuf_inc, up to sendbuf_max.
                (int hiwat, int used, bool auto) = so.SendBufferState;
                if (auto && tp.snd_wnd / 4 * 5 >= hiwat && used >= hiwat / 8 * 7 && used < V_tcp_autosndbuf_max
                    && sendwin >= used - (tp.snd_nxt - tp.snd_una))
                {
                    so.SbAutoGrow(receive: false, Math.Min(hiwat + V_tcp_autosndbuf_inc, V_tcp_autosndbuf_max));
                }
            }

            if ((tp.t_flags & TcpCbFlags.TF_FORCEDATA) != 0)
            {
                if (sendwin == 0)
                {
                    if (off < sbavail)
                    {
                        flags &= ~TcpFlags.TH_FIN;
                    }

                    sendwin = 1;
                }
                else
                {
                    TimerActivate(tp, TcpTimerKind.TT_PERSIST, 0);
                    tp.t_rxtshift_ = 0;
                }
            }

            // SACK recovery (tcp_output's sack_rxmit): holes first, then new data, while the pipe is below cwnd.
            bool sackRecovery = !synState && tp.SackPermitted && tp.InFastRecovery;
            long len = 0;
            int sackHole = sackRecovery ? SackRexmitLength(tp, sbavail, sendwin, ref off, out len) : -1;
            if (sackHole >= 0)
            {
                sendalot = true;
            }
            else if (sackRecovery && tp.snd_nxt == tp.snd_max)
            {
                long cwin = Math.Max(sendwin - tp.snd_holes.Pipe(tp.snd_una, tp.snd_max), 0);
                len = Math.Max(0, Math.Min(sbavail, (long)tp.snd_wnd) - off);
                len = cwin >= Math.Min(len, tp.t_maxseg) ? Math.Min(len, cwin) : 0; // RFC 6675 §5 (C): whole segments

            }
            else
            {
                len = synState || state == TcpState.TCPS_CLOSED ? 0 : Math.Min(sbavail, sendwin) - off;
            }

            if (len < 0)
            {
                len = 0;
                if (sendwin == 0)
                {
                    // The window closed on data already sent: pull back and probe (tcp_output's "len < 0" case).
                    TimerActivate(tp, TcpTimerKind.TT_REXMT, 0);
                    tp.t_rxtshift_ = 0;
                    tp.snd_nxt = tp.snd_una;
                    if (!tp.TimerActive(TcpTimerKind.TT_PERSIST))
                    {
                        SetPersist(tp);
                    }
                }
            }

            int maxseg = tp.t_maxseg;
            bool tso = TsoAllowed(tp, len, sackHole, flags);
            if (len > maxseg && !tso)
            {
                len = maxseg;
                sendalot = true;
            }

            if (sackHole >= 0 || TcpSeq.Lt(tp.snd_nxt + (uint)len, tp.snd_una + (uint)sbavail))
            {
                flags &= ~TcpFlags.TH_FIN;
            }

            uint recwin = state == TcpState.TCPS_CLOSED ? 0 : RecvWindow(tp, so);
            bool send = false;
            if (len > 0)
            {
                if (len >= maxseg
                    || ((idle || (tp.t_flags & TcpCbFlags.TF_NODELAY) != 0) && (tp.t_flags & TcpCbFlags.TF_NOPUSH) == 0 && len + off >= sbavail)
                    || (tp.t_flags & TcpCbFlags.TF_FORCEDATA) != 0
                    || (tp.max_sndwnd > 0 && len >= tp.max_sndwnd / 2)
                    || TcpSeq.Lt(tp.snd_nxt, tp.snd_max) || sackHole >= 0)
                {
                    send = true;
                }
            }

            if (!send && recwin > 0 && !synState && state != TcpState.TCPS_CLOSED)
            {
                // Window update: worth a segment when it opens by two segments (or half the buffer).
                long oldwin = TcpSeq.Gt(tp.rcv_adv, tp.rcv_nxt) ? tp.rcv_adv - tp.rcv_nxt : 0;
                long adv = recwin - oldwin;
                int hiwat = so.GetOption(SoOption.SO_RCVBUF);
                if ((oldwin >> tp.rcv_scale) != ((adv + oldwin) >> tp.rcv_scale) && (adv >= 2L * maxseg || 2 * adv >= hiwat))
                {
                    send = true;
                }
            }

            if (!send)
            {
                if ((tp.t_flags & TcpCbFlags.TF_ACKNOW) != 0 || (flags & (TcpFlags.TH_SYN | TcpFlags.TH_RST)) != 0)
                {
                    send = true;
                }
                else if ((flags & TcpFlags.TH_FIN) != 0 && ((tp.t_flags & TcpCbFlags.TF_SENTFIN) == 0 || tp.snd_nxt == tp.snd_una))
                {
                    send = true;
                }
            }

            if (!send)
            {
                // Nothing to send: data waits for a window, so make sure the persist timer is probing it.
                if (sbavail > 0 && !synState && !tp.TimerActive(TcpTimerKind.TT_REXMT) && !tp.TimerActive(TcpTimerKind.TT_PERSIST))
                {
                    tp.t_rxtshift_ = 0;
                    SetPersist(tp);
                }

                return 0;
            }

            int error = SendSegment(tp, so, flags, off, (int)len, recwin, sbavail, sackHole, tso, ref sendalot, now);
            if (error != 0 || !sendalot)
            {
                return error;
            }
        }
    }

    /// <summary>
    /// tcp_output's SACK part: the next hole tcp_sack_output gives (its index, or -1), with what may go from its
    /// rxmit: never beyond snd_recover (that waits for the next episode), at most cwnd − pipe and what so_snd holds.
    /// </summary>
    private static int SackRexmitLength(Tcpcb tp, int sbavail, long sendwin, ref int off, out long len)
    {
        len = 0;
        SackScoreboard sb = tp.snd_holes;
        int hole = sb.Output(out _);
        if (hole < 0)
        {
            return -1;
        }

        SackHole p = sb[hole];
        if (TcpSeq.Gt(p.End, tp.snd_recover) && TcpSeq.Geq(p.Rxmit, tp.snd_recover))
        {
            return -1;
        }

        long cwin = Math.Max(sendwin - sb.Pipe(tp.snd_una, tp.snd_max), 0);
        int hoff = (int)(p.Rxmit - tp.snd_una);
        long n = Math.Min(TcpSeq.Delta(TcpSeq.Min(p.End, tp.snd_recover), p.Rxmit), sbavail - hoff);
        if (hoff < 0 || n <= 0 || cwin < Math.Min(n, tp.t_maxseg))
        {
            return -1; // RFC 6675 §5 (C): a segment goes once cwnd − pipe has room for it
        }

        n = Math.Min(n, cwin);
        if (n <= 0)
        {
            return -1;
        }

        off = hoff;
        len = n;
        return hole;
    }

    private static int SendSegment(Tcpcb tp, Socket so, TcpFlags flags, int off, int len, uint recwin, int sbavail, int sackHole, bool tso, ref bool sendalot, long now)
    {
        var to = default(TcpOpt);
        if ((flags & TcpFlags.TH_SYN) != 0)
        {
            to.Flags |= TcpOptFlags.TOF_MSS;
            to.Mss = (ushort)Math.Min(MssOpt(tp.Inp.Ends.Foreign, tp.So.Fib), 65535);
            if ((tp.t_flags & TcpCbFlags.TF_REQ_SCALE) != 0 && (tp.t_state == TcpState.TCPS_SYN_SENT || (tp.t_flags & TcpCbFlags.TF_RCVD_SCALE) != 0))
            {
                to.Flags |= TcpOptFlags.TOF_SCALE;
                to.WScale = tp.request_r_scale;
            }

            if ((tp.t_flags & TcpCbFlags.TF_SACK_PERMIT) != 0 || (tp.t_state == TcpState.TCPS_SYN_SENT && V_tcp_do_sack != 0))
            {
                to.Flags |= TcpOptFlags.TOF_SACKPERM;
            }
        }

        if ((flags & TcpFlags.TH_RST) == 0 && (tp.t_flags & TcpCbFlags.TF_REQ_TSTMP) != 0
            && ((tp.t_flags & TcpCbFlags.TF_RCVD_TSTMP) != 0 || (flags & TcpFlags.TH_SYN) != 0))
        {
            to.Flags |= TcpOptFlags.TOF_TS;
            to.TsVal = TsNow(tp);
            to.TsEcr = tp.ts_recent;
        }

        Span<byte> opt = stackalloc byte[TcpHeader.MaxOptionLength];
        int optlen = TcpOptions.Write(in to, opt);
        if ((flags & (TcpFlags.TH_SYN | TcpFlags.TH_RST)) == 0 && (tp.t_flags & TcpCbFlags.TF_SACK_PERMIT) != 0 && tp.t_sackreport.Count > 0)
        {
            optlen += WriteSackBlocks(tp.t_sackreport, opt[optlen..], (to.Flags & TcpOptFlags.TOF_TS) != 0);
        }

        if (tso && !TsoLength(tp, optlen, off, sbavail, ref len, ref flags, ref sendalot))
        {
            tso = false;
        }

        if (!tso && len + optlen > tp.maxseg)
        {
            len = Math.Max(0, tp.maxseg - optlen);
            sendalot = true;
            flags &= ~TcpFlags.TH_FIN;
        }

        int hdrlen = TcpHeader.MinLength + optlen;
        Mbuf? m = MbufPool.GetFor(hdrlen + len);
        if (m is null)
        {
            // tcp_output's ENOBUFS: keep the state; the retransmit timer tries again.
            if (!tp.TimerActive(TcpTimerKind.TT_REXMT) && !tp.TimerActive(TcpTimerKind.TT_PERSIST) && tp.snd_max != tp.snd_una)
            {
                TimerActivate(tp, TcpTimerKind.TT_REXMT, tp.t_rxtcur);
            }

            sendalot = false;
            return Errno.ENOBUFS;
        }

        Span<byte> seg = m.Append(hdrlen + len);
        if (len > 0)
        {
            so.SbCopySend(off, seg.Slice(hdrlen, len));
            if ((TcpSeq.Lt(tp.snd_nxt, tp.snd_max) || sackHole >= 0) && (tp.t_flags & TcpCbFlags.TF_FORCEDATA) == 0)
            {
                Stat(TcpStat.tcps_sndrexmitpack);
                StatAdd(TcpStat.tcps_sndrexmitbyte, len);
            }
            else if ((tp.t_flags & TcpCbFlags.TF_FORCEDATA) != 0 && len == 1 && tp.snd_wnd == 0)
            {
                Stat(TcpStat.tcps_sndprobe);
            }
            else
            {
                Stat(TcpStat.tcps_sndpack);
                StatAdd(TcpStat.tcps_sndbyte, len);
            }

            if (off + len == sbavail)
            {
                flags |= TcpFlags.TH_PUSH;
            }
        }
        else if ((tp.t_flags & TcpCbFlags.TF_ACKNOW) != 0 && (flags & (TcpFlags.TH_SYN | TcpFlags.TH_FIN | TcpFlags.TH_RST)) == 0)
        {
            Stat(TcpStat.tcps_sndacks);
        }
        else if ((flags & (TcpFlags.TH_SYN | TcpFlags.TH_FIN | TcpFlags.TH_RST)) != 0)
        {
            Stat(TcpStat.tcps_sndctrl);
        }
        else
        {
            Stat(TcpStat.tcps_sndwinup);
        }

        if ((flags & TcpFlags.TH_FIN) != 0 && (tp.t_flags & TcpCbFlags.TF_SENTFIN) != 0 && tp.snd_nxt == tp.snd_max)
        {
            tp.snd_nxt--; // retransmitting the FIN
        }

        byte ipecn = 0;
        if (tp.t_state == TcpState.TCPS_SYN_SENT && (flags & TcpFlags.TH_SYN) != 0)
        {
            flags |= EcnOutputSynSent(tp);
        }
        else if (TcpFsm.HaveEstablished(tp.t_state) && (tp.t_flags2 & TcpCbFlags2.TF2_ECN_PERMIT) != 0)
        {
            ipecn = EcnOutputEstablished(tp, ref flags, len, sackHole >= 0);
        }

        uint seq = sackHole >= 0 ? tp.snd_una + (uint)off
            : len > 0 || (flags & (TcpFlags.TH_SYN | TcpFlags.TH_FIN)) != 0 || tp.TimerActive(TcpTimerKind.TT_PERSIST) ? tp.snd_nxt : tp.snd_max;
        TcpBackout backout = BackoutFor(tp, flags, len, sackHole >= 0);
        uint ack = (flags & TcpFlags.TH_ACK) != 0 ? tp.rcv_nxt : 0;
        uint win = (flags & TcpFlags.TH_SYN) != 0 ? Math.Min(recwin, 65535u) : recwin >> tp.rcv_scale;
        if (win > 65535)
        {
            win = 65535;
        }

        if (win == 0)
        {
            tp.t_flags |= TcpCbFlags.TF_RXWIN0SENT;
        }
        else
        {
            tp.t_flags &= ~TcpCbFlags.TF_RXWIN0SENT;
        }

        PcbEnds e = tp.Inp.Ends;
        new TcpHeader(e.LocalPort, e.ForeignPort, seq, ack, hdrlen, flags, (ushort)win, 0).Write(seg);
        opt[..optlen].CopyTo(seg[TcpHeader.MinLength..]);
        CsumRequest(m, seg, in e, tso, tp.maxseg - optlen);

        if (sackHole >= 0)
        {
            // A hole's retransmission: its rxmit moves, snd_nxt stays at snd_max; no RTT sample (Karn).
            tp.snd_holes.Retransmitted(sackHole, len);
            if (!tp.TimerActive(TcpTimerKind.TT_REXMT))
            {
                TimerActivate(tp, TcpTimerKind.TT_REXMT, tp.t_rxtcur);
            }
        }
        else if ((tp.t_flags & TcpCbFlags.TF_FORCEDATA) == 0 || !tp.TimerActive(TcpTimerKind.TT_PERSIST))
        {
            uint startseq = tp.snd_nxt;
            if ((flags & TcpFlags.TH_SYN) != 0)
            {
                tp.snd_nxt++;
            }

            if ((flags & TcpFlags.TH_FIN) != 0)
            {
                tp.snd_nxt++;
                tp.t_flags |= TcpCbFlags.TF_SENTFIN;
            }

            tp.snd_nxt += (uint)len;
            if (TcpSeq.Gt(tp.snd_nxt, tp.snd_max))
            {
                tp.snd_max = tp.snd_nxt;
                if (tp.t_rtttime == 0)
                {
                    tp.t_rtttime = now;
                    tp.t_rtseq = startseq;
                    Stat(TcpStat.tcps_segstimed);
                }
            }

            if (!tp.TimerActive(TcpTimerKind.TT_REXMT) && tp.snd_nxt != tp.snd_una)
            {
                if (tp.TimerActive(TcpTimerKind.TT_PERSIST))
                {
                    TimerActivate(tp, TcpTimerKind.TT_PERSIST, 0);
                    tp.t_rxtshift_ = 0;
                }

                TimerActivate(tp, TcpTimerKind.TT_REXMT, tp.t_rxtcur);
            }
        }
        else
        {
            uint xlen = (uint)len + ((flags & TcpFlags.TH_SYN) != 0 ? 1u : 0) + ((flags & TcpFlags.TH_FIN) != 0 ? 1u : 0);
            if ((flags & TcpFlags.TH_FIN) != 0)
            {
                tp.t_flags |= TcpCbFlags.TF_SENTFIN;
            }

            if (TcpSeq.Gt(tp.snd_nxt + xlen, tp.snd_max))
            {
                tp.snd_max = tp.snd_nxt + xlen;
            }
        }

        uint advertised = (flags & TcpFlags.TH_SYN) != 0 ? win : win << tp.rcv_scale;
        if (advertised > 0 && TcpSeq.Gt(tp.rcv_nxt + advertised, tp.rcv_adv))
        {
            tp.rcv_adv = tp.rcv_nxt + advertised;
        }

        tp.last_ack_sent = tp.rcv_nxt;
        tp.t_flags &= ~(TcpCbFlags.TF_ACKNOW | TcpCbFlags.TF_DELACK);
        if (tp.TimerActive(TcpTimerKind.TT_DELACK))
        {
            TimerActivate(tp, TcpTimerKind.TT_DELACK, 0);
        }

        IpOutputOptions ipo = OutOptions(tp);
        Enqueue(tp, m, e.Local, e.Foreign, ipecn == 0 ? ipo : ipo with { Tos = (byte)((ipo.Tos & ~IPTOS_ECN_MASK) | ipecn) }, seq, len, backout,
            (flags & TcpFlags.TH_ACK) != 0, tp.rcv_nxt + advertised);
        return 0;
    }

    /// <summary>tcp_addoptions' SACK part: NOP, NOP, then the blocks (most recent first), 4 at most (3 beside timestamps).</summary>
    private static int WriteSackBlocks(SackReport report, Span<byte> p, bool timestamps)
    {
        Span<SackBlock> blocks = stackalloc SackBlock[SackReport.TCP_MAX_SACK];
        int n = report.CopyForOption(blocks, timestamps);
        n = Math.Min(n, (p.Length - 4) / 8);
        if (n <= 0)
        {
            return 0;
        }

        p[0] = TcpOptions.TCPOPT_NOP;
        p[1] = TcpOptions.TCPOPT_NOP;
        p[2] = TcpOptions.TCPOPT_SACK;
        p[3] = (byte)(2 + 8 * n);
        for (int i = 0; i < n; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(p[(4 + 8 * i)..], blocks[i].Start);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(p[(8 + 8 * i)..], blocks[i].End);
        }

        Stat(TcpStat.tcps_sack_send_blocks);
        return 4 + 8 * n;
    }

    /// <summary>
    /// tcp_respond with a tcpcb: a bare segment (keepalive probe, challenge ACK, RST) with the connection's timestamp
    /// option when negotiated and its current window.
    /// </summary>
    internal static void RespondTp(Tcpcb tp, uint ack, uint seq, TcpFlags flags)
    {
        var to = default(TcpOpt);
        if ((flags & TcpFlags.TH_RST) == 0 && (tp.t_flags & (TcpCbFlags.TF_REQ_TSTMP | TcpCbFlags.TF_RCVD_TSTMP)) == (TcpCbFlags.TF_REQ_TSTMP | TcpCbFlags.TF_RCVD_TSTMP))
        {
            to.Flags = TcpOptFlags.TOF_TS;
            to.TsVal = TsNow(tp);
            to.TsEcr = tp.ts_recent;
        }

        Span<byte> opt = stackalloc byte[TcpHeader.MaxOptionLength];
        int optlen = TcpOptions.Write(in to, opt);
        Mbuf? m = MbufPool.GetFor(TcpHeader.MinLength + optlen);
        if (m is null)
        {
            return;
        }

        uint win = (flags & TcpFlags.TH_RST) != 0 ? 0 : Math.Min(RecvWindow(tp, tp.So) >> tp.rcv_scale, 65535u);
        PcbEnds e = tp.Inp.Ends;
        Span<byte> seg = m.Append(TcpHeader.MinLength + optlen);
        new TcpHeader(e.LocalPort, e.ForeignPort, seq, ack, TcpHeader.MinLength + optlen, flags, (ushort)win, 0).Write(seg);
        opt[..optlen].CopyTo(seg[TcpHeader.MinLength..]);
        TcpHeader.SetChecksum(seg, e.Local, e.Foreign);
        Stat(TcpStat.tcps_sndctrl);
        Enqueue(tp, m, e.Local, e.Foreign, OutOptions(tp));
    }
}

/// <summary>A segment waiting for ip_output.</summary>
internal struct PendingSegment
{
    public Mbuf M;
    public Vnet Vnet;

    /// <summary>The connection it belongs to (null: a RST or SYN-ACK of no connection).</summary>
    public Tcpcb? Tp;

    /// <summary>Its first sequence number, data length and what an ip_output error undoes.</summary>
    public uint Seq;
    public int Len;
    public TcpBackout Backout;

    /// <summary>The ACK number and window right edge it carries (when it has TH_ACK).</summary>
    public uint Ack;
    public uint AdvEdge;
    public bool HasAck;
    public InAddr Src;
    public InAddr Dst;
    public IpOutputOptions Options;
}

/// <summary>A connection's queue of built segments (FIFO), drained by one thread at a time.</summary>
internal sealed class TcpOutQueue
{
    private readonly Lock _gate = new();
    private PendingSegment[] _q = [];
    private int _head;
    private int _count;
    private bool _draining;

    /// <summary>Segments waiting for ip_output (a snapshot, for diagnostics).</summary>
    public int Count => Volatile.Read(ref _count);

    public void Push(in PendingSegment p)
    {
        lock (_gate)
        {
            if (_count == _q.Length)
            {
                var bigger = new PendingSegment[Math.Max(4, _q.Length * 2)];
                for (int i = 0; i < _count; i++)
                {
                    bigger[i] = _q[(_head + i) % _q.Length];
                }

                _q = bigger;
                _head = 0;
            }

            _q[(_head + _count) % _q.Length] = p;
            _count++;
        }
    }

    public bool TryBeginDrain()
    {
        lock (_gate)
        {
            if (_draining || _count == 0)
            {
                return false;
            }

            _draining = true;
            return true;
        }
    }

    /// <summary>The next segment; when there is none the drain ends in the same step, so nothing pushed meanwhile is stranded.</summary>
    public bool TryPop(out PendingSegment p)
    {
        lock (_gate)
        {
            if (_count == 0)
            {
                p = default;
                _draining = false;
                return false;
            }

            p = _q[_head];
            _q[_head] = default;
            _head = (_head + 1) % _q.Length;
            _count--;
            return true;
        }
    }

    public void EndDrain()
    {
        lock (_gate)
        {
            _draining = false;
        }
    }

    /// <summary>Frees what is still queued (the vnet is going).</summary>
    public void Purge()
    {
        lock (_gate)
        {
            if (_draining)
            {
                return; // its drainer frees or sends the rest
            }
        }

        while (TryPop(out PendingSegment p))
        {
            p.M.Free();
        }
    }
}
