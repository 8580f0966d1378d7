using Vimage.Core;
using Vimage.Net.Tcp.Cc;

namespace Vimage.Net.Tests;

/// <summary>
/// mod_cc: NewReno (cc_newreno.c, RFC 5681/3465/6582) and CUBIC (RFC 9438) driven through a fake tcpcb, and the
/// per-vnet knobs (net.inet.tcp.cc.*). Modules read per-vnet knobs, so every call runs with a vnet current.
/// </summary>
public class TcpCcTests
{
    private const int Mss = 1000;

    /// <summary>The tcpcb fields a module sees, all settable; a virtual clock.</summary>
    internal sealed class FakeConn : ICcConnection
    {
        public uint snd_cwnd { get; set; }
        public uint snd_ssthresh { get; set; } = CcModules.TCP_MAXWIN << 14;
        public uint snd_una { get; set; } = 1000;
        public uint snd_nxt { get; set; } = 1000;
        public uint snd_max { get; set; } = 1000;
        public uint snd_recover { get; set; }
        public uint snd_wnd { get; set; } = 4_000_000;
        public int snd_scale { get; set; } = 7;
        public int t_maxseg { get; set; } = Mss;
        public int t_rxtshift { get; set; }
        public int t_dupacks { get; set; }
        public uint t_bytes_acked { get; set; }
        public long t_srtt_us { get; set; }
        public long t_rttmin_us { get; set; }
        public uint t_rttupdated { get; set; }
        public bool InFastRecovery { get; set; }
        public bool InCongRecovery { get; set; }
        public bool SackPermitted { get; set; }
        public uint Pipe { get; set; }
        public long NowUs { get; set; } = 1_000_000;
    }

    private static (FakeConn Tp, CcVar Ccv) Conn(CcAlgo algo, uint cwnd)
    {
        var tp = new FakeConn { snd_cwnd = cwnd };
        var ccv = new CcVar(tp) { Algo = algo };
        Assert.Equal(0, algo.cb_init(ccv));
        algo.conn_init(ccv);
        return (tp, ccv);
    }

    private static void Ack(CcVar ccv, int bytes, CcFlags extra = CcFlags.None, ushort nsegs = 1)
    {
        ccv.bytes_this_ack = bytes;
        ccv.nsegs = nsegs;
        ccv.flags |= CcFlags.CCF_CWND_LIMITED | extra;
        ccv.Algo!.ack_received(ccv, CcAckType.CC_ACK);
    }

    /// <summary>Runs <paramref name="body"/> in a vnet of its own (vnet0 without VIMAGE), restoring the knobs it may touch.</summary>
    private static void InVnet(Action<Vnet> body)
    {
        if (Vnet.IsVimage)
        {
            Vnet v = Vnet.Create("cc-test");
            try
            {
                using (Curvnet.Set(v))
                {
                    body(v);
                }
            }
            finally
            {
                v.Destroy();
            }

            return;
        }

        string[] knobs = ["net.inet.tcp.cc.algorithm", "net.inet.tcp.abc_l_var", "net.inet.tcp.rfc3465", "net.inet.tcp.cc.abe",
            "net.inet.tcp.cc.newreno.beta"];
        object?[] saved = [.. knobs.Select(k => Sysctl.Get(k, Vnet.Vnet0))];
        try
        {
            using (Curvnet.Set(Vnet.Vnet0))
            {
                body(Vnet.Vnet0);
            }
        }
        finally
        {
            Sysctl.Set("net.inet.tcp.cc.abe", 1, Vnet.Vnet0);
            Sysctl.Set("net.inet.tcp.cc.newreno.beta_ecn", 80u, Vnet.Vnet0);
            for (int i = 0; i < knobs.Length; i++)
            {
                Sysctl.Set(knobs[i], saved[i], Vnet.Vnet0);
            }
        }
    }

    [Fact]
    public void SlowStartGrowsByTheBytesAckedCappedAtAbcLSegments()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv) = Conn(NewReno.Instance, 10 * Mss);
            Ack(ccv, Mss);
            Assert.Equal(11u * Mss, tp.snd_cwnd);
            Ack(ccv, 5 * Mss); // a stretch ACK: L = 2 segments at most (RFC 3465 §2.2)
            Assert.Equal(13u * Mss, tp.snd_cwnd);
            Ack(ccv, 5 * Mss, nsegs: 2); // two coalesced segments: 2·L
            Assert.Equal(17u * Mss, tp.snd_cwnd);
            Ack(ccv, 300);
            Assert.Equal((17u * Mss) + 300, tp.snd_cwnd);

            tp.snd_nxt = tp.snd_max - (5 * Mss); // retransmitting after an RTO: one MSS per ACK
            Ack(ccv, 5 * Mss);
            Assert.Equal((18u * Mss) + 300, tp.snd_cwnd);
            tp.snd_nxt = tp.snd_max;

            ccv.flags |= CcFlags.CCF_USE_LOCAL_ABC;
            ccv.labc = 3;
            Ack(ccv, 5 * Mss);
            Assert.Equal((21u * Mss) + 300, tp.snd_cwnd);
            ccv.flags &= ~CcFlags.CCF_USE_LOCAL_ABC;

            Sysctl.Set("net.inet.tcp.abc_l_var", "4");
            Ack(ccv, 5 * Mss);
            Assert.Equal((25u * Mss) + 300, tp.snd_cwnd);

            Sysctl.Set("net.inet.tcp.rfc3465", "0"); // RFC 5681 without ABC: one MSS per ACK whatever it covers
            Ack(ccv, 5 * Mss);
            Assert.Equal((26u * Mss) + 300, tp.snd_cwnd);
        });
    }

    [Fact]
    public void CongestionAvoidanceGrowsOneMssPerCwndOfAckedBytes()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv) = Conn(NewReno.Instance, 20 * Mss);
            tp.snd_ssthresh = 10 * Mss;
            for (int i = 0; i < 19; i++)
            {
                Ack(ccv, Mss); // the tcpcb has not counted a cwnd of bytes yet: no CCF_ABC_SENTAWND
            }

            Assert.Equal(20u * Mss, tp.snd_cwnd);
            Ack(ccv, Mss, CcFlags.CCF_ABC_SENTAWND);
            Assert.Equal(21u * Mss, tp.snd_cwnd);
            Assert.Equal(CcFlags.None, ccv.flags & CcFlags.CCF_ABC_SENTAWND); // consumed

            Sysctl.Set("net.inet.tcp.rfc3465", "0"); // RFC 5681: MSS²/cwnd per ACK
            Ack(ccv, Mss);
            Assert.Equal((21u * Mss) + (Mss * Mss / (21 * Mss)), tp.snd_cwnd);
        });
    }

    [Fact]
    public void NoGrowthInRecoveryOrWhenNotCwndLimited()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv) = Conn(NewReno.Instance, 10 * Mss);
            ccv.bytes_this_ack = Mss;
            ccv.flags = CcFlags.None; // the peer's window, not cwnd, limits sending
            NewReno.Instance.ack_received(ccv, CcAckType.CC_ACK);
            Assert.Equal(10u * Mss, tp.snd_cwnd);
            tp.InFastRecovery = tp.InCongRecovery = true;
            Ack(ccv, Mss);
            Assert.Equal(10u * Mss, tp.snd_cwnd);
            tp.InFastRecovery = tp.InCongRecovery = false;
            ccv.flags |= CcFlags.CCF_CWND_LIMITED;
            NewReno.Instance.ack_received(ccv, CcAckType.CC_DUPACK);
            Assert.Equal(10u * Mss, tp.snd_cwnd);
        });
    }

    [Fact]
    public void ThreeDupacksHalveSsthreshWithATwoSegmentFloorOncePerRecovery()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv) = Conn(NewReno.Instance, 21 * Mss + 500);
            NewReno.Instance.cong_signal(ccv, CcSignal.CC_NDUPACK);
            Assert.Equal(10u * Mss, tp.snd_ssthresh); // max(cwnd·50/100/MSS, 2)·MSS, whole segments
            Assert.Equal(21u * Mss + 500, tp.snd_cwnd); // recovery's cwnd is the tcpcb's (tcp_do_segment)
            Assert.True(tp.InFastRecovery && tp.InCongRecovery);

            tp.snd_cwnd = 40 * Mss; // a second signal in the same recovery changes nothing
            NewReno.Instance.cong_signal(ccv, CcSignal.CC_NDUPACK);
            Assert.Equal(10u * Mss, tp.snd_ssthresh);

            (FakeConn small, CcVar sccv) = Conn(NewReno.Instance, 3 * Mss);
            NewReno.Instance.cong_signal(sccv, CcSignal.CC_NDUPACK);
            Assert.Equal(2u * Mss, small.snd_ssthresh);

            Sysctl.Set("net.inet.tcp.cc.newreno.beta", "70");
            (FakeConn b, CcVar bccv) = Conn(NewReno.Instance, 20 * Mss);
            NewReno.Instance.cong_signal(bccv, CcSignal.CC_NDUPACK);
            Assert.Equal(14u * Mss, b.snd_ssthresh);
        });
    }

    [Fact]
    public void EcnReducesOnceAndAbeUsesBetaEcn()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv) = Conn(NewReno.Instance, 20 * Mss);
            NewReno.Instance.cong_signal(ccv, CcSignal.CC_ECN);
            Assert.Equal((10u * Mss, 10u * Mss), (tp.snd_ssthresh, tp.snd_cwnd));
            Assert.True(tp.InCongRecovery && !tp.InFastRecovery);
            NewReno.Instance.cong_signal(ccv, CcSignal.CC_ECN);
            Assert.Equal(10u * Mss, tp.snd_cwnd);
            // Loss during the ECN episode: already reduced, ssthresh stays.
            NewReno.Instance.cong_signal(ccv, CcSignal.CC_NDUPACK);
            Assert.Equal(10u * Mss, tp.snd_ssthresh);

            Sysctl.Set("net.inet.tcp.cc.abe", "1");
            (FakeConn a, CcVar accv) = Conn(NewReno.Instance, 20 * Mss);
            NewReno.Instance.cong_signal(accv, CcSignal.CC_ECN);
            Assert.Equal(16u * Mss, a.snd_cwnd); // beta_ecn = 80%
        });
    }

    [Fact]
    public void RetransmitTimeoutHalvesTheFlightOnTheFirstTimeoutOnly()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv) = Conn(NewReno.Instance, 30 * Mss);
            tp.Pipe = 24 * Mss + 999;
            tp.snd_wnd = 100 * Mss;
            tp.t_rxtshift = 1;
            NewReno.Instance.cong_signal(ccv, CcSignal.CC_RTO);
            Assert.Equal(12u * Mss, tp.snd_ssthresh); // max(2, min(wnd, flight)/2/MSS)·MSS
            Assert.Equal((uint)Mss, tp.snd_cwnd);

            tp.t_rxtshift = 2; // backed-off timeouts keep the first one's ssthresh
            tp.Pipe = 2 * Mss;
            NewReno.Instance.cong_signal(ccv, CcSignal.CC_RTO);
            Assert.Equal(12u * Mss, tp.snd_ssthresh);
            Assert.Equal((uint)Mss, tp.snd_cwnd);

            (FakeConn w, CcVar wccv) = Conn(NewReno.Instance, 30 * Mss);
            w.Pipe = 30 * Mss;
            w.snd_wnd = 3 * Mss; // the peer's window bounds the flight; never below 2 segments
            w.t_rxtshift = 1;
            NewReno.Instance.cong_signal(wccv, CcSignal.CC_RTO);
            Assert.Equal(2u * Mss, w.snd_ssthresh);
        });
    }

    [Fact]
    public void PostRecoveryDeflatesToSsthreshOrTheFlightPlusOneSegment()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv) = Conn(NewReno.Instance, 40 * Mss);
            tp.snd_ssthresh = 10 * Mss;
            tp.InFastRecovery = tp.InCongRecovery = true;
            tp.Pipe = 12 * Mss;
            NewReno.Instance.post_recovery(ccv);
            Assert.Equal(10u * Mss, tp.snd_cwnd);
            tp.Pipe = 4 * Mss + 10;
            NewReno.Instance.post_recovery(ccv);
            Assert.Equal(5u * Mss + 10, tp.snd_cwnd);
            tp.Pipe = 0;
            NewReno.Instance.post_recovery(ccv);
            Assert.Equal(2u * Mss, tp.snd_cwnd); // never collapses to 1 MSS (RFC 6582)
            tp.InFastRecovery = false; // after an ECN-only episode: nothing to deflate
            tp.snd_cwnd = 7 * Mss;
            NewReno.Instance.post_recovery(ccv);
            Assert.Equal(7u * Mss, tp.snd_cwnd);
        });
    }

    [Fact]
    public void AfterIdleRestartsFromTheInitialWindowAndKeepsThreeQuartersAsSsthresh()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv) = Conn(NewReno.Instance, 40 * Mss);
            tp.snd_ssthresh = 8 * Mss;
            NewReno.Instance.after_idle(ccv);
            Assert.Equal(10u * Mss, tp.snd_cwnd); // RFC 6928's 10 segments
            Assert.Equal(30u * Mss, tp.snd_ssthresh);
            tp.snd_cwnd = 4 * Mss;
            NewReno.Instance.after_idle(ccv);
            Assert.Equal(4u * Mss, tp.snd_cwnd); // min(IW, cwnd)
            Assert.Equal(30u * Mss, tp.snd_ssthresh);
        });
    }

    // ---- CUBIC ----

    /// <summary>A CUBIC connection in congestion avoidance at <paramref name="cwndSegs"/> with an SRTT of <paramref name="rttUs"/>.</summary>
    private static (FakeConn Tp, CcVar Ccv, CubicState D) CubicAt(int cwndSegs, long rttUs)
    {
        (FakeConn tp, CcVar ccv) = Conn(Cubic.Instance, (uint)(cwndSegs * Mss));
        tp.t_rttupdated = Cubic.MinRttSamples;
        tp.t_srtt_us = rttUs;
        tp.snd_ssthresh = (uint)(cwndSegs * Mss / 2);
        return (tp, ccv, Assert.IsType<CubicState>(ccv.cc_data));
    }

    /// <summary>
    /// A loss at the current cwnd and the end of its recovery with a full pipe (cwnd = ssthresh = β·cwnd); the next
    /// ACK, at cwnd = ssthresh, is still slow start (+1 MSS), so the curve's epoch begins at the ACK after it.
    /// </summary>
    private static void LossAndRecovery(FakeConn tp, CcVar ccv)
    {
        Cubic.Instance.cong_signal(ccv, CcSignal.CC_NDUPACK);
        tp.Pipe = tp.snd_cwnd;
        Cubic.Instance.post_recovery(ccv);
        tp.InFastRecovery = tp.InCongRecovery = false;
        Assert.Equal(tp.snd_ssthresh, tp.snd_cwnd);
        Ack(ccv, Mss);
        Assert.Equal(tp.snd_ssthresh + Mss, tp.snd_cwnd);
    }

    /// <summary>One RTT of ACK clocking: cwnd/MSS ACKs of one MSS each, spread evenly over <paramref name="rttUs"/>.</summary>
    private static void Round(FakeConn tp, CcVar ccv, long rttUs)
    {
        int acks = (int)(tp.snd_cwnd / Mss);
        for (int i = 0; i < acks; i++)
        {
            tp.NowUs += rttUs / acks;
            Ack(ccv, Mss);
        }
    }

    [Fact]
    public void CubicKIsTheCubeRootOfTheReductionOverC()
    {
        Assert.Equal(Math.Cbrt(75), Cubic.CubicK(100 * Mss, 70 * Mss, Mss), 12); // 4.2172 s
        Assert.Equal(4.2172, Cubic.CubicK(100 * Mss, 70 * Mss, Mss), 4);
        Assert.Equal(0, Cubic.CubicK(50 * Mss, 50 * Mss, Mss));
        Assert.True(Cubic.CubicK(40 * Mss, 50 * Mss, Mss) < 0); // cwnd_epoch above W_max: already past the plateau
        Assert.Equal(70.0 * Mss, Cubic.W_cubic(0, 100 * Mss, Cubic.CubicK(100 * Mss, 70 * Mss, Mss), Mss), 6); // W_cubic(0) = cwnd_epoch

        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv, CubicState d) = CubicAt(100, 100_000);
            Cubic.Instance.cong_signal(ccv, CcSignal.CC_NDUPACK);
            Assert.Equal(70u * Mss, tp.snd_ssthresh); // β = 0.7
            Assert.Equal(100.0 * Mss, d.W_max);
            Assert.Equal(Math.Cbrt(100 * (1 - 0.7) / 0.4), d.K, 9); // K = ∛(W_max(1 − β)/C)
            Assert.True(tp.InFastRecovery && tp.InCongRecovery);
        });
    }

    [Fact]
    public void CubicWindowFollowsTheRfc9438CurveOverSimulatedTime()
    {
        // W_max = 1000 segments, RTT 100 ms, ACK-clocked one MSS at a time. Each ACK moves cwnd (target − cwnd)/cwnd
        // towards target = W_cubic(t + RTT), so over an RTT cwnd gains target − cwnd: dcwnd/dt = (W(t + RTT) − cwnd)/RTT,
        // whose solution on a curve of slope s is W(t + RTT) − s·RTT ≈ W(t). So cwnd must stay between W_cubic(t) and
        // W_cubic(t + RTT), give or take one segment of per-ACK truncation and curvature. The Reno-friendly estimate
        // (+0.53 segment per RTT from 701) stays far below the curve here, so only the cubic region is exercised.
        const long rtt = 100_000;
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv, CubicState d) = CubicAt(1000, rtt);
            Ack(ccv, Mss, CcFlags.CCF_ABC_SENTAWND); // records the RTT samples (min and mean RTT = 100 ms)
            tp.snd_cwnd = 1000 * Mss;
            LossAndRecovery(tp, ccv);
            Ack(ccv, Mss); // the first congestion-avoidance ACK begins the epoch at cwnd_epoch = 701 segments
            Assert.Equal(701.0 * Mss, d.cwnd_epoch);
            Assert.Equal(Math.Cbrt((1000 - 701) / 0.4), d.K, 9);
            double k = d.K, wmax = d.W_max;
            long epoch = d.t_epoch_us;
            var checkpoints = new List<(double T, double Cwnd, double Curve, double Ahead)>();
            for (int r = 1; r <= 150; r++)
            {
                Round(tp, ccv, rtt);
                double t = tp.NowUs - epoch;
                checkpoints.Add((t / 1e6, tp.snd_cwnd, Cubic.W_cubic(t, wmax, k, Mss), Cubic.W_cubic(t + rtt, wmax, k, Mss)));
                Assert.True(d.W_est < checkpoints[^1].Curve, $"W_est {d.W_est / Mss:F1} above the curve"); // the cubic region throughout
            }

            foreach ((double t, double cwnd, double curve, double ahead) in checkpoints)
            {
                double lo = Math.Min(curve, ahead) - Mss, hi = Math.Max(curve, ahead) + Mss;
                Assert.True(cwnd >= lo && cwnd <= hi, $"t={t:F2}s cwnd={cwnd / Mss:F2} W_cubic(t)={curve / Mss:F2} W_cubic(t+RTT)={ahead / Mss:F2}");
            }

            // Concave below W_max, the plateau at t = K, convex beyond.
            (double T, double Cwnd, double Curve, double Ahead) atK = checkpoints.MinBy(c => Math.Abs(c.T - k));
            Assert.InRange(atK.Cwnd / Mss, 999, 1001.5);
            (double T, double Cwnd, double Curve, double Ahead) at2 = checkpoints.MinBy(c => Math.Abs(c.T - 2));
            Assert.InRange(at2.T, 1.95, 2.05);
            Assert.InRange(at2.Cwnd / Mss, 855, 862); // W_cubic(2 s) = 0.4·(2 − 9.076)³ + 1000 ≈ 858.3
            Assert.True(checkpoints[^1].Cwnd > 1080 * Mss, $"convex growth: {checkpoints[^1].Cwnd / Mss:F1}"); // W_cubic(15 s) ≈ 1083
        });
    }

    [Fact]
    public void FastConvergenceLowersWmaxWhenTheWindowHadNotRecovered()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv, CubicState d) = CubicAt(100, 100_000);
            LossAndRecovery(tp, ccv);
            Assert.Equal(100.0 * Mss, d.W_max);
            tp.snd_cwnd = 90 * Mss; // the next loss comes before cwnd regained W_max
            Cubic.Instance.cong_signal(ccv, CcSignal.CC_NDUPACK);
            Assert.Equal(90 * Mss * (1 + 0.7) / 2, d.W_max, 6); // 76.5 segments
            Assert.Equal(63u * Mss, tp.snd_ssthresh);
            Assert.Equal(Math.Cbrt((76.5 - 63) / 0.4), d.K, 9);
            Assert.Equal(90.0 * Mss, d.cwnd_prior);

            (FakeConn up, CcVar uccv, CubicState ud) = CubicAt(100, 100_000);
            LossAndRecovery(up, uccv);
            up.snd_cwnd = 110 * Mss; // past W_max: no fast convergence
            Cubic.Instance.cong_signal(uccv, CcSignal.CC_NDUPACK);
            Assert.Equal(110.0 * Mss, ud.W_max);
            Assert.Equal(77u * Mss, up.snd_ssthresh);
        });
    }

    [Fact]
    public void TinyRttFollowsTheRenoFriendlyEstimate()
    {
        // RTT 100 µs: W_cubic hardly moves in the 10 ms of 100 rounds, while W_est grows α = 3(1−β)/(1+β) ≈ 0.53
        // segments per cwnd acknowledged; cwnd must track W_est exactly (computed here independently).
        const long rtt = 100;
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv, CubicState d) = CubicAt(100, rtt);
            Ack(ccv, Mss, CcFlags.CCF_ABC_SENTAWND);
            tp.snd_cwnd = 100 * Mss;
            LossAndRecovery(tp, ccv);
            double west = 71.0 * Mss; // W_est = cwnd_epoch at the epoch's first ACK
            for (int r = 0; r < 100; r++)
            {
                int acks = (int)(tp.snd_cwnd / Mss);
                for (int i = 0; i < acks; i++)
                {
                    double alpha = west >= 100.0 * Mss ? 1.0 : Cubic.AlphaCubic;
                    west += alpha * Mss * Mss / tp.snd_cwnd;
                    tp.NowUs += rtt / acks;
                    Ack(ccv, Mss);
                    Assert.Equal(Math.Floor(west), tp.snd_cwnd, 0);
                }
            }

            Assert.Equal(west, d.W_est, 6);
            double t = tp.NowUs - d.t_epoch_us;
            Assert.True(tp.snd_cwnd > Cubic.W_cubic(t, d.W_max, d.K, Mss) + (10 * Mss));
            // 71 → 100 (cwnd_prior) at ≈ 0.53 segment per round takes ≈ 55 rounds, then Reno's 1 per round: ≈ 145.
            Assert.InRange(tp.snd_cwnd / (double)Mss, 140, 150);
        });
    }

    [Fact]
    public void CubicRtoHalvesToBetaOfTheFlightOnceAndRestartsTheCurveFromTheNewWindow()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv, CubicState d) = CubicAt(100, 100_000);
            LossAndRecovery(tp, ccv);
            double wmax = d.W_max, k = d.K;
            tp.Pipe = 60 * Mss;
            tp.t_rxtshift = 1;
            Cubic.Instance.cong_signal(ccv, CcSignal.CC_RTO);
            Assert.Equal(42u * Mss, tp.snd_ssthresh); // max(2, min(wnd, flight)·β/MSS)·MSS
            Assert.Equal((uint)Mss, tp.snd_cwnd);
            tp.t_rxtshift = 2;
            tp.Pipe = 5 * Mss;
            Cubic.Instance.cong_signal(ccv, CcSignal.CC_RTO);
            Assert.Equal(42u * Mss, tp.snd_ssthresh);

            // Spurious (CC_RTO_ERR): the curve as it was before the first timeout.
            Cubic.Instance.cong_signal(ccv, CcSignal.CC_RTO_ERR);
            Assert.Equal((wmax, k), (d.W_max, d.K));
            Assert.Equal(CubicFlags.None, d.flags & (CubicFlags.CUBICFLAG_CONG_EVENT | CubicFlags.CUBICFLAG_RTO_EVENT));

            tp.t_rxtshift = 1;
            Cubic.Instance.cong_signal(ccv, CcSignal.CC_RTO);
            tp.t_rxtshift = 0;
            while (tp.snd_cwnd <= tp.snd_ssthresh)
            {
                Ack(ccv, Mss); // slow start again
            }

            uint cwnd = tp.snd_cwnd;
            Ack(ccv, Mss); // the first ACK in congestion avoidance starts the curve here (RFC 9438 §4.8)
            Assert.Equal((double)cwnd, d.W_max);
            Assert.Equal(0, d.K);
            Assert.Equal(tp.NowUs, d.t_epoch_us);
        });
    }

    [Fact]
    public void CubicSlowStartsUntilItTrustsTheRttAndAfterIdleKeepsWmax()
    {
        InVnet(_ =>
        {
            (FakeConn tp, CcVar ccv) = Conn(Cubic.Instance, 20 * Mss);
            tp.snd_ssthresh = 10 * Mss;
            tp.t_rttupdated = Cubic.MinRttSamples - 1;
            tp.t_srtt_us = 50_000;
            Ack(ccv, Mss);
            Assert.Equal(21u * Mss, tp.snd_cwnd); // above ssthresh, but fewer than 8 RTT samples: NewReno slow start

            CubicState d = Assert.IsType<CubicState>(ccv.cc_data);
            tp.snd_cwnd = 50 * Mss;
            d.W_max = 40 * Mss;
            tp.NowUs += 5_000_000;
            Cubic.Instance.after_idle(ccv);
            Assert.Equal(50.0 * Mss, d.W_max); // max(W_max, cwnd)
            Assert.Equal(10u * Mss, tp.snd_cwnd); // the restart window
            Assert.Equal(tp.NowUs, d.t_epoch_us);
            Assert.Equal(10.0 * Mss, d.cwnd_epoch);
        });
    }

    // ---- the knobs ----

    [Fact]
    public void ModulesAndDefaultAreFreeBsds()
    {
        Assert.Equal(["newreno", "cubic"], CcModules.List.Select(a => a.Name));
        Assert.Equal("newreno, cubic", Sysctl.GetText("net.inet.tcp.cc.available"));
        Assert.Equal(Errno.EEXIST, CcModules.Register(NewReno.Instance));
        Assert.Equal(2, CcModules.List.Count);
        InVnet(v =>
        {
            Assert.Equal("cubic", Sysctl.GetText("net.inet.tcp.cc.algorithm", v));
            Assert.Same(Cubic.Instance, CcModules.Resolve(null));
            Assert.Same(NewReno.Instance, CcModules.Resolve("newreno"));
            Assert.Null(CcModules.Resolve("bbr"));
            Assert.Equal(2, Sysctl.Get("net.inet.tcp.abc_l_var", v));
            Assert.Equal(50u, Sysctl.Get("net.inet.tcp.cc.newreno.beta", v));
            Assert.Equal(80u, Sysctl.Get("net.inet.tcp.cc.newreno.beta_ecn", v));
            Assert.Equal(0, Sysctl.Get("net.inet.tcp.cc.abe", v));
        });
    }

    [Fact]
    public void AlgorithmSysctlRefusesUnknownNamesAndChangesNothing()
    {
        InVnet(v =>
        {
            Sysctl.Set("net.inet.tcp.cc.algorithm", "newreno", v);
            Assert.Same(NewReno.Instance, CcModules.Default);
            Assert.Same(NewReno.Instance, CcModules.Resolve(""));

            SysctlException e = Assert.Throws<SysctlException>(() => Sysctl.Set("net.inet.tcp.cc.algorithm", "vegas", v));
            Assert.Equal(Errno.ESRCH, e.Errno); // cc_default_algo's answer
            Assert.Equal("newreno", Sysctl.GetText("net.inet.tcp.cc.algorithm", v));
            e = Assert.Throws<SysctlException>(() => Sysctl.Set("net.inet.tcp.cc.algorithm", "a-name-longer-than-15", v));
            Assert.Equal(Errno.EINVAL, e.Errno);
            Assert.Throws<SysctlException>(() => Sysctl.Set("net.inet.tcp.cc.available", "cubic", v));
            Assert.Equal("newreno", Sysctl.GetText("net.inet.tcp.cc.algorithm", v));
            Assert.Equal(Errno.ESRCH, CcModules.SetDefault("Cubic")); // names are case-sensitive
            Assert.Equal(0, CcModules.SetDefault("cubic"));

            Assert.Equal(Errno.EINVAL, Assert.Throws<SysctlException>(() => Sysctl.Set("net.inet.tcp.cc.newreno.beta", "0", v)).Errno);
            Assert.Equal(Errno.EINVAL, Assert.Throws<SysctlException>(() => Sysctl.Set("net.inet.tcp.cc.newreno.beta", "101", v)).Errno);
            Assert.Equal(Errno.EACCES, Assert.Throws<SysctlException>(() => Sysctl.Set("net.inet.tcp.cc.newreno.beta_ecn", "60", v)).Errno);
            Assert.Equal(80u, Sysctl.Get("net.inet.tcp.cc.newreno.beta_ecn", v));
            Sysctl.Set("net.inet.tcp.cc.abe", "1", v);
            Sysctl.Set("net.inet.tcp.cc.newreno.beta_ecn", "60", v);
            Assert.Equal(60u, Sysctl.Get("net.inet.tcp.cc.newreno.beta_ecn", v));
        });
    }

    [SkippableFact]
    public void EachVnetHasItsDefaultAndANewVnetStartsFromVnet0s()
    {
        Skip.IfNot(Vnet.IsVimage, "one vnet without VIMAGE");
        Vnet a = Vnet.Create("cc-a");
        try
        {
            Sysctl.Set("net.inet.tcp.cc.algorithm", "newreno", a);
            Assert.Equal("cubic", Sysctl.GetText("net.inet.tcp.cc.algorithm", Vnet.Vnet0));
            Assert.Same(NewReno.Instance, CcModules.DefaultOf(a));
            Assert.Same(Cubic.Instance, CcModules.DefaultOf(Vnet.Vnet0));
        }
        finally
        {
            a.Destroy();
        }
    }
}
