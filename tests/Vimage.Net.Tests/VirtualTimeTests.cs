using System.Diagnostics;
using Vimage.Core;
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
        var seen = new List<long>();
        using var hook = new TcpDropHook(net.B, (sp, dp, f, len) =>
        {
            if (dp == 7031 && (f & TcpFlags.TH_SYN) != 0)
            {
                lock (seen)
                {
                    seen.Add(NetTimers.NowUs);
                }

                return true;
            }

            return false;
        });
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
        Assert.True(Frames.WaitFor(() => Seen() == 1, Wait));
        NetTimers.AdvanceTo(t0 + 999_000);
        Assert.Equal(1, Seen()); // not a millisecond early
        NetTimers.AdvanceTo(t0 + 1_000_000);
        Assert.True(Frames.WaitFor(() => Seen() == 2, Wait));
        lock (seen)
        {
            Assert.Equal(t0, seen[0]);
            Assert.Equal(t0 + 1_000_000, seen[1]); // the retransmission left at exactly the RTO of virtual time
        }

        // Further retransmissions back off; a minute of virtual time takes no minute of real time.
        NetTimers.AdvanceTo(t0 + 60_000_000);
        Assert.True(Frames.WaitFor(() => Seen() >= 4, Wait));
        lock (seen)
        {
            for (int i = 2; i < seen.Count; i++)
            {
                Assert.True(seen[i] - seen[i - 1] >= seen[i - 1] - seen[i - 2], $"no backoff: {string.Join(",", seen)}");
            }
        }

        Assert.True(wall.Elapsed < TimeSpan.FromSeconds(30), $"{wall.Elapsed}");
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
