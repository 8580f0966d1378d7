using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp.Cc;

namespace Vimage.Net.Tcp;

/// <summary>
/// tcp_do_segment (netinet/tcp_input.c) for every state but LISTEN, under the connection's lock: SYN_SENT's
/// handshake and simultaneous open, RFC 5961's RST and SYN checks with challenge ACKs (rate limited by
/// net.inet.tcp.ack_war_timewindow / ack_war_cnt), PAWS (RFC 7323 §5), trimming to the window, ACK processing
/// (duplicate ACKs, NewReno fast retransmit and recovery through the mod_cc hooks, RTT samples with Karn or
/// timestamps, sbdrop of acknowledged data, the FIN states), window updates (snd_wl1/snd_wl2), in-order data to the
/// socket (delayed ACK for every other segment), out-of-order data to the reassembly queue, and the peer's FIN.
/// TIME_WAIT is handled here as tcp_twcheck does.
/// </summary>
public static partial class Tcp
{
    /// <summary>tcprexmtthresh.</summary>
    private const int RexmtThresh = 3;

    /// <summary>TCP_PAWS_IDLE: 24 days, in ms.</summary>
    private const long PawsIdleMs = 24L * 24 * 60 * 60 * 1000;

    private enum Exit
    {
        Drop,
        DropAfterAck,
        DropWithReset,
        Done,
    }

    internal static void DoSegment(Tcpcb tp, Mbuf m, int hlen, in TcpHeader th, in TcpOpt to, int tlen)
    {
        // The SACK blocks stay in the segment (TcpOpt.SackOffset): decoded before the headers go.
        Span<SackBlock> sacks = stackalloc SackBlock[SackReport.TCP_MAX_SACK];
        int nsacks = 0;
        if ((to.Flags & TcpOptFlags.TOF_SACK) != 0)
        {
            int at = hlen + TcpHeader.MinLength + to.SackOffset;
            nsacks = SackScoreboard.ReadBlocks(m.Data.Slice(at, Math.Min(to.NSacks * SackBlock.Length, th.DataOffset - TcpHeader.MinLength - to.SackOffset)), sacks);
        }

        byte iptos = m.Data[1]; // ip_tos, for ECN
        m.Adjust(hlen + th.DataOffset);
        m.Truncate(tlen);
        Mbuf? data = m;
        TcpHeader h = th;
        Exit exit;
        try
        {
            exit = Segment(tp, ref data, in th, in to, sacks[..nsacks], iptos, tlen);
        }
        catch
        {
            data?.Free();
            throw;
        }

        switch (exit)
        {
            case Exit.DropAfterAck:
                if (tp.t_state == TcpState.TCPS_SYN_RECEIVED && (h.Flags & TcpFlags.TH_ACK) != 0
                    && (TcpSeq.Gt(tp.snd_una, h.Ack) || TcpSeq.Gt(h.Ack, tp.snd_max)))
                {
                    goto case Exit.DropWithReset;
                }

                tp.t_flags |= TcpCbFlags.TF_ACKNOW;
                Output(tp);
                data?.Free();
                break;
            case Exit.DropWithReset:
                PcbEnds e = tp.Inp.Ends;
                if (data is null)
                {
                    data = MbufPool.GetFor(0);
                }

                if (data is not null)
                {
                    DropWithReset(data, e.Foreign, e.Local, h, tlen);
                }

                break;
            default:
                data?.Free();
                break;
        }
    }

    private static Exit Segment(Tcpcb tp, ref Mbuf? data, in TcpHeader th, in TcpOpt to, ReadOnlySpan<SackBlock> sacks, byte iptos, int tlen)
    {
        Socket so = tp.So;
        TcpFlags thflags = th.Flags;
        uint seq = th.Seq;
        uint ack = th.Ack;
        long now = NetTimers.NowUs;
        long nowMs = now / 1000;
        uint tiwin = (thflags & TcpFlags.TH_SYN) != 0 ? th.Window : (uint)th.Window << tp.snd_scale;
        bool hasTs = (to.Flags & TcpOptFlags.TOF_TS) != 0;
        bool needoutput = false;
        bool ourfinisacked = false;

        if (tp.t_state == TcpState.TCPS_CLOSED)
        {
            return Exit.DropWithReset;
        }

        tp.t_rcvtime = now;
        if (tp.t_state == TcpState.TCPS_TIME_WAIT)
        {
            return TimeWaitInput(tp, thflags, seq, ack, tlen);
        }

        if (EcnInputSegment(tp, thflags, iptos))
        {
            CcCongSignal(tp, CcSignal.CC_ECN); // tcp_do_segment's "TCP ECN processing"
        }

        // tcp_do_segment: rcv_wnd is what the buffer holds free, never less than what was advertised.
        long win = Math.Max(0, so.ReceiveSpace);
        tp.rcv_wnd = (uint)Math.Max(win, TcpSeq.Gt(tp.rcv_adv, tp.rcv_nxt) ? (long)(tp.rcv_adv - tp.rcv_nxt) : 0);

        if (tp.t_state == TcpState.TCPS_SYN_SENT)
        {
            if ((thflags & TcpFlags.TH_ACK) != 0 && (TcpSeq.Leq(ack, tp.iss) || TcpSeq.Gt(ack, tp.snd_max)))
            {
                return (thflags & TcpFlags.TH_RST) != 0 ? Exit.Drop : Exit.DropWithReset;
            }

            if ((thflags & (TcpFlags.TH_RST | TcpFlags.TH_ACK)) == (TcpFlags.TH_RST | TcpFlags.TH_ACK))
            {
                TcpDrop(tp, Errno.ECONNREFUSED);
                return Exit.Drop;
            }

            if ((thflags & TcpFlags.TH_RST) != 0 || (thflags & TcpFlags.TH_SYN) == 0)
            {
                return Exit.Drop;
            }

            // The peer's SYN: its ISS and the options both ends support.
            tp.irs = seq;
            tp.rcv_nxt = tp.rcv_adv = seq + 1;
            tp.t_ackout = tp.t_advout = seq;
            if ((to.Flags & TcpOptFlags.TOF_SCALE) != 0 && (tp.t_flags & TcpCbFlags.TF_REQ_SCALE) != 0)
            {
                tp.t_flags |= TcpCbFlags.TF_RCVD_SCALE;
                tp.snd_scale_ = to.WScale;
                tp.rcv_scale = tp.request_r_scale;
            }
            else
            {
                tp.t_flags &= ~TcpCbFlags.TF_REQ_SCALE;
            }

            if (hasTs && (tp.t_flags & TcpCbFlags.TF_REQ_TSTMP) != 0)
            {
                tp.t_flags |= TcpCbFlags.TF_RCVD_TSTMP;
                tp.ts_recent = to.TsVal;
                tp.ts_recent_age = nowMs;
            }
            else
            {
                tp.t_flags &= ~TcpCbFlags.TF_REQ_TSTMP;
            }

            if ((to.Flags & TcpOptFlags.TOF_SACKPERM) != 0 && V_tcp_do_sack != 0)
            {
                tp.t_flags |= TcpCbFlags.TF_SACK_PERMIT;
            }

            Mss(tp, (to.Flags & TcpOptFlags.TOF_MSS) != 0 ? to.Mss : 0);
            MssSockbufs(tp);
            if ((thflags & TcpFlags.TH_ACK) != 0)
            {
                EcnInputSynSent(tp, thflags);
                Stat(TcpStat.tcps_connects);
                tp.snd_una++;
                if (TcpSeq.Lt(tp.snd_nxt, tp.snd_una))
                {
                    tp.snd_nxt = tp.snd_una;
                }

                tp.t_flags |= TcpCbFlags.TF_ACKNOW;
                EnterEstablished(tp);
                so.SoIsConnected();
            }
            else
            {
                // Simultaneous open (RFC 9293 §3.5): SYN_RECEIVED, our SYN goes again with the ACK of theirs.
                tp.t_flags |= TcpCbFlags.TF_ACKNOW;
                TimerActivate(tp, TcpTimerKind.TT_REXMT, 0);
                tp.t_state = TcpState.TCPS_SYN_RECEIVED;
                tp.snd_nxt = tp.iss;
            }

            // The SYN takes one sequence number; data beyond the window is trimmed.
            seq++;
            if (tlen > tp.rcv_wnd)
            {
                int todrop = tlen - (int)tp.rcv_wnd;
                data?.Truncate((int)tp.rcv_wnd);
                tlen = (int)tp.rcv_wnd;
                thflags &= ~TcpFlags.TH_FIN;
                Stat(TcpStat.tcps_rcvpackafterwin);
                StatAdd(TcpStat.tcps_rcvbyteafterwin, todrop);
            }

            tp.snd_wl1 = seq - 1;
            tp.rcv_up = seq;
            if ((thflags & TcpFlags.TH_ACK) != 0)
            {
                ProcessAck(tp, so, ack, to, hasTs, nowMs, now, 0, ref needoutput, out _);
            }

            return Step6(tp, so, ref data, thflags, seq, ack, tiwin, tlen, needoutput);
        }

        // RFC 5961 §3: a RST is acted on only at exactly rcv_nxt (last_ack_sent); elsewhere in the window it gets a challenge ACK.
        if ((thflags & TcpFlags.TH_RST) != 0)
        {
            if ((TcpSeq.Geq(seq, tp.last_ack_sent) && TcpSeq.Lt(seq, tp.last_ack_sent + tp.rcv_wnd))
                || (tp.rcv_wnd == 0 && tp.last_ack_sent == seq))
            {
                if (V_tcp_insecure_rst != 0 || tp.last_ack_sent == seq)
                {
                    switch (tp.t_state)
                    {
                        case TcpState.TCPS_SYN_RECEIVED:
                            so.SetError(Errno.ECONNREFUSED);
                            break;
                        case TcpState.TCPS_ESTABLISHED or TcpState.TCPS_FIN_WAIT_1 or TcpState.TCPS_FIN_WAIT_2 or TcpState.TCPS_CLOSE_WAIT:
                            so.SetError(Errno.ECONNRESET);
                            break;
                    }

                    Stat(TcpStat.tcps_drops);
                    TcpClose(tp);
                }
                else
                {
                    Stat(TcpStat.tcps_badrst);
                    SendChallengeAck(tp);
                }
            }

            return Exit.Drop;
        }

        // RFC 5961 §4: a SYN on a synchronized connection is answered with a challenge ACK, never acted on.
        if ((thflags & TcpFlags.TH_SYN) != 0 && tp.t_state != TcpState.TCPS_SYN_RECEIVED)
        {
            Stat(TcpStat.tcps_badsyn);
            if (V_tcp_insecure_syn != 0 && TcpSeq.Geq(seq, tp.last_ack_sent) && TcpSeq.Lt(seq, tp.last_ack_sent + tp.rcv_wnd))
            {
                TcpDrop(tp, Errno.ECONNRESET);
                return Exit.Drop;
            }

            SendChallengeAck(tp);
            return Exit.Drop;
        }

        // PAWS (RFC 7323 §5.3): a timestamp older than ts_recent marks an old duplicate.
        if (hasTs && (tp.t_flags & TcpCbFlags.TF_RCVD_TSTMP) != 0 && tp.ts_recent != 0 && (int)(to.TsVal - tp.ts_recent) < 0)
        {
            if (nowMs - tp.ts_recent_age > PawsIdleMs)
            {
                tp.ts_recent = 0;
            }
            else
            {
                Stat(TcpStat.tcps_rcvduppack);
                StatAdd(TcpStat.tcps_rcvdupbyte, tlen);
                Stat(TcpStat.tcps_pawsdrop);
                return tlen > 0 || (thflags & TcpFlags.TH_FIN) != 0 ? Exit.DropAfterAck : Exit.Drop;
            }
        }

        // Trim what we already have from the front (a SYN we have seen included).
        int front = TcpSeq.Delta(tp.rcv_nxt, seq);
        if (front > 0)
        {
            if ((thflags & TcpFlags.TH_SYN) != 0)
            {
                thflags &= ~TcpFlags.TH_SYN;
                seq++;
                front--;
            }

            if (front > tlen || (front == tlen && (thflags & TcpFlags.TH_FIN) == 0))
            {
                thflags &= ~TcpFlags.TH_FIN;
                tp.t_flags |= TcpCbFlags.TF_ACKNOW;
                front = tlen;
                Stat(TcpStat.tcps_rcvduppack);
                StatAdd(TcpStat.tcps_rcvdupbyte, front);
            }
            else
            {
                Stat(TcpStat.tcps_rcvpartduppack);
                StatAdd(TcpStat.tcps_rcvpartdupbyte, front);
            }

            data?.Adjust(front);
            seq += (uint)front;
            tlen -= front;
        }

        // Data for a socket the user closed: nobody will read it (tcps_rcvafterclose, RST).
        if ((so.State & SocketState.SS_NOFDREF) != 0 && tp.t_state > TcpState.TCPS_CLOSE_WAIT && tlen > 0)
        {
            TcpClose(tp);
            Stat(TcpStat.tcps_rcvafterclose);
            return Exit.DropWithReset;
        }

        // Trim what lies beyond the window from the end; a zero-window probe is acknowledged.
        int back = TcpSeq.Delta(seq + (uint)tlen, tp.rcv_nxt + tp.rcv_wnd);
        if (back > 0)
        {
            Stat(TcpStat.tcps_rcvpackafterwin);
            if (back >= tlen)
            {
                StatAdd(TcpStat.tcps_rcvbyteafterwin, tlen);
                if (tp.rcv_wnd == 0 && seq == tp.rcv_nxt)
                {
                    tp.t_flags |= TcpCbFlags.TF_ACKNOW;
                    Stat(TcpStat.tcps_rcvwinprobe);
                }
                else
                {
                    return Exit.DropAfterAck;
                }
            }
            else
            {
                StatAdd(TcpStat.tcps_rcvbyteafterwin, back);
            }

            back = Math.Min(back, tlen);
            data?.Truncate(tlen - back);
            tlen -= back;
            thflags &= ~(TcpFlags.TH_PUSH | TcpFlags.TH_FIN);
        }

        // ts_recent follows the segment that covers last_ack_sent (RFC 7323 §4.3).
        if (hasTs && TcpSeq.Leq(seq, tp.last_ack_sent)
            && TcpSeq.Leq(tp.last_ack_sent, seq + (uint)tlen + ((thflags & (TcpFlags.TH_SYN | TcpFlags.TH_FIN)) != 0 ? 1u : 0)))
        {
            tp.ts_recent_age = nowMs;
            tp.ts_recent = to.TsVal;
        }

        if ((thflags & TcpFlags.TH_ACK) == 0)
        {
            if (tp.t_state == TcpState.TCPS_SYN_RECEIVED || (tp.t_flags & TcpCbFlags.TF_NEEDSYN) != 0)
            {
                return Step6(tp, so, ref data, thflags, seq, ack, tiwin, tlen, needoutput);
            }

            return (tp.t_flags & TcpCbFlags.TF_ACKNOW) != 0 ? Exit.DropAfterAck : Exit.Drop;
        }

        if (tp.t_state == TcpState.TCPS_SYN_RECEIVED)
        {
            if (TcpSeq.Gt(tp.snd_una, ack) || TcpSeq.Gt(ack, tp.snd_max))
            {
                return Exit.DropWithReset;
            }

            Stat(TcpStat.tcps_connects);
            EnterEstablished(tp);
            tp.snd_wl1 = seq - 1;
            if (!so.SoIsConnected())
            {
                TcpDrop(tp, Errno.ECONNABORTED); // its listener closed meanwhile
                return Exit.Drop;
            }
        }

        // ACK processing, ESTABLISHED through TIME_WAIT.
        if (TcpSeq.Gt(ack, tp.snd_max))
        {
            Stat(TcpStat.tcps_rcvacktoomuch);
            return Exit.DropAfterAck;
        }

        // tcp_is_sack_recovery: SACK negotiated and this ACK carries blocks or holes remain; tcp_sack_doack.
        bool sackRecovery = tp.SackPermitted && ((to.Flags & TcpOptFlags.TOF_SACK) != 0 || tp.snd_holes.Count > 0);
        bool sackChanged = false;
        if (sackRecovery)
        {
            sackChanged = tp.snd_holes.DoAck(tp.snd_una, tp.snd_max, ack, sacks);
        }
        else
        {
            tp.snd_holes.ResetSackedBytes();
        }

        if (TcpSeq.Leq(ack, tp.snd_una))
        {
            if (tlen == 0 && (tiwin == tp.snd_wnd || tp.SackPermitted) && (thflags & TcpFlags.TH_FIN) == 0)
            {
                if (tp.snd_max == tp.snd_una || ack != tp.snd_una)
                {
                    tp.t_dupacks_ = 0;
                }
                else if (sackRecovery && !sackChanged)
                {
                    // An ACK with SACK blocks but nothing new (a duplicated segment, an attack) is no duplicate ACK.
                }
                else
                {
                    Stat(TcpStat.tcps_rcvdupack);
                    if (DupAck(tp, ack, sackRecovery))
                    {
                        return Exit.Drop;
                    }
                }
            }
            else
            {
                tp.t_dupacks_ = 0;
            }

            return Step6(tp, so, ref data, thflags, seq, ack, tiwin, tlen, needoutput);
        }

        // A new ACK.
        uint oldUna = tp.snd_una;
        bool sackPartial = false;
        if (tp.InFastRecovery)
        {
            if (TcpSeq.Lt(ack, tp.snd_recover))
            {
                if (sackRecovery)
                {
                    sackPartial = true; // tcp_sack_partialack, once snd_una has moved (below)
                }
                else
                {
                    NewRenoPartialAck(tp, ack);
                }
            }
            else
            {
                CcPostRecovery(tp);
            }
        }
        else if (tp.InCongRecovery && TcpSeq.Geq(ack, tp.snd_recover))
        {
            tp.InCongRecovery = false;
        }

        tp.t_dupacks_ = 0;
        ProcessAck(tp, so, ack, to, hasTs, nowMs, now, ack - tp.snd_una, ref needoutput, out ourfinisacked);
        if (sackPartial)
        {
            SackPartialAck(tp, ack, oldUna);
        }

        switch (tp.t_state)
        {
            case TcpState.TCPS_FIN_WAIT_1 when ourfinisacked:
                if ((so.State & SocketState.SS_CANTRCVMORE) != 0)
                {
                    so.SoIsDisconnected();
                    TimerActivate(tp, TcpTimerKind.TT_2MSL, MsToUs(V_tcp_finwait2_timeout));
                }

                tp.t_state = TcpState.TCPS_FIN_WAIT_2;
                break;
            case TcpState.TCPS_CLOSING when ourfinisacked:
                TwStart(tp);
                return Exit.Drop;
            case TcpState.TCPS_LAST_ACK when ourfinisacked:
                TcpClose(tp);
                return Exit.Drop;
        }

        return Step6(tp, so, ref data, thflags, seq, ack, tiwin, tlen, needoutput);
    }

    /// <summary>
    /// The handshake completed (SYN_SENT with the SYN-ACK, SYN_RECEIVED with the ACK): ESTABLISHED, or FIN_WAIT_1
    /// when the user already closed (TF_NEEDFIN); congestion control starts and the keepalive timer is armed.
    /// </summary>
    private static void EnterEstablished(Tcpcb tp)
    {
        if ((tp.t_flags & TcpCbFlags.TF_NEEDFIN) != 0)
        {
            tp.t_state = TcpState.TCPS_FIN_WAIT_1;
            tp.t_flags &= ~TcpCbFlags.TF_NEEDFIN;
        }
        else
        {
            tp.t_state = TcpState.TCPS_ESTABLISHED;
        }

        CcConnInit(tp);
        TimerActivate(tp, TcpTimerKind.TT_KEEP, MsToUs(V_tcp_keepidle));
    }

    /// <summary>process_ACK: RTT sample, retransmit timer, congestion control, sbdrop of what was acknowledged.</summary>
    private static void ProcessAck(Tcpcb tp, Socket so, uint ack, in TcpOpt to, bool hasTs, long nowMs, long now, uint acked, ref bool needoutput, out bool ourfinisacked)
    {
        ourfinisacked = false;
        Stat(TcpStat.tcps_rcvackpack);
        StatAdd(TcpStat.tcps_rcvackbyte, acked);
        // An RTT sample: the timed segment (microseconds; Karn: never a retransmitted one), else the echoed timestamp.
        if (tp.t_rtttime != 0 && TcpSeq.Gt(ack, tp.t_rtseq))
        {
            XmitTimer(tp, now - tp.t_rtttime);
        }
        else if (hasTs && to.TsEcr != 0 && (tp.t_flags & TcpCbFlags.TF_RCVD_TSTMP) != 0 && acked > 0)
        {
            long rttMs = nowMs - (uint)(to.TsEcr - tp.ts_offset);
            if (rttMs >= 0 && rttMs < Tcpcb.TCPTV_REXMTMAX / 1000)
            {
                XmitTimer(tp, Math.Max(rttMs * 1000, 1));
            }
        }

        if (ack == tp.snd_max)
        {
            TimerActivate(tp, TcpTimerKind.TT_REXMT, 0);
            needoutput = true;
        }
        else if (!tp.TimerActive(TcpTimerKind.TT_PERSIST))
        {
            TimerActivate(tp, TcpTimerKind.TT_REXMT, tp.t_rxtcur);
        }

        if (acked == 0)
        {
            return;
        }

        if (!tp.InFastRecovery && !tp.InCongRecovery)
        {
            CcAckReceived(tp, acked, CcAckType.CC_ACK);
        }

        int sbavail = so.SendQueued;
        if (acked > (uint)sbavail)
        {
            tp.snd_wnd = tp.snd_wnd >= (uint)sbavail ? tp.snd_wnd - (uint)sbavail : 0;
            so.SbDropSend(sbavail);
            ourfinisacked = (tp.t_flags & TcpCbFlags.TF_SENTFIN) != 0;
        }
        else
        {
            so.SbDropSend((int)acked);
            tp.snd_wnd = tp.snd_wnd >= acked ? tp.snd_wnd - acked : 0;
        }

        tp.snd_una = ack;
        if (tp.SackPermitted && TcpSeq.Gt(tp.snd_una, tp.snd_recover))
        {
            tp.snd_recover = tp.snd_una;
        }

        if (TcpSeq.Lt(tp.snd_nxt, tp.snd_una))
        {
            tp.snd_nxt = tp.snd_una;
        }

        tp.t_rxtshift_ = 0;
    }

    /// <summary>tcp_newreno_partial_ack (RFC 6582 §3.2 step 5): resend the next hole, deflate cwnd by what was acknowledged.</summary>
    private static void NewRenoPartialAck(Tcpcb tp, uint ack)
    {
        uint onxt = tp.snd_nxt;
        uint ocwnd = tp.snd_cwnd;
        TimerActivate(tp, TcpTimerKind.TT_REXMT, 0);
        tp.t_rtttime = 0;
        tp.snd_nxt = ack;
        tp.snd_cwnd = (uint)tp.t_maxseg + (ack - tp.snd_una);
        tp.t_flags |= TcpCbFlags.TF_ACKNOW;
        Output(tp);
        tp.snd_cwnd = ocwnd;
        if (TcpSeq.Gt(onxt, tp.snd_nxt))
        {
            tp.snd_nxt = onxt;
        }

        uint acked = ack - tp.snd_una;
        tp.snd_cwnd = (tp.snd_cwnd > acked ? tp.snd_cwnd - acked : 0) + (uint)tp.t_maxseg;
    }

    /// <summary>step6: window update, data (in order to the socket, else reassembly), the peer's FIN, then output.</summary>
    private static Exit Step6(Tcpcb tp, Socket so, ref Mbuf? data, TcpFlags thflags, uint seq, uint ack, uint tiwin, int tlen, bool needoutput)
    {
        if ((thflags & TcpFlags.TH_ACK) != 0
            && (TcpSeq.Lt(tp.snd_wl1, seq) || (tp.snd_wl1 == seq && (TcpSeq.Lt(tp.snd_wl2, ack) || (tp.snd_wl2 == ack && tiwin > tp.snd_wnd)))))
        {
            if (tlen == 0 && tp.snd_wl2 == ack && tiwin > tp.snd_wnd)
            {
                Stat(TcpStat.tcps_rcvwinupd);
            }

            tp.snd_wnd = tiwin;
            tp.snd_wl1 = seq;
            tp.snd_wl2 = ack;
            if (tp.snd_wnd > tp.max_sndwnd)
            {
                tp.max_sndwnd = tp.snd_wnd;
            }

            needoutput = true;
        }

        // Urgent data is accepted inline and otherwise ignored (no SIOCATMARK / MSG_OOB).
        if ((tlen > 0 || (thflags & TcpFlags.TH_FIN) != 0) && !TcpFsm.HaveReceivedFin(tp.t_state))
        {
            if (seq == tp.rcv_nxt && tp.t_segq.IsEmpty && TcpFsm.HaveEstablished(tp.t_state))
            {
                // DELAY_ACK: at most one segment waits for the delayed-ACK timer; the second is acknowledged at once.
                if (V_tcp_delack_enabled != 0 && !tp.TimerActive(TcpTimerKind.TT_DELACK) && (tp.t_flags & TcpCbFlags.TF_RXWIN0SENT) == 0 && tlen <= tp.t_maxseg)
                {
                    tp.t_flags |= TcpCbFlags.TF_DELACK;
                }
                else
                {
                    tp.t_flags |= TcpCbFlags.TF_ACKNOW;
                }

                tp.rcv_nxt += (uint)tlen;
                if (tlen > 0)
                {
                    AutoRcvBuf(tp, so, tlen);
                    Stat(TcpStat.tcps_rcvpack);
                    StatAdd(TcpStat.tcps_rcvbyte, tlen);
                    so.SbAppendStream(data!);
                    data = null;
                }
            }
            else if (tlen > 0 || (thflags & TcpFlags.TH_FIN) != 0)
            {
                bool fin = (thflags & TcpFlags.TH_FIN) != 0;
                thflags &= ~TcpFlags.TH_FIN;
                if ((tp.t_flags & TcpCbFlags.TF_SACK_PERMIT) != 0 && tlen > 0 && TcpSeq.Gt(seq, tp.rcv_nxt))
                {
                    tp.t_sackreport.Update(tp.rcv_nxt, seq, seq + (uint)tlen); // tcp_update_sack_list
                }

                if (tlen > 0 || fin)
                {
                    Mbuf piece = data ?? MbufPool.GetFor(0)!;
                    data = null;
                    if (piece is not null)
                    {
                        if (seq == tp.rcv_nxt && tlen > 0)
                        {
                            Stat(TcpStat.tcps_rcvpack);
                            StatAdd(TcpStat.tcps_rcvbyte, tlen);
                        }

                        Reass(tp, seq, piece, fin);
                    }
                }

                if (seq == tp.rcv_nxt || TcpSeq.Leq(seq, tp.rcv_nxt))
                {
                    thflags |= Reass(tp, 0, null, false);
                }

                tp.t_flags |= TcpCbFlags.TF_ACKNOW;
            }

            if (tp.t_sackreport.Count > 0)
            {
                // Blocks now at or below rcv_nxt go; none are left once the queue is empty.
                if (tp.t_segq.IsEmpty)
                {
                    tp.t_sackreport.Clean();
                }
                else
                {
                    tp.t_sackreport.Update(tp.rcv_nxt, tp.rcv_nxt, tp.rcv_nxt);
                }
            }
        }
        else
        {
            thflags &= ~TcpFlags.TH_FIN;
        }

        if ((thflags & TcpFlags.TH_FIN) != 0)
        {
            if (!TcpFsm.HaveReceivedFin(tp.t_state))
            {
                so.SoCantRcvMore();
                tp.t_flags |= TcpCbFlags.TF_ACKNOW;
                tp.rcv_nxt++;
            }

            switch (tp.t_state)
            {
                case TcpState.TCPS_SYN_RECEIVED or TcpState.TCPS_ESTABLISHED:
                    tp.t_state = TcpState.TCPS_CLOSE_WAIT;
                    break;
                case TcpState.TCPS_FIN_WAIT_1:
                    tp.t_state = TcpState.TCPS_CLOSING;
                    break;
                case TcpState.TCPS_FIN_WAIT_2:
                    tp.t_flags |= TcpCbFlags.TF_ACKNOW;
                    Output(tp);
                    TwStart(tp);
                    return Exit.Done;
            }
        }

        if (needoutput || (tp.t_flags & TcpCbFlags.TF_ACKNOW) != 0)
        {
            Output(tp);
        }

        if ((tp.t_flags & TcpCbFlags.TF_DELACK) != 0)
        {
            tp.t_flags &= ~TcpCbFlags.TF_DELACK;
            TimerActivate(tp, TcpTimerKind.TT_DELACK, MsToUs(V_tcp_delacktime));
        }

        return Exit.Done;
    }

    /// <summary>
    /// tcp_autorcvbuf (net.inet.tcp.recvbuf_auto): when more than 3/8 of the buffer arrived in order within an RTT
    /// (at least 1 ms), the buffer grows by half, up to net.inet.tcp.recvbuf_max, unless the user set SO_RCVBUF.
    /// </summary>
    private static void AutoRcvBuf(Tcpcb tp, Socket so, int tlen)
    {
        if (V_tcp_do_autorcvbuf == 0)
        {
            return;
        }

        long now = NetTimers.NowUs;
        if (tp.rfbuf_ts == 0)
        {
            tp.rfbuf_ts = now;
        }

        if (tp.t_srtt != 0 && now - tp.rfbuf_ts > Math.Max(tp.t_srtt, 1000))
        {
            (int hiwat, bool auto) = so.ReceiveBufferState;
            if (auto && tp.rfbuf_cnt > hiwat / 2 / 4 * 3 && hiwat < V_tcp_autorcvbuf_max)
            {
                so.SbAutoGrow(receive: true, Math.Min(hiwat + hiwat / 2, V_tcp_autorcvbuf_max));
            }

            tp.rfbuf_ts = now;
            tp.rfbuf_cnt = 0;
        }
        else
        {
            tp.rfbuf_cnt += tlen;
        }
    }

    /// <summary>tcp_twcheck: TIME_WAIT answers a retransmitted FIN (and restarts 2·MSL), ACKs stray data, ignores RSTs (RFC 1337).</summary>
    private static Exit TimeWaitInput(Tcpcb tp, TcpFlags thflags, uint seq, uint ack, int tlen)
    {
        if ((thflags & TcpFlags.TH_RST) != 0 || (thflags & TcpFlags.TH_ACK) == 0)
        {
            return Exit.Drop;
        }

        if ((thflags & TcpFlags.TH_FIN) != 0)
        {
            if (seq + (uint)tlen + 1 == tp.rcv_nxt)
            {
                RespondTp(tp, tp.rcv_nxt, tp.snd_max, TcpFlags.TH_ACK);
                TimerActivate(tp, TcpTimerKind.TT_2MSL, 2 * MsToUs(V_tcp_msl));
            }

            return Exit.Drop;
        }

        if (thflags != TcpFlags.TH_ACK || tlen != 0 || seq != tp.rcv_nxt || ack != tp.snd_max)
        {
            RespondTp(tp, tp.rcv_nxt, tp.snd_max, TcpFlags.TH_ACK);
        }

        return Exit.Drop;
    }

    /// <summary>tcp_send_challenge_ack (RFC 5961 §7): at most ack_war_cnt per ack_war_timewindow per connection.</summary>
    private static void SendChallengeAck(Tcpcb tp)
    {
        long now = NetTimers.NowUs;
        int window = V_tcp_ack_war_time_window, count = V_tcp_ack_war_cnt;
        if (window > 0 && count > 0)
        {
            if (tp.t_challenge_ack_end < now)
            {
                tp.t_challenge_ack_cnt = 0;
                tp.t_challenge_ack_end = now + MsToUs(window);
            }

            if (tp.t_challenge_ack_cnt >= count)
            {
                return;
            }

            tp.t_challenge_ack_cnt++;
        }

        RespondTp(tp, tp.rcv_nxt, tp.snd_nxt, TcpFlags.TH_ACK);
    }
}
