using Vimage.Net.Tcp.Cc;

namespace Vimage.Net.Tcp;

/// <summary>
/// tcp_do_segment's duplicate-ACK handling (netinet/tcp_input.c): limited transmit (RFC 3042), fast retransmit, and
/// recovery either SACK-based (RFC 6675 as FreeBSD does it: the scoreboard picks the holes, tcp_output sends while the
/// pipe is below cwnd, tcp_sack_partialack) or NewReno (RFC 6582) when SACK was not negotiated
/// (net.inet.tcp.sack.enable=0 on either end).
/// </summary>
public static partial class Tcp
{
    /// <summary>A duplicate ACK of snd_una. Returns true when it was acted on (the segment is dropped after).</summary>
    private static bool DupAck(Tcpcb tp, uint ack, bool sackRecovery)
    {
        int maxseg = tp.t_maxseg;
        SackScoreboard sb = tp.snd_holes;
        if (++tp.t_dupacks_ > RexmtThresh || tp.InFastRecovery)
        {
            if (sackRecovery && tp.InFastRecovery)
            {
                // Data left the network: let out what was delivered (1–2 segments), keeping the pipe under ssthresh.
                uint grow = (uint)Math.Max(maxseg, Math.Min(2 * maxseg, sb.delivered_data));
                if (tp.snd_nxt != tp.snd_max)
                {
                    tp.snd_cwnd += grow;
                }
                else if (sb.Pipe(tp.snd_una, tp.snd_max) < tp.snd_ssthresh)
                {
                    tp.snd_cwnd = Math.Min(tp.snd_cwnd + grow, tp.snd_ssthresh);
                }
            }
            else
            {
                // Each further duplicate is a segment that left the network: inflate (RFC 6582 §3.2 step 3).
                tp.snd_cwnd += (uint)maxseg;
            }

            Output(tp);
            return true;
        }

        if (tp.t_dupacks_ == RexmtThresh
            || (sackRecovery && SackScoreboard.V_tcp_do_newsack != 0 && sb.sacked_bytes > (RexmtThresh - 1) * maxseg))
        {
            // enter_recovery (RFC 6675 also enters once more than (DupThresh − 1)·SMSS is SACKed).
            tp.t_dupacks_ = RexmtThresh;
            if (sackRecovery ? tp.InFastRecovery : TcpSeq.Leq(ack, tp.snd_recover) && tp.snd_recover != tp.iss)
            {
                tp.t_dupacks_ = 0; // RFC 6582 §3.2 step 2: not a new loss episode
                return true;
            }

            // Fast retransmit (RFC 5681 §3.2): the CC module sets ssthresh, then the hole is resent.
            CcCongSignal(tp, CcSignal.CC_NDUPACK);
            TimerActivate(tp, TcpTimerKind.TT_REXMT, 0);
            tp.t_rtttime = 0;
            if (sackRecovery)
            {
                // The first hole goes now (cwnd one segment above the pipe), then the pipe follows ssthresh.
                // snd_nxt stays where it is (tcp_input.c: sack_newdata = snd_nxt): bytes an ENOBUFS backed out lie
                // between it and snd_max, above the highest SACK block, so no hole covers them; tcp_output sends them
                // once the holes are done. Moving snd_nxt to snd_max skipped them until a retransmission timeout.
                Stat(TcpStat.tcps_sack_recovery_episode);
                tp.snd_cwnd = sb.Pipe(tp.snd_una, tp.snd_max) + (uint)maxseg;
                Output(tp);
                tp.snd_cwnd = tp.snd_ssthresh;
                return true;
            }

            uint onxt = tp.snd_nxt;
            tp.snd_nxt = ack;
            tp.snd_cwnd = (uint)maxseg;
            Output(tp);
            tp.snd_cwnd = tp.snd_ssthresh + (uint)(maxseg * tp.t_dupacks_);
            if (TcpSeq.Gt(onxt, tp.snd_nxt))
            {
                tp.snd_nxt = onxt;
            }

            return true;
        }

        // Limited transmit (RFC 3042): a new segment per duplicate ACK, cwnd unchanged after.
        uint oldcwnd = tp.snd_cwnd;
        tp.snd_cwnd = (tp.snd_nxt - tp.snd_una) + (uint)(tp.t_dupacks_ * maxseg);
        Output(tp);
        tp.snd_cwnd = oldcwnd;
        return true;
    }

    /// <summary>
    /// tcp_sack_partialack with net.inet.tcp.sack.revised (RFC 6675): a partial ACK in SACK recovery lets out one
    /// segment, two when it acknowledged two or more: cwnd = max(pipe, maxseg) + segments·maxseg, at most ssthresh; the
    /// scoreboard may add RFC 6675's rescue hole. Called once snd_una has moved to <paramref name="ack"/>, so the pipe
    /// tcp_output computes is the one cwnd was set from.
    /// </summary>
    private static void SackPartialAck(Tcpcb tp, uint ack, uint oldUna)
    {
        int maxseg = tp.t_maxseg;
        SackScoreboard sb = tp.snd_holes;
        TimerActivate(tp, TcpTimerKind.TT_REXMT, 0);
        tp.t_rtttime = 0;
        uint segs = (ack - oldUna) / (uint)Math.Max(maxseg, 1) >= 2 ? 2u : 1u;
        sb.PartialAck(ack, oldUna, tp.snd_nxt, tp.snd_recover, tp.snd_max, tp.snd_ssthresh, maxseg, (tp.t_flags & TcpCbFlags.TF_SENTFIN) != 0);
        uint pipe = sb.Pipe(tp.snd_una, tp.snd_max);
        tp.snd_cwnd = Math.Min(Math.Max(pipe, (uint)maxseg) + (segs * (uint)maxseg), tp.snd_ssthresh);
        tp.t_flags |= TcpCbFlags.TF_ACKNOW;
        Output(tp);
    }
}
