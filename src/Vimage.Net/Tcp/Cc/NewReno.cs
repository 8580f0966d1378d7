namespace Vimage.Net.Tcp.Cc;

/// <summary>
/// cc_newreno.c: RFC 5681 slow start and congestion avoidance with RFC 3465's appropriate byte counting, and
/// RFC 6582's NewReno recovery entry and exit. beta = 50%: on loss ssthresh = max(cwnd·beta/MSS, 2)·MSS.
/// </summary>
public sealed class NewReno : CcAlgo
{
    /// <summary>net.inet.tcp.cc.newreno.beta (percent).</summary>
    public const int Beta = 50;

    public static readonly NewReno Instance = new();

    /// <summary>net.inet.tcp.abc_l_var default: slow start may grow by at most 2 MSS per ACK.</summary>
    public const int DefaultAbcLVar = 2;

    private NewReno()
    {
    }

    public override string Name => "newreno";

    /// <summary>newreno_ack_received (with V_tcp_do_rfc3465 on).</summary>
    public override void ack_received(CcVar ccv, CcAckType type)
    {
        ICcConnection tp = ccv.Tp;
        if (type != CcAckType.CC_ACK || tp.InFastRecovery || tp.InCongRecovery || (ccv.flags & CcFlags.CCF_CWND_LIMITED) == 0)
        {
            return;
        }

        uint cw = tp.snd_cwnd;
        uint mss = (uint)tp.t_maxseg;
        uint incr;
        if (cw > tp.snd_ssthresh)
        {
            // Congestion avoidance: one MSS per cwnd of bytes acknowledged (the tcpcb sets CCF_ABC_SENTAWND).
            if ((ccv.flags & CcFlags.CCF_ABC_SENTAWND) == 0)
            {
                return;
            }

            ccv.flags &= ~CcFlags.CCF_ABC_SENTAWND;
            incr = mss;
        }
        else
        {
            // Slow start (RFC 3465 §2.2): grow by the bytes acknowledged, at most L·MSS per ACK, only 1·MSS while
            // retransmitting after an RTO (snd_nxt below snd_max).
            int l = (ccv.flags & CcFlags.CCF_USE_LOCAL_ABC) != 0 ? ccv.labc : DefaultAbcLVar;
            uint limit = tp.snd_nxt == tp.snd_max ? (uint)(ccv.nsegs * l) * mss : mss;
            incr = Math.Min((uint)Math.Max(ccv.bytes_this_ack, 0), limit);
        }

        uint max = CcModules.TCP_MAXWIN << tp.snd_scale;
        tp.snd_cwnd = (uint)Math.Min((ulong)cw + incr, max);
    }

    /// <summary>newreno_cong_signal.</summary>
    public override void cong_signal(CcVar ccv, CcSignal type)
    {
        ICcConnection tp = ccv.Tp;
        uint mss = (uint)tp.t_maxseg;
        switch (type)
        {
            case CcSignal.CC_NDUPACK:
                if (!tp.InFastRecovery)
                {
                    if (!tp.InCongRecovery)
                    {
                        uint reduced = (uint)Math.Max((ulong)tp.snd_cwnd * Beta / (100UL * mss), 2) * mss;
                        tp.snd_ssthresh = reduced;
                        tp.snd_cwnd = reduced;
                    }

                    tp.InFastRecovery = true;
                    tp.InCongRecovery = true;
                    tp.snd_recover = tp.snd_max;
                }

                break;
            case CcSignal.CC_ECN:
                if (!tp.InCongRecovery)
                {
                    uint reduced = (uint)Math.Max((ulong)tp.snd_cwnd * Beta / (100UL * mss), 2) * mss;
                    tp.snd_ssthresh = reduced;
                    tp.snd_cwnd = reduced;
                    tp.InCongRecovery = true;
                    tp.snd_recover = tp.snd_max;
                }

                break;
            case CcSignal.CC_RTO:
                // tcp_input.c cc_cong_signal, CC_RTO: on the first timeout of a series ssthresh is half the flight.
                if (tp.t_rxtshift == 1)
                {
                    tp.snd_ssthresh = Math.Max(2, Math.Min(tp.snd_wnd, tp.snd_cwnd) / 2 / mss) * mss;
                }

                tp.snd_cwnd = mss;
                tp.InFastRecovery = false;
                tp.InCongRecovery = false;
                break;
        }
    }

    /// <summary>newreno_post_recovery: deflate to ssthresh, or to the flight plus one MSS when less is in flight.</summary>
    public override void post_recovery(CcVar ccv)
    {
        ICcConnection tp = ccv.Tp;
        if (!tp.InFastRecovery)
        {
            return;
        }

        uint mss = (uint)tp.t_maxseg;
        uint pipe = tp.Pipe;
        tp.snd_cwnd = pipe < tp.snd_ssthresh ? Math.Max(pipe, mss) + mss : tp.snd_ssthresh;
    }
}
