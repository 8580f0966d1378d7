using Vimage.Net.Inet;

namespace Vimage.Net.Tcp;

/// <summary>How an error from ip_output undoes what tcp_output did for a segment (the "sequence number advance").</summary>
internal enum TcpBackout : byte
{
    /// <summary>Nothing to undo: no data and no FIN, a SYN, or a forced window probe under the persist timer.</summary>
    None,

    /// <summary>snd_nxt goes back to the segment's start (new data or a go-back-N retransmission).</summary>
    SndNxt,

    /// <summary>The SACK hole's rxmit goes back to the segment's start (a sack_rxmit).</summary>
    SackHole,
}

/// <summary>
/// tcp_output's error handling (netinet/tcp_output.c, the "if (error)" block after ip_output). Segments here reach
/// ip_output after the connection lock is released (<see cref="Tcp.FlushOutput"/>), so the errno comes back to the
/// drainer, which takes the lock again and applies what FreeBSD applies inline: the segment is not counted as sent
/// (tcps_sndtotal), its sequence advance is backed out so the next tcp_output sends it again, and for ENOBUFS (a
/// full interface queue) cwnd drops to one segment while the retransmit timer stays armed; the ACKs of what did get
/// out clock the rest; one with nothing in flight tries again a millisecond later (TT_ENOBUFS), so a full ring is
/// no loss to be found by a retransmission timeout.
/// </summary>
public static partial class Tcp
{
    /// <summary>How long a connection with nothing in flight waits before trying a full interface queue again.</summary>
    private const long EnobufsRetryUs = 1000;

    /// <summary>What to undo for a segment built from <paramref name="len"/> bytes (and flags) of <paramref name="tp"/>.</summary>
    private static TcpBackout BackoutFor(Tcpcb tp, TcpFlags flags, int len, bool sackRxmit)
    {
        if ((flags & TcpFlags.TH_SYN) != 0 || (len == 0 && (flags & TcpFlags.TH_FIN) == 0)
            || ((tp.t_flags & TcpCbFlags.TF_FORCEDATA) != 0 && tp.TimerActive(TcpTimerKind.TT_PERSIST)))
        {
            return TcpBackout.None;
        }

        return sackRxmit ? TcpBackout.SackHole : TcpBackout.SndNxt;
    }

    /// <summary>TT_ENOBUFS fired: tcp_output again, without the ACK when a later segment has carried it meanwhile.</summary>
    private static void TimerEnobufs(Tcpcb tp)
    {
        if (TcpSeq.Geq(Volatile.Read(ref tp.t_ackout), tp.rcv_nxt) && TcpSeq.Geq(Volatile.Read(ref tp.t_advout), tp.rcv_adv))
        {
            tp.t_flags &= ~TcpCbFlags.TF_ACKNOW; // no duplicate ACK for the peer to count
        }

        Output(tp);
    }

    /// <summary>ip_output took a segment carrying an ACK: what the peer now knows (only ever moves forward).</summary>
    private static void AckSent(Tcpcb tp, in PendingSegment p)
    {
        if (TcpSeq.Gt(p.Ack, Volatile.Read(ref tp.t_ackout)))
        {
            Volatile.Write(ref tp.t_ackout, p.Ack);
        }

        if (TcpSeq.Gt(p.AdvEdge, Volatile.Read(ref tp.t_advout)))
        {
            Volatile.Write(ref tp.t_advout, p.AdvEdge);
        }
    }

    /// <summary>ip_output refused segment <paramref name="p"/> of <paramref name="tp"/> with <paramref name="error"/>.</summary>
    private static void OutputError(Tcpcb tp, in PendingSegment p, int error)
    {
        lock (tp.Lock)
        {
            if ((tp.t_flags & TcpCbFlags.TF_CLOSED) != 0 || tp.t_state == TcpState.TCPS_CLOSED)
            {
                return;
            }

            if (error != Errno.EPERM && p.Backout != TcpBackout.None && TcpSeq.Geq(p.Seq, tp.snd_una))
            {
                if (p.Backout == TcpBackout.SackHole)
                {
                    tp.snd_holes.Unretransmit(p.Seq);
                }
                else if (TcpSeq.Lt(p.Seq, tp.snd_nxt))
                {
                    tp.snd_nxt = p.Seq; // later segments that did leave are sent again: the receiver drops duplicates
                }

                if (tp.InFastRecovery)
                {
                    tp.sackhint_prr_out = Math.Max(0, tp.sackhint_prr_out - p.Len);
                }
            }

            switch (error)
            {
                case Errno.EACCES:
                case Errno.EPERM:
                    tp.t_softerror = error;
                    break;
                case Errno.ENOBUFS:
                    // TCP_XMIT_TIMER_ASSERT: the retransmit (or persist) timer is running for what is outstanding.
                    if (tp.snd_max != tp.snd_una && !tp.TimerActive(TcpTimerKind.TT_REXMT) && !tp.TimerActive(TcpTimerKind.TT_PERSIST))
                    {
                        TimerActivate(tp, TcpTimerKind.TT_REXMT, tp.t_rxtcur);
                    }

                    tp.snd_cwnd = (uint)tp.t_maxseg;
                    bool ackLost = p.HasAck && (TcpSeq.Gt(p.Ack, Volatile.Read(ref tp.t_ackout)) || TcpSeq.Gt(p.AdvEdge, Volatile.Read(ref tp.t_advout)));
                    if (ackLost)
                    {
                        tp.t_flags |= TcpCbFlags.TF_ACKNOW; // tcp_output clears it only once the segment left
                    }

                    if ((tp.snd_nxt == tp.snd_una && p.Backout != TcpBackout.None) || ackLost)
                    {
                        // Nothing in flight to bring an ACK (or our ACK is what the peer waits for): without this
                        // only the retransmit timeout would resend.
                        TimerActivate(tp, TcpTimerKind.TT_ENOBUFS, EnobufsRetryUs);
                    }
                    break;
                case Errno.EHOSTDOWN:
                case Errno.EHOSTUNREACH:
                case Errno.ENETDOWN:
                case Errno.ENETUNREACH:
                    if (TcpFsm.HaveReceivedSyn(tp.t_state))
                    {
                        tp.t_softerror = error;
                    }

                    break;
            }
        }
    }
}

/// <summary>The scoreboard's part of tcp_output's error backout.</summary>
public sealed partial class SackScoreboard
{
    /// <summary>
    /// tcp_output's "p->rxmit -= len" for a hole retransmission ip_output refused: the hole holding
    /// <paramref name="seq"/> is retransmittable again from there (its bytes leave sack_bytes_rexmit) and the hint
    /// returns to it unless it already points at an earlier hole.
    /// </summary>
    public void Unretransmit(uint seq)
    {
        bool hintBefore = false;
        for (int i = _head; i >= 0; i = _h[i].Next)
        {
            hintBefore |= i == _nexthole;
            ref Node h = ref _h[i];
            if (TcpSeq.Geq(seq, h.End))
            {
                continue;
            }

            uint from = TcpSeq.Max(seq, h.Start);
            if (TcpSeq.Gt(h.Rxmit, from))
            {
                sack_bytes_rexmit -= (int)(TcpSeq.Min(h.Rxmit, h.End) - from);
                h.Rxmit = from;
                if (!hintBefore || _nexthole == i)
                {
                    _nexthole = i;
                }
            }

            return;
        }
    }
}
