namespace Vimage.Net.Tcp.Cc;

/// <summary>
/// cc_newreno.c (with cc.c's shared newreno_cc_* helpers, which CUBIC reuses): RFC 5681 slow start and congestion
/// avoidance with RFC 3465's appropriate byte counting, RFC 6582's recovery entry and exit, RFC 2861's restart after
/// idle. On loss ssthresh = max(cwnd·beta/MSS, 2)·MSS with beta = net.inet.tcp.cc.newreno.beta (50%), or
/// beta_ecn (80%) for ECN when net.inet.tcp.cc.abe is on.
/// </summary>
public sealed class NewReno : CcAlgo
{
    /// <summary>net.inet.tcp.cc.newreno.beta default (percent).</summary>
    public const int Beta = 50;

    /// <summary>net.inet.tcp.cc.newreno.beta_ecn default (percent, used with net.inet.tcp.cc.abe).</summary>
    public const int BetaEcn = 80;

    public static readonly NewReno Instance = new();

    /// <summary>net.inet.tcp.abc_l_var default: slow start may grow by at most 2 MSS per ACK.</summary>
    public const int DefaultAbcLVar = 2;

    private NewReno()
    {
    }

    public override string Name => "newreno";

    /// <summary>newreno_ack_received.</summary>
    public override void ack_received(CcVar ccv, CcAckType type) => CommonAckReceived(ccv, type);

    /// <summary>newreno_after_idle = newreno_cc_after_idle.</summary>
    public override void after_idle(CcVar ccv) => CommonAfterIdle(ccv);

    /// <summary>newreno_post_recovery = newreno_cc_post_recovery.</summary>
    public override void post_recovery(CcVar ccv) => CommonPostRecovery(ccv);

    /// <summary>newreno_cong_signal.</summary>
    public override void cong_signal(CcVar ccv, CcSignal type)
    {
        ICcConnection tp = ccv.Tp;
        uint mss = (uint)tp.t_maxseg;
        uint beta = (uint)CcModules.V_newreno_beta;
        uint betaEcn = (uint)CcModules.V_newreno_beta_ecn;
        bool abe = CcModules.V_cc_do_abe != 0;
        uint factor = abe && type == CcSignal.CC_ECN ? betaEcn : beta;
        uint cwin = (uint)Math.Max((ulong)tp.snd_cwnd * factor / (100UL * mss), 2) * mss;
        switch (type)
        {
            case CcSignal.CC_NDUPACK:
                if (!tp.InFastRecovery)
                {
                    if (tp.InCongRecovery && abe && CcModules.V_cc_abe_frlossreduce != 0)
                    {
                        // ABE (RFC 8511 §3): loss during an ECN episode applies beta instead of beta_ecn. FreeBSD
                        // divides by 100·beta_ecn here (a percent too many); this is the intended ssthresh·beta/beta_ecn.
                        tp.snd_ssthresh = (uint)((ulong)tp.snd_ssthresh * beta / betaEcn);
                    }

                    if (!tp.InCongRecovery)
                    {
                        tp.snd_ssthresh = cwin;
                    }

                    tp.InFastRecovery = true; // ENTER_RECOVERY
                    tp.InCongRecovery = true;
                }

                break;
            case CcSignal.CC_ECN:
                if (!tp.InCongRecovery)
                {
                    tp.snd_ssthresh = cwin;
                    tp.snd_cwnd = cwin;
                    tp.InCongRecovery = true; // ENTER_CONGRECOVERY
                }

                break;
            case CcSignal.CC_RTO:
                CommonRto(tp, mss);
                break;
        }
    }

    /// <summary>
    /// newreno_cc_cong_signal's CC_RTO: on the first timeout of a series ssthresh becomes half the flight size
    /// (RFC 5681 eq. 4, FlightSize = the pipe, bounded by the peer's window), at least 2·MSS; cwnd is one MSS.
    /// </summary>
    internal static void CommonRto(ICcConnection tp, uint mss)
    {
        if (tp.t_rxtshift == 1)
        {
            tp.snd_ssthresh = Math.Max(2, Math.Min(tp.snd_wnd, tp.Pipe) / 2 / mss) * mss;
        }

        tp.snd_cwnd = mss;
    }

    /// <summary>newreno_cc_ack_received: grow cwnd on an in-order ACK outside recovery when cwnd limits sending.</summary>
    internal static void CommonAckReceived(CcVar ccv, CcAckType type)
    {
        ICcConnection tp = ccv.Tp;
        if (type != CcAckType.CC_ACK || tp.InFastRecovery || tp.InCongRecovery || (ccv.flags & CcFlags.CCF_CWND_LIMITED) == 0)
        {
            return;
        }

        tp.snd_cwnd = tp.snd_cwnd > tp.snd_ssthresh ? CwndInCongAvoid(ccv) : CwndInSlowStart(ccv);
    }

    /// <summary>
    /// newreno_cc_cwnd_in_cong_avoid: with RFC 3465 one MSS each time a cwnd of bytes was acknowledged (the tcpcb sets
    /// CCF_ABC_SENTAWND from t_bytes_acked); without it max(MSS²/cwnd, 1) per ACK.
    /// </summary>
    internal static uint CwndInCongAvoid(CcVar ccv)
    {
        ICcConnection tp = ccv.Tp;
        uint cw = tp.snd_cwnd;
        uint incr = (uint)tp.t_maxseg;
        if (CcModules.V_tcp_do_rfc3465 != 0)
        {
            if ((ccv.flags & CcFlags.CCF_ABC_SENTAWND) != 0)
            {
                ccv.flags &= ~CcFlags.CCF_ABC_SENTAWND;
            }
            else
            {
                incr = 0;
            }
        }
        else
        {
            incr = Math.Max(incr * incr / Math.Max(cw, 1), 1);
        }

        return Grow(tp, cw, incr);
    }

    /// <summary>
    /// newreno_cc_cwnd_in_slow_start: RFC 3465 §2.2: grow by the bytes acknowledged, at most nsegs·L·MSS per ACK
    /// (L = net.inet.tcp.abc_l_var or the connection's labc), only 1·MSS while retransmitting after an RTO
    /// (snd_nxt below snd_max); without RFC 3465 one MSS per ACK.
    /// </summary>
    internal static uint CwndInSlowStart(CcVar ccv)
    {
        ICcConnection tp = ccv.Tp;
        uint mss = (uint)tp.t_maxseg;
        uint incr = mss;
        if (CcModules.V_tcp_do_rfc3465 != 0)
        {
            uint l = (ccv.flags & CcFlags.CCF_USE_LOCAL_ABC) != 0 ? ccv.labc : (uint)CcModules.V_tcp_abc_l_var;
            uint acked = (uint)Math.Max(ccv.bytes_this_ack, 0);
            ulong limit = tp.snd_nxt == tp.snd_max ? (ulong)Math.Max(ccv.nsegs, (ushort)1) * l * mss : mss;
            incr = (uint)Math.Min(acked, limit);
        }

        return Grow(tp, tp.snd_cwnd, incr);
    }

    /// <summary>
    /// newreno_cc_post_recovery: fast recovery ends; deflate cwnd to ssthresh, or to the flight plus one MSS
    /// (never below 2·MSS) when less than ssthresh is in flight, so the exit is no burst (RFC 6582 §3.2 step 3).
    /// </summary>
    internal static void CommonPostRecovery(CcVar ccv)
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

    /// <summary>
    /// newreno_cc_after_idle: idle for more than an RTO, restart from min(initial window, cwnd) (RFC 5681 §4.1), with
    /// ssthresh raised to at least 3/4 of the old cwnd so slow start does not end early (RFC 2861 §2).
    /// </summary>
    internal static void CommonAfterIdle(CcVar ccv)
    {
        ICcConnection tp = ccv.Tp;
        uint rw = tp.InitialWindow;
        uint cw = tp.snd_cwnd;
        tp.snd_ssthresh = Math.Max(tp.snd_ssthresh, cw - (cw >> 2));
        tp.snd_cwnd = Math.Min(rw, cw);
    }

    private static uint Grow(ICcConnection tp, uint cw, uint incr)
    {
        if (incr == 0)
        {
            return cw;
        }

        ulong max = (ulong)CcModules.TCP_MAXWIN << tp.snd_scale;
        return (uint)Math.Min((ulong)cw + incr, Math.Max(max, cw));
    }
}
