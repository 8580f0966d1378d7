namespace Vimage.Net.Tcp.Cc;

#pragma warning disable CA1707, IDE1006 // FreeBSD's struct cubic field names.

/// <summary>
/// CUBIC (RFC 9438; FreeBSD's cc_cubic.c, the default module). In congestion avoidance the window follows
/// W_cubic(t) = C·(t − K)³ + W_max (segments, t in seconds since the epoch began) with C = 0.4 and
/// K = ∛((W_max − cwnd_epoch)/C), which is ∛(W_max·(1 − β)/C) right after a reduction to β·W_max, β = 0.7. Each
/// ACK moves cwnd by (target − cwnd)/cwnd of the bytes it acknowledges towards target = W_cubic(t + RTT), clamped
/// to [cwnd, 1.5·cwnd] (RFC 9438 §4.4, §4.5); while W_cubic(t) is below the Reno-friendly estimate W_est (grown by
/// α = 3(1 − β)/(1 + β) segments per cwnd acknowledged, 1 once W_est reaches cwnd_prior, §4.3) cwnd follows W_est.
/// Loss sets ssthresh = β·cwnd and, with fast convergence, W_max = cwnd·(1 + β)/2 when cwnd had not regained the
/// previous W_max (§4.6, §4.7). Slow start, recovery exit and restart after idle are NewReno's, as in cc_cubic.c.
/// Arithmetic is in doubles (FreeBSD's kernel uses 8-bit fixed point and Apple TR KT-32's cube root; the doubles
/// follow the RFC's formula exactly). FreeBSD's default stack never sets CCF_HYSTART_ALLOWED (only RACK/BBR do), so
/// HyStart++ (RFC 9406) is not part of this module.
/// </summary>
public sealed class Cubic : CcAlgo
{
    /// <summary>C: segments per second³.</summary>
    public const double C = 0.4;

    /// <summary>β_cubic: the multiplicative decrease factor.</summary>
    public const double BetaCubic = 0.7;

    /// <summary>α_cubic = 3(1 − β)/(1 + β): the Reno-friendly additive increase per RTT (RFC 9438 §4.3).</summary>
    public const double AlphaCubic = 3 * (1 - BetaCubic) / (1 + BetaCubic);

    /// <summary>CUBIC_MIN_RTT_SAMPLES: SRTT is not trusted before this many samples.</summary>
    public const int MinRttSamples = 8;

    public static readonly Cubic Instance = new();

    private Cubic()
    {
    }

    public override string Name => "cubic";

    /// <summary>cubic_cb_init.</summary>
    public override int cb_init(CcVar ccv)
    {
        ArgumentNullException.ThrowIfNull(ccv);
        ccv.cc_data = new CubicState { t_epoch_us = ccv.Tp.NowUs, mean_rtt_usecs = 1 };
        return 0;
    }

    /// <summary>cubic_conn_init: a sane first W_max (the initial cwnd, or the hostcache's).</summary>
    public override void conn_init(CcVar ccv)
    {
        CubicState d = State(ccv);
        d.W_max = ccv.Tp.snd_cwnd;
    }

    /// <summary>W_cubic(t) in bytes (RFC 9438 eq. 1) for state <paramref name="d"/>, <paramref name="tUs"/> µs into the epoch.</summary>
    public static double W_cubic(double tUs, double wMaxBytes, double kSeconds, int mss)
    {
        double t = tUs / 1e6 - kSeconds;
        return (C * t * t * t * mss) + wMaxBytes;
    }

    /// <summary>K in seconds (RFC 9438 eq. 2): ∛((W_max − cwnd_epoch)/C) with windows in segments; negative when cwnd_epoch exceeds W_max.</summary>
    public static double CubicK(double wMaxBytes, double cwndEpochBytes, int mss) => Math.Cbrt((wMaxBytes - cwndEpochBytes) / mss / C);

    /// <summary>cubic_ack_received.</summary>
    public override void ack_received(CcVar ccv, CcAckType type)
    {
        ICcConnection tp = ccv.Tp;
        CubicState d = State(ccv);
        RecordRtt(tp, d);
        bool inRecovery = tp.InFastRecovery || tp.InCongRecovery;
        if (type != CcAckType.CC_ACK || inRecovery)
        {
            return;
        }

        if ((ccv.flags & CcFlags.CCF_CWND_LIMITED) == 0)
        {
            d.flags |= CubicFlags.CUBICFLAG_IN_APPLIMIT;
            return;
        }

        if (tp.snd_cwnd <= tp.snd_ssthresh || d.min_rtt_usecs == 0)
        {
            d.flags |= CubicFlags.CUBICFLAG_IN_SLOWSTART;
            tp.snd_cwnd = NewReno.CwndInSlowStart(ccv);
            return;
        }

        int mss = tp.t_maxseg;
        long now = tp.NowUs;
        if ((d.flags & (CubicFlags.CUBICFLAG_IN_SLOWSTART | CubicFlags.CUBICFLAG_IN_APPLIMIT)) != 0)
        {
            // A congestion-avoidance stage begins (RFC 9438 §4.2). After an RTO's slow start (§4.8), or a first slow
            // start that ended without loss (§4.10), the curve starts from here: W_max = cwnd, K = 0.
            if ((d.flags & CubicFlags.CUBICFLAG_RTO_EVENT) != 0 || (d.flags & CubicFlags.CUBICFLAG_CONG_EVENT) == 0)
            {
                d.W_max = tp.snd_cwnd;
                d.cwnd_prior = tp.snd_cwnd;
            }

            d.flags &= ~(CubicFlags.CUBICFLAG_IN_SLOWSTART | CubicFlags.CUBICFLAG_IN_APPLIMIT | CubicFlags.CUBICFLAG_RTO_EVENT);
            StartEpoch(d, now, tp.snd_cwnd, mss);
        }

        long sinceEpoch = Math.Max(now - d.t_epoch_us, 0);
        double cwnd = tp.snd_cwnd;
        double acked = Math.Max(ccv.bytes_this_ack, 0);

        // Reno-friendly estimate (§4.3): α segments per cwnd of bytes acknowledged; Reno's 1 once past cwnd_prior.
        double alpha = d.W_est >= d.cwnd_prior ? 1.0 : AlphaCubic;
        d.W_est += alpha * acked * mss / cwnd;
        double wCubic = W_cubic(sinceEpoch, d.W_max, d.K, mss);
        double next;
        if (wCubic < d.W_est)
        {
            next = Math.Max(cwnd, d.W_est); // Reno-friendly region
        }
        else
        {
            // Concave (below W_max) or convex region: a step towards W_cubic one RTT ahead (§4.4, §4.5).
            double target = Math.Clamp(W_cubic(sinceEpoch + d.mean_rtt_usecs, d.W_max, d.K, mss), cwnd, 1.5 * cwnd);
            next = cwnd + ((target - cwnd) * acked / cwnd);
        }

        ccv.flags &= ~CcFlags.CCF_ABC_SENTAWND;
        tp.snd_cwnd = (uint)Math.Min(next, int.MaxValue);
    }

    /// <summary>cubic_cong_signal.</summary>
    public override void cong_signal(CcVar ccv, CcSignal type)
    {
        ICcConnection tp = ccv.Tp;
        CubicState d = State(ccv);
        int mss = tp.t_maxseg;
        switch (type)
        {
            case CcSignal.CC_NDUPACK:
                if (!tp.InFastRecovery)
                {
                    if (!tp.InCongRecovery)
                    {
                        SsthreshUpdate(tp, d, mss);
                    }

                    tp.InFastRecovery = true; // ENTER_RECOVERY
                    tp.InCongRecovery = true;
                }

                break;
            case CcSignal.CC_ECN:
                if (!tp.InCongRecovery)
                {
                    SsthreshUpdate(tp, d, mss);
                    tp.snd_cwnd = tp.snd_ssthresh;
                    tp.InCongRecovery = true; // ENTER_CONGRECOVERY
                }

                break;
            case CcSignal.CC_RTO:
                // RFC 9438 §4.8: remember the state before the first timeout of a series (for CC_RTO_ERR), then
                // ssthresh = β·flight, cwnd = 1 MSS; the next congestion-avoidance stage restarts the curve.
                if (tp.t_rxtshift == 1)
                {
                    d.SaveUndo();
                    ulong flight = Math.Min(tp.snd_wnd, tp.Pipe);
                    tp.snd_ssthresh = (uint)Math.Max(2, TimesBeta(flight) / (uint)mss) * (uint)mss;
                }

                d.flags |= CubicFlags.CUBICFLAG_CONG_EVENT | CubicFlags.CUBICFLAG_RTO_EVENT;
                d.num_cong_events++;
                tp.snd_cwnd = (uint)mss;
                break;
            case CcSignal.CC_RTO_ERR:
                // The timeout was spurious: the tcpcb restores cwnd and ssthresh, the module its curve.
                d.flags &= ~(CubicFlags.CUBICFLAG_CONG_EVENT | CubicFlags.CUBICFLAG_RTO_EVENT);
                if (d.num_cong_events > 0)
                {
                    d.num_cong_events--;
                }

                d.RestoreUndo();
                break;
        }
    }

    /// <summary>cubic_post_recovery: NewReno's deflation when little is in flight, else cwnd = ssthresh = β·cwnd.</summary>
    public override void post_recovery(CcVar ccv)
    {
        ICcConnection tp = ccv.Tp;
        CubicState d = State(ccv);
        if (tp.InFastRecovery)
        {
            uint mss = (uint)tp.t_maxseg;
            uint pipe = tp.Pipe;
            tp.snd_cwnd = pipe < tp.snd_ssthresh ? Math.Max(pipe, mss) + mss : Math.Max(tp.snd_ssthresh, 2 * mss);
        }

        // The mean RTT of the epoch that ended is the RTT W_cubic(t + RTT) looks ahead by.
        if (d.epoch_ack_count > 0 && d.sum_rtt_usecs >= d.epoch_ack_count)
        {
            d.mean_rtt_usecs = d.sum_rtt_usecs / d.epoch_ack_count;
        }

        d.epoch_ack_count = 0;
        d.sum_rtt_usecs = 0;
    }

    /// <summary>cubic_after_idle: keep W_max, restart as NewReno does and begin a new epoch from the restart window.</summary>
    public override void after_idle(CcVar ccv)
    {
        ICcConnection tp = ccv.Tp;
        CubicState d = State(ccv);
        d.W_max = Math.Max(d.W_max, tp.snd_cwnd);
        NewReno.CommonAfterIdle(ccv);
        StartEpoch(d, tp.NowUs, tp.snd_cwnd, tp.t_maxseg);
    }

    /// <summary>The connection's state (made on first use if the tcpcb skipped cb_init).</summary>
    internal static CubicState State(CcVar ccv)
    {
        if (ccv.cc_data is CubicState d)
        {
            return d;
        }

        d = new CubicState { t_epoch_us = ccv.Tp.NowUs, mean_rtt_usecs = 1, W_max = ccv.Tp.snd_cwnd };
        ccv.cc_data = d;
        return d;
    }

    private static void StartEpoch(CubicState d, long now, double cwnd, int mss)
    {
        d.t_epoch_us = now;
        d.cwnd_epoch = cwnd;
        d.W_est = cwnd;
        d.K = CubicK(d.W_max, cwnd, mss);
    }

    /// <summary>
    /// cubic_ssthresh_update (RFC 9438 §4.6, §4.7): cwnd_prior = cwnd; W_max = cwnd, or cwnd·(1 + β)/2 when cwnd
    /// had not regained the previous W_max (fast convergence); ssthresh = max(β·cwnd, 2·MSS); a new epoch starts
    /// at the reduced window.
    /// </summary>
    private static void SsthreshUpdate(ICcConnection tp, CubicState d, int mss)
    {
        double cwnd = tp.snd_cwnd;
        d.undo_W_max = d.W_max;
        d.cwnd_prior = cwnd;
        d.W_max = cwnd < d.W_max ? cwnd * (1 + BetaCubic) / 2 : cwnd;
        uint ssthresh = (uint)Math.Max(TimesBeta(tp.snd_cwnd), 2UL * (uint)mss);
        tp.snd_ssthresh = ssthresh;
        d.flags |= CubicFlags.CUBICFLAG_CONG_EVENT;
        d.num_cong_events++;
        StartEpoch(d, tp.NowUs, ssthresh, mss);
    }

    /// <summary>x·β_cubic in integers (β = 7/10 exactly; a double product may land a byte short).</summary>
    private static ulong TimesBeta(ulong x) => x * 7 / 10;

    /// <summary>cubic_record_rtt: the smallest SRTT and the epoch's SRTT sum, once SRTT has 8 samples.</summary>
    private static void RecordRtt(ICcConnection tp, CubicState d)
    {
        if (tp.t_rttupdated < MinRttSamples)
        {
            return;
        }

        long srtt = tp.t_srtt_us;
        if (srtt < d.min_rtt_usecs || d.min_rtt_usecs == 0)
        {
            d.min_rtt_usecs = Math.Max(srtt, 1);
            if (d.min_rtt_usecs > d.mean_rtt_usecs)
            {
                d.mean_rtt_usecs = d.min_rtt_usecs;
            }
        }

        d.sum_rtt_usecs += srtt;
        d.epoch_ack_count++;
    }
}

/// <summary>CUBICFLAG_* (cc_cubic.h).</summary>
[Flags]
public enum CubicFlags
{
    None = 0,
    CUBICFLAG_CONG_EVENT = 0x01,
    CUBICFLAG_IN_SLOWSTART = 0x02,
    CUBICFLAG_IN_APPLIMIT = 0x04,
    CUBICFLAG_RTO_EVENT = 0x08,
}

/// <summary>struct cubic (cc_cubic.h): one connection's curve. Windows in bytes, K in seconds, times in µs.</summary>
public sealed class CubicState
{
    /// <summary>K: seconds from the epoch's start until W_cubic reaches W_max again.</summary>
    public double K { get; internal set; }

    /// <summary>W_max: the window before the last reduction (lowered by fast convergence).</summary>
    public double W_max { get; internal set; }

    /// <summary>W_est: the Reno-friendly estimate.</summary>
    public double W_est { get; internal set; }

    /// <summary>cwnd_epoch: cwnd when the current congestion-avoidance stage began.</summary>
    public double cwnd_epoch { get; internal set; }

    /// <summary>cwnd_prior: cwnd just before the last reduction.</summary>
    public double cwnd_prior { get; internal set; }

    public CubicFlags flags { get; internal set; }

    /// <summary>min_rtt_usecs: the smallest SRTT seen; 0 until 8 samples (FreeBSD's TCPTV_SRTTBASE).</summary>
    public long min_rtt_usecs { get; internal set; }

    /// <summary>mean_rtt_usecs: the mean SRTT of the previous epoch, the look-ahead of W_cubic(t + RTT).</summary>
    public long mean_rtt_usecs { get; internal set; }

    public long sum_rtt_usecs { get; internal set; }

    public long epoch_ack_count { get; internal set; }

    /// <summary>t_epoch: when the current epoch began (the connection's clock, µs).</summary>
    public long t_epoch_us { get; internal set; }

    public ulong num_cong_events { get; internal set; }

    internal double undo_K;
    internal double undo_W_max;
    internal double undo_W_est;
    internal double undo_cwnd_epoch;
    internal double undo_cwnd_prior;
    internal long undo_t_epoch;

    internal void SaveUndo()
    {
        undo_K = K;
        undo_W_max = W_max;
        undo_W_est = W_est;
        undo_cwnd_epoch = cwnd_epoch;
        undo_cwnd_prior = cwnd_prior;
        undo_t_epoch = t_epoch_us;
    }

    internal void RestoreUndo()
    {
        K = undo_K;
        W_max = undo_W_max;
        W_est = undo_W_est;
        cwnd_epoch = undo_cwnd_epoch;
        cwnd_prior = undo_cwnd_prior;
        t_epoch_us = undo_t_epoch;
    }
}
