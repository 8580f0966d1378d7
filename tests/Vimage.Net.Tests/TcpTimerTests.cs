using System.Security.Cryptography;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;
using static Vimage.Net.Tests.TcpConnectionTests;

namespace Vimage.Net.Tests;

/// <summary>
/// Retransmission, backoff, persist, keepalive and delayed ACK, most of them on a virtual clock (time moves only when
/// the test advances it), with exact counter expectations.
/// </summary>
public class TcpTimerTests
{
    private const int Wait = 10_000;

    /// <summary>Why these need VIMAGE: exact per-side counters and segment sizes need two stacks over an epair (vnet0 alone shares its counters and talks over lo0's 16 kB MTU).</summary>
    private const string TwoStacks = "exact per-side expectations need two vnets over an epair";

    private static long T(Vnet v, TcpStat s) => Tcp.Tcp.Fetch(v, s);

    [SkippableFact]
    public void OneLostSegmentIsFastRetransmittedOnce()
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        using var net = StackFixture.Create("tcploss");
        using TcpSocket listener = Listen(net, 7030);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7030);
        using (c)
        using (s)
        {
            ushort cport = c.LocalPort;
            int dataSegments = 0;
            using var hook = new TcpDropHook(net.B, (sp, dp, f, len) => sp == cport && dp == 7030 && len > 0 && Interlocked.Increment(ref dataSegments) == 3);
            long rexmit = T(net.A, TcpStat.tcps_sndrexmitpack), rto = T(net.A, TcpStat.tcps_rexmttimeo), oo = T(net.B, TcpStat.tcps_rcvoopack);
            long dupacks = T(net.A, TcpStat.tcps_rcvdupack), dupB = T(net.B, TcpStat.tcps_rcvduppack);

            // 30 kB fit both buffers: the whole exchange runs on this thread, no reader interleaves window updates.
            byte[] data = RandomNumberGenerator.GetBytes(30_000);
            c.NoDelay = true;
            c.Send(data);
            Assert.Equal(data, ReadExactly(s, data.Length));
            Assert.Equal(1, hook.Dropped);
            Assert.True(rexmit + 1 == T(net.A, TcpStat.tcps_sndrexmitpack), $"rexmit {T(net.A, TcpStat.tcps_sndrexmitpack) - rexmit} dupack {T(net.A, TcpStat.tcps_rcvdupack) - dupacks} rto {T(net.A, TcpStat.tcps_rexmttimeo) - rto} oo {T(net.B, TcpStat.tcps_rcvoopack) - oo} dupB {T(net.B, TcpStat.tcps_rcvduppack) - dupB}");
            Assert.Equal(rto, T(net.A, TcpStat.tcps_rexmttimeo)); // no timeout was needed
            Assert.Equal(dupB, T(net.B, TcpStat.tcps_rcvduppack)); // nothing was sent twice needlessly
            Assert.True(T(net.B, TcpStat.tcps_rcvoopack) > oo);
            Assert.True(T(net.B, TcpStat.tcps_sack_send_blocks) > 0); // the receiver reported the out-of-order data (RFC 2018)
            Assert.Equal(0, s.Tcpcb.t_sackreport.Count); // and forgot the blocks once the hole was filled
            Assert.True(T(net.A, TcpStat.tcps_rcvdupack) >= dupacks + 3);
        }
    }

    /// <summary>
    /// tcp_reass accepts the segment that fills the first hole even with the queue at net.inet.tcp.reass.maxqueuelen
    /// (FreeBSD: the limit applies only when th_seq != rcv_nxt). Dropping it too froze a lossy transfer with Linux:
    /// every retransmission of the hole was refused as "reassembly queue full" while the queue waited for it.
    /// </summary>
    [SkippableFact]
    public void TheSegmentFillingTheHoleIsAcceptedWithTheReassemblyQueueFull()
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        using var net = StackFixture.Create("tcpreassfull");
        using var knobs = new SysctlScope().Set("net.inet.tcp.reass.maxqueuelen", 4, net.B);
        using TcpSocket listener = Listen(net, 7036);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7036);
        using (c)
        using (s)
        {
            ushort cport = c.LocalPort;
            int dataSegments = 0;
            using var hook = new TcpDropHook(net.B, (sp, dp, f, len) => sp == cport && dp == 7036 && len > 0 && Interlocked.Increment(ref dataSegments) == 2);
            long full = T(net.B, TcpStat.tcps_rcvreassfull);
            byte[] data = RandomNumberGenerator.GetBytes(30_000); // about 20 segments: far more than 4 queue behind the hole
            c.NoDelay = true;
            c.Send(data);
            Assert.Equal(data, ReadExactly(s, data.Length));
            Assert.Equal(1, hook.Dropped);
            Assert.True(T(net.B, TcpStat.tcps_rcvreassfull) > full, "the queue did fill up behind the hole");
        }
    }

    [SkippableFact]
    public void RetransmitTimeoutDoublesUntilTheConnectionIsDropped()
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        using var net = StackFixture.Create("tcprto");
        using var knobs = new SysctlScope().Set("net.inet.tcp.rexmit_slop", 0, net.A);
        using TcpSocket listener = Listen(net, 7031);
        using var clock = new VirtualClock();
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7031);
        using (c)
        using (s)
        {
            ushort cport = c.LocalPort;
            using var hook = new TcpDropHook(net.B, (sp, dp, f, len) => sp == cport && dp == 7031);
            Tcpcb tp = c.Tcpcb;
            long rto0 = tp.t_rxtcur;
            Assert.Equal(30_000, rto0); // rexmit_min: the handshake's RTT was 0 on the frozen clock
            long timeouts = T(net.A, TcpStat.tcps_rexmttimeo), timeoutdrop = T(net.A, TcpStat.tcps_timeoutdrop);
            c.Send("lost"u8);
            int[] backoff = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512, 512];
            for (int shift = 1; shift <= 12; shift++)
            {
                long before = T(net.A, TcpStat.tcps_rexmttimeo);
                long current = tp.t_rxtcur;
                clock.Advance(current - 1);
                Assert.Equal(before, T(net.A, TcpStat.tcps_rexmttimeo)); // not a microsecond early
                clock.Advance(1000);
                Assert.Equal(before + 1, T(net.A, TcpStat.tcps_rexmttimeo));
                Assert.Equal(shift, tp.t_rxtshift);
                Assert.Equal(Math.Min(rto0 * backoff[shift], 64_000_000), tp.t_rxtcur); // RFC 6298 §5.5: doubled, capped at 64 s
            }

            clock.Advance(tp.t_rxtcur + 1000);
            Assert.Equal(timeouts + 12, T(net.A, TcpStat.tcps_rexmttimeo));
            Assert.Equal(timeoutdrop + 1, T(net.A, TcpStat.tcps_timeoutdrop));
            Assert.Equal(TcpState.TCPS_CLOSED, c.State);
            Assert.Equal(Errno.ETIMEDOUT, Assert.Throws<NetSocketException>(() => c.Receive(new byte[1], Wait)).Errno);
        }
    }

    [SkippableFact]
    public async Task AZeroWindowIsProbedUntilTheReaderMakesRoom()
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        using var net = StackFixture.Create("tcppersist");
        using var knobs = new SysctlScope().Set("net.inet.tcp.persmin", 100, net.A).Set("net.inet.tcp.persmax", 400, net.A);
        using var clock = new VirtualClock();
        var listener = TcpSocket.Create(net.B);
        listener.ReceiveBufferSize = 8192;
        listener.Bind(InAddr.Any, 7032);
        listener.Listen();
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7032);
        using (listener)
        using (c)
        using (s)
        {
            byte[] data = RandomNumberGenerator.GetBytes(30_000);
            c.NonBlocking = true;
            int queued = c.Send(data); // what fits in the send buffer
            // Delayed ACKs shrink the offered window (receiver SWS avoidance ends it at zero) until the sender persists.
            Assert.True(clock.AdvanceUntil(() => c.Tcpcb.snd_wnd == 0 && c.Tcpcb.snd_una == c.Tcpcb.snd_max && c.Tcpcb.TimerActive(TcpTimerKind.TT_PERSIST), 20_000, 2_000_000),
                $"avail {s.Available} snd_wnd {c.Tcpcb.snd_wnd} una {c.Tcpcb.snd_una - c.Tcpcb.iss} max {c.Tcpcb.snd_max - c.Tcpcb.iss}");
            int rcvbuf = s.ReceiveBufferSize; // 8192 rounded up to whole segments by tcp_mss
            Assert.Equal((8192 + c.Tcpcb.t_maxseg - 1) / c.Tcpcb.t_maxseg * c.Tcpcb.t_maxseg, rcvbuf);
            Assert.True(s.Available > rcvbuf - 1448 && s.Available <= rcvbuf);
            clock.Advance(c.Tcpcb.t_timers[(int)TcpTimerKind.TT_PERSIST] - clock.NowUs - 1000); // to just before the first probe
            long probes = T(net.A, TcpStat.tcps_sndprobe), persist = T(net.A, TcpStat.tcps_persisttimeo);
            long received = T(net.A, TcpStat.tcps_rcvtotal);
            Assert.Equal(probes, T(net.A, TcpStat.tcps_sndprobe));
            clock.Advance(2000);
            Assert.True(Frames.WaitFor(() => T(net.A, TcpStat.tcps_sndprobe) == probes + 1, Wait)); // a one-byte probe past the window
            // The receiver's answer may run on a queue worker (direct dispatch falls back when the peer is busy): time
            // must not move on before it is processed, or the persist timer is re-armed from the later time.
            Assert.True(Frames.WaitFor(() => T(net.A, TcpStat.tcps_rcvtotal) > received, Wait));
            Assert.True(Frames.WaitFor(() => c.Tcpcb.TimerActive(TcpTimerKind.TT_PERSIST), Wait)); // still closed: probing goes on
            clock.Advance(400_000 + 1000); // backed off, at most persmax
            Assert.True(Frames.WaitFor(() => T(net.A, TcpStat.tcps_sndprobe) == probes + 2, Wait));
            Assert.Equal(persist + 2, T(net.A, TcpStat.tcps_persisttimeo));

            // The reader drains: window updates reopen the window and everything arrives.
            c.NonBlocking = false;
            var reader = Task.Run(() => ReadExactly(s, data.Length));
            c.Send(data.AsSpan(queued));
            Assert.Equal(data, await reader.WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }

    [SkippableFact]
    public void KeepaliveProbesThenDropsADeadPeer()
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        using var net = StackFixture.Create("tcpkeep");
        using var knobs = new SysctlScope().Set("net.inet.tcp.keepidle", 1000, net.A).Set("net.inet.tcp.keepintvl", 200, net.A).Set("net.inet.tcp.keepcnt", 3, net.A);
        using TcpSocket listener = Listen(net, 7033);
        using var clock = new VirtualClock();
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7033);
        using (c)
        using (s)
        {
            c.KeepAlive = true;
            ushort cport = c.LocalPort;
            long probes = T(net.A, TcpStat.tcps_keepprobe), drops = T(net.A, TcpStat.tcps_keepdrops);

            // The first idle period: the peer answers the probe, so nothing is dropped.
            clock.Advance(1_000_000 + 1000); // keepidle
            Assert.True(Frames.WaitFor(() => T(net.A, TcpStat.tcps_keepprobe) >= probes + 1, Wait));
            Assert.Equal(TcpState.TCPS_ESTABLISHED, c.State);

            // Now the peer is gone: keepcnt probes, keepintvl apart, then ETIMEDOUT.
            using var dead = new TcpDropHook(net.B, (sp, dp, f, len) => sp == cport);
            long p0 = T(net.A, TcpStat.tcps_keepprobe);
            Assert.True(clock.AdvanceUntil(() => c.State == TcpState.TCPS_CLOSED, 50_000, 10_000_000));
            Assert.Equal(drops + 1, T(net.A, TcpStat.tcps_keepdrops));
            Assert.InRange(T(net.A, TcpStat.tcps_keepprobe) - p0, 3, 4);
            Assert.Equal(Errno.ETIMEDOUT, Assert.Throws<NetSocketException>(() => c.Receive(new byte[1], Wait)).Errno);
        }
    }

    [SkippableFact]
    public void OneSegmentWaitsForTheDelayedAckTheSecondIsAckedAtOnce()
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        using var net = StackFixture.Create("tcpdelack");
        using TcpSocket listener = Listen(net, 7034);
        using var clock = new VirtualClock();
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7034);
        using (c)
        using (s)
        {
            c.NoDelay = true;
            Tcpcb ct = c.Tcpcb;
            long delack = T(net.B, TcpStat.tcps_delack);
            c.Send("one"u8);
            Assert.Equal("one"u8.ToArray(), ReadExactly(s, 3));
            Assert.True(s.Tcpcb.TimerActive(TcpTimerKind.TT_DELACK));
            Assert.NotEqual(ct.snd_max, ct.snd_una); // not acknowledged yet
            clock.Advance(39_000);
            Assert.NotEqual(ct.snd_max, ct.snd_una);
            clock.Advance(2_000); // net.inet.tcp.delacktime: 40 ms
            Assert.True(Frames.WaitFor(() => ct.snd_max == ct.snd_una, Wait));
            Assert.Equal(delack + 1, T(net.B, TcpStat.tcps_delack));

            // Two segments: the second is acknowledged at once (no timer needed).
            c.Send("two"u8);
            c.Send("three"u8);
            Assert.True(Frames.WaitFor(() => ct.snd_max == ct.snd_una, Wait));
            Assert.Equal(delack + 1, T(net.B, TcpStat.tcps_delack));
        }
    }
}
