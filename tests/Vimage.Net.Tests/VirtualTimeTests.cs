using System.Buffers.Binary;
using System.Diagnostics;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Pfil;
using Vimage.Net.Tcp;
using static Vimage.Net.Tests.TcpConnectionTests;

namespace Vimage.Net.Tests;

/// <summary>
/// The stack's virtual clock (NetTimers.UseVirtualClock / AdvanceTo): time moves only when told, and an advance runs
/// every timer due on the way at its own instant — the TCP callout wheel and the slow per-vnet timers — with no
/// special case in TCP and no real waiting.
/// </summary>
public class VirtualTimeTests
{
    private const int Wait = 10_000;

    /// <summary>Puts the stack on virtual time for one test; always back to the real clock after.</summary>
    private sealed class VirtualTime : IDisposable
    {
        public VirtualTime()
        {
            NetTimers.UseVirtualClock();
            NetTimers.AdvanceTo(((NetTimers.NowUs / 1000) + 1) * 1000); // on a millisecond boundary: the wheel's tick
        }

        public void Dispose() => NetTimers.UseRealClock();
    }

    [Fact]
    public void TheVirtualClockMovesOnlyWhenAdvanced()
    {
        using var vt = new VirtualTime();
        long t0 = NetTimers.NowUs;
        long ms0 = NetTimers.NowMs;
        Thread.Sleep(30); // real time passes (not synchronisation: this checks the clock ignores it)
        Assert.Equal(t0, NetTimers.NowUs);
        Assert.Equal(ms0, NetTimers.NowMs);
        NetTimers.AdvanceTo(t0 + 2_500_000);
        Assert.Equal(t0 + 2_500_000, NetTimers.NowUs);
        Assert.Equal(ms0 + 2_500, NetTimers.NowMs);
        NetTimers.AdvanceTo(t0); // the past: no-op
        Assert.Equal(t0 + 2_500_000, NetTimers.NowUs);
    }

    [Fact]
    public void BackOnTheRealClockTimeContinuesFromTheVirtualTimeReached()
    {
        long reached;
        using (new VirtualTime())
        {
            NetTimers.Advance(5_000_000);
            reached = NetTimers.NowUs;
        }

        long after = NetTimers.NowUs;
        Assert.True(after >= reached, $"the clock went back from {reached} to {after}");
        Assert.True(after < reached + 5_000_000, $"{after - reached} µs after leaving virtual time");
        long ms = NetTimers.NowMs;
        using (new VirtualTime())
        {
            Assert.True(NetTimers.NowMs >= ms);
        }
    }

    [Fact]
    public void AdvancingRunsTheSlowTimersEveryInterval()
    {
        using var net = StackFixture.Create("vtslow");
        int ticks = 0;
        NetTimers.RegisterPerVnet(() =>
        {
            if (Curvnet.Current == net.A)
            {
                Interlocked.Increment(ref ticks);
            }
        });
        using var vt = new VirtualTime();
        int before = Volatile.Read(ref ticks);
        NetTimers.Advance(10 * (long)NetTimers.Interval.TotalMicroseconds);
        Assert.Equal(10, Volatile.Read(ref ticks) - before);
    }

    [Fact]
    public void SynRetransmitFiresExactlyAtTheRtoWithoutWaiting()
    {
        using var net = StackFixture.Create("vtrto");
        using var knobs = new SysctlScope().Set("net.inet.tcp.rexmit_initial", 1000, net.A);
        // The SYNs are timed where they leave A (pfil out runs on the sending thread, inside the advance) and dropped
        // where they reach B; delivery between the two may lag in real time (lo0's queue without VIMAGE).
        var seen = new List<long>();
        PfilHook timer = (m, ifp, dir, hop) =>
        {
            ReadOnlySpan<byte> p = m.Data;
            if (p.Length >= 40 && p[9] == IpProto.Tcp && BinaryPrimitives.ReadUInt16BigEndian(p[((p[0] & 0xf) * 4 + 2)..]) == 7031
                && (p[(p[0] & 0xf) * 4 + 13] & (byte)TcpFlags.TH_SYN) != 0)
            {
                lock (seen)
                {
                    seen.Add(NetTimers.NowUs);
                }
            }

            return PfilResult.Pass;
        };
        using (Curvnet.Set(net.A))
        {
            PfilHeads.Link(timer, PfilDir.Out);
        }

        using var unlink = new Unlink(net.A, timer);
        using var hook = new TcpDropHook(net.B, (sp, dp, f, len) => dp == 7031 && (f & TcpFlags.TH_SYN) != 0);
        int Seen()
        {
            lock (seen)
            {
                return seen.Count;
            }
        }

        var wall = Stopwatch.StartNew();
        using var vt = new VirtualTime();
        long t0 = NetTimers.NowUs;
        using var c = TcpSocket.Create(net.A);
        c.NonBlocking = true;
        Assert.ThrowsAny<Exception>(() => c.Connect(net.AddrB, 7031)); // EINPROGRESS: the SYN is out
        Assert.Equal(1, Seen());
        NetTimers.AdvanceTo(t0 + 999_000);
        Assert.Equal(1, Seen()); // not a millisecond early
        NetTimers.AdvanceTo(t0 + 1_000_000);
        Assert.Equal(2, Seen());
        lock (seen)
        {
            Assert.Equal(t0, seen[0]);
            Assert.Equal(t0 + 1_000_000, seen[1]); // the retransmission left at exactly the RTO of virtual time
        }

        // Then tcp_syn_backoff (1, 1, 1, 1, 1, 2, 4, 8, 16) times rexmit_initial, plus rexmit_slop (TCPT_RANGESET), each
        // at exactly its instant; a minute of virtual time takes no minute of real time.
        NetTimers.AdvanceTo(t0 + 60_000_000);
        long[] expected = [0, 1_000_000, 2_200_000, 3_400_000, 4_600_000, 5_800_000, 8_000_000, 12_200_000, 20_400_000, 36_600_000];
        lock (seen)
        {
            Assert.Equal(expected, seen.Take(expected.Length).Select(t => t - t0).ToArray());
        }

        Assert.True(wall.Elapsed < TimeSpan.FromSeconds(30), $"{wall.Elapsed}");
    }

    private sealed class Unlink(Vnet vnet, PfilHook hook) : IDisposable
    {
        public void Dispose()
        {
            using (Curvnet.Set(vnet))
            {
                PfilHeads.Unlink(hook);
            }
        }
    }

    [Fact]
    public void TimeWaitEndsAtTwoMslOfVirtualTime()
    {
        using var net = StackFixture.Create("vttw");
        using var knobs = new SysctlScope().Set("net.inet.tcp.msl", 30_000, net.B); // 30 s: a minute of 2·MSL
        using var vt = new VirtualTime();
        TcpSocket listener = Listen(net, 7032);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7032);
        listener.Close();
        s.Close();
        Assert.Equal(0, c.Receive(new byte[1], Wait));
        c.Close();
        Tcpcb tw = s.Tcpcb;
        Assert.True(Frames.WaitFor(() => tw.t_state == TcpState.TCPS_TIME_WAIT, Wait));
        long start = NetTimers.NowUs; // virtual time stood still since the FIN arrived
        NetTimers.AdvanceTo(start + 60_000_000 - 1_000);
        Assert.Equal(TcpState.TCPS_TIME_WAIT, tw.t_state);
        NetTimers.AdvanceTo(start + 60_000_000);
        Assert.Equal(TcpState.TCPS_CLOSED, tw.t_state);
    }
}
