using System.Diagnostics;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;
using static Vimage.Net.Tests.TcpConnectionTests;

namespace Vimage.Net.Tests;

/// <summary>Hostile segments against an established connection, vnet teardown with connections open, and many connections at once.</summary>
public class TcpHostileTests
{
    private const int Wait = 10_000;

    private static long T(Vnet v, TcpStat s) => Tcp.Tcp.Fetch(v, s);

    [SkippableFact]
    public void InWindowRstAndSynGetRateLimitedChallengeAcksOnlyAnExactRstResets()
    {
        Skip.IfNot(Vnet.IsVimage, "exact per-side counters need two vnets (vnet0 alone counts both ends and every other test's traffic)");
        using var net = StackFixture.Create("tcphostile");
        using TcpSocket listener = Listen(net, 7040);
        using var clock = new VirtualClock(); // the ack-war window (1 s) does not move under the test
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7040);
        using (c)
        using (s)
        {
            Tcpcb tp = s.Tcpcb;
            ushort cport = c.LocalPort;
            Assert.True(Frames.WaitFor(() => !tp.TimerActive(TcpTimerKind.TT_DELACK), Wait));
            long badrst = T(net.B, TcpStat.tcps_badrst), badsyn = T(net.B, TcpStat.tcps_badsyn), ctrl = T(net.B, TcpStat.tcps_sndctrl);
            long afterwin = T(net.B, TcpStat.tcps_rcvpackafterwin), toomuch = T(net.B, TcpStat.tcps_rcvacktoomuch);

            // RFC 5961 §3.2: a RST inside the window but not at rcv_nxt gets a challenge ACK, at most ack_war_cnt (5) per window.
            for (int i = 0; i < 8; i++)
            {
                net.Inject(TcpClosedPortTests.Segment(net, cport, 7040, tp.rcv_nxt + 100 + (uint)i, 0, TcpFlags.TH_RST));
            }

            Assert.True(Frames.WaitFor(() => T(net.B, TcpStat.tcps_badrst) == badrst + 8, Wait));
            Assert.Equal(ctrl + 5, T(net.B, TcpStat.tcps_sndctrl));
            Assert.Equal(TcpState.TCPS_ESTABLISHED, tp.t_state);

            // §4: a SYN on the connection is never acted on (its challenge ACK is over the limit now).
            net.Inject(TcpClosedPortTests.Segment(net, cport, 7040, tp.rcv_nxt + 5, 0, TcpFlags.TH_SYN));
            Assert.True(Frames.WaitFor(() => T(net.B, TcpStat.tcps_badsyn) == badsyn + 1, Wait));
            Assert.Equal(ctrl + 5, T(net.B, TcpStat.tcps_sndctrl));
            Assert.Equal(TcpState.TCPS_ESTABLISHED, tp.t_state);

            // Data far beyond the window: counted and dropped (with an ACK); an ACK of data never sent: counted.
            net.Inject(TcpClosedPortTests.Segment(net, cport, 7040, tp.rcv_nxt + 1_000_000, tp.snd_nxt, TcpFlags.TH_ACK, dataLength: 10));
            Assert.True(Frames.WaitFor(() => T(net.B, TcpStat.tcps_rcvpackafterwin) == afterwin + 1, Wait));
            net.Inject(TcpClosedPortTests.Segment(net, cport, 7040, tp.rcv_nxt, tp.snd_max + 5000, TcpFlags.TH_ACK));
            Assert.True(Frames.WaitFor(() => T(net.B, TcpStat.tcps_rcvacktoomuch) == toomuch + 1, Wait));
            Assert.Equal(0, s.Available);

            // Bad options (a truncated and a zero-length one) are walked safely; the connection still carries data.
            c.Send("ok"u8);
            Assert.Equal("ok"u8.ToArray(), ReadExactly(s, 2));

            // The next ack-war window allows challenge ACKs again.
            clock.Advance(1_100_000);
            net.Inject(TcpClosedPortTests.Segment(net, cport, 7040, tp.rcv_nxt + 1, 0, TcpFlags.TH_RST));
            Assert.True(Frames.WaitFor(() => T(net.B, TcpStat.tcps_sndctrl) == ctrl + 6, Wait));

            // A RST exactly at rcv_nxt resets the connection.
            net.Inject(TcpClosedPortTests.Segment(net, cport, 7040, tp.rcv_nxt, 0, TcpFlags.TH_RST));
            Assert.Equal(Errno.ECONNRESET, Assert.Throws<NetSocketException>(() => s.Receive(new byte[1], Wait)).Errno);
            Assert.Equal(TcpState.TCPS_CLOSED, tp.t_state);
        }
    }

    [SkippableFact]
    public void DestroyingAVnetWithOpenConnectionsLeaksNoBufferAndNoTimer()
    {
        Skip.IfNot(Vnet.IsVimage, "needs vnets to destroy (vnet0 is never destroyed)");
        long baseline = MbufLeak.Baseline();
        int pending = TcpTimerWheel.Pending;
        TcpSocket c1, c2, c3, s1, s2;
        using (var net = StackFixture.Create("tcpteardown"))
        {
            using var knobs = new SysctlScope();
            TcpSocket listener = Listen(net, 7041);
            (c1, s1) = Pair(net, listener, 7041);
            (c2, s2) = Pair(net, listener, 7041);
            c3 = TcpSocket.Create(net.A);
            c3.Connect(net.AddrB, 7041, Wait); // left on the accept queue

            c1.Send(new byte[5000]); // unread in B's receive buffer
            Assert.True(Frames.WaitFor(() => s1.Available == 5000, Wait));
            ushort c2port = c2.LocalPort;
            using var hook = new TcpDropHook(net.B, (sp, dp, f, len) => sp == c2port);
            c2.Send(new byte[20_000]); // unacknowledged in A's send buffer, retransmit timer running
            s1.Close(); // FIN_WAIT_1 / CLOSE_WAIT with timers
            Assert.True(TcpTimerWheel.Pending > pending);
        }

        MbufLeak.AssertBack(baseline);
        Assert.True(Frames.WaitFor(() => TcpTimerWheel.Pending == pending, Wait), $"wheel holds {TcpTimerWheel.Pending - pending} more entries: {string.Join("; ", TcpTimerWheel.Describe().Take(5))}");
        Assert.Throws<ObjectDisposedException>(() => c1.Send("x"u8));
        Assert.Throws<ObjectDisposedException>(() => s2.Receive(new byte[1]));
    }

    [Fact]
    public void AThousandConnectionsShareOneTimerThread()
    {
        using var net = StackFixture.Create("tcp1000");
        using var knobs = new SysctlScope().Set("net.inet.tcp.msl", 50, net.A, net.B);
        using TcpSocket listener = Listen(net, 7042, backlog: 1024);
        int pcbs = Tcp.Tcp.PcbCount(net.A) + (net.TwoVnets ? Tcp.Tcp.PcbCount(net.B) : 0);
        int threadsBefore = Process.GetCurrentProcess().Threads.Count;
        int pendingBefore = TcpTimerWheel.Pending;
        const int N = 1000;
        var clients = new TcpSocket[N];
        var servers = new TcpSocket[N];
        try
        {
            for (int i = 0; i < N; i++)
            {
                clients[i] = TcpSocket.Create(net.A);
                clients[i].Connect(net.AddrB, 7042, Wait);
                servers[i] = listener.Accept(Wait);
            }

            // Every connection has its keepalive timer armed: 2,000 entries on one wheel, one thread.
            Assert.True(TcpTimerWheel.Pending >= pendingBefore + 2 * N);
            Assert.Equal(1, TcpTimerWheel.Threads);
            Assert.True(Process.GetCurrentProcess().Threads.Count < threadsBefore + 20, "threads grew with the connections");

            byte[] one = new byte[1];
            for (int i = 0; i < N; i++)
            {
                clients[i].Send([(byte)i]);
                Assert.Equal(1, servers[i].Receive(one, Wait));
                Assert.Equal((byte)i, one[0]);
                servers[i].Send(one);
                Assert.Equal(1, clients[i].Receive(one, Wait));
            }
        }
        finally
        {
            foreach (TcpSocket? c in clients)
            {
                c?.Close();
            }

            foreach (TcpSocket? s in servers)
            {
                s?.Close();
            }
        }

        // All of them close cleanly: FIN both ways, TIME_WAIT (2·MSL = 100 ms), then gone.
        Assert.True(Frames.WaitFor(() => Tcp.Tcp.PcbCount(net.A) + (net.TwoVnets ? Tcp.Tcp.PcbCount(net.B) : 0) == pcbs, 20_000),
            $"{Tcp.Tcp.PcbCount(net.A)} PCBs left");
    }
}

/// <summary>The syncache under a SYN flood: bounded, and SYN cookies keep legitimate handshakes working.</summary>
public class TcpSynFloodTests
{
    private const int Wait = 10_000;

    [SkippableFact]
    public void AFloodOfSpoofedSynsStaysWithinTheCacheLimitAndALegitimateClientConnects()
    {
        Skip.IfNot(Vnet.IsVimage, "the flood's spoofed sources need B to be its own stack");
        using var net = StackFixture.Create("tcpflood");
        using var knobs = new SysctlScope().Set("net.inet.tcp.syncache.cachelimit", 2000, net.B);
        using TcpSocket listener = Listen(net, 7050);
        long overflow = Tcp.Tcp.Fetch(net.B, TcpStat.tcps_sc_bucketoverflow) + Tcp.Tcp.Fetch(net.B, TcpStat.tcps_sc_cacheoverflow);
        long baseline = MbufLeak.Baseline();

        // 100,000 SYNs from addresses nobody answers for (no route back: the SYN-ACKs go nowhere).
        byte[] frame = TcpClosedPortTests.Segment(net, 1, 7050, 1000, 0, TcpFlags.TH_SYN);
        for (int i = 0; i < 100_000; i++)
        {
            uint spoofed = 0xC6336400u + (uint)(i % 250) + 1; // 198.51.100.x
            new InAddr(spoofed).Write(frame.AsSpan(14 + 12));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34), (ushort)(1024 + (i / 250)));
            RefreshChecksums(frame);
            net.Inject(frame);
            if (i % 10_000 == 0)
            {
                Assert.True(Tcp.Tcp.SyncacheCount(net.B) <= 2000);
            }
        }

        Assert.True(Frames.WaitFor(() => Tcp.Tcp.Fetch(net.B, TcpStat.tcps_rcvtotal) >= 100_000, 60_000));
        Assert.True(Tcp.Tcp.SyncacheCount(net.B) <= 2000, $"{Tcp.Tcp.SyncacheCount(net.B)} entries");
        Assert.True(Tcp.Tcp.Fetch(net.B, TcpStat.tcps_sc_bucketoverflow) + Tcp.Tcp.Fetch(net.B, TcpStat.tcps_sc_cacheoverflow) > overflow);

        // A real client still gets in (its entry, or its cookie if the flood evicted the entry).
        using var c = TcpSocket.Create(net.A);
        c.Connect(net.AddrB, 7050, Wait);
        using TcpSocket s = listener.Accept(Wait);
        c.Send("hi"u8);
        Assert.Equal("hi"u8.ToArray(), ReadExactly(s, 2));
        MbufLeak.WaitIdle();
        Assert.True(MbufPool.Clusters.Outstanding - baseline < 200, $"{MbufPool.Clusters.Outstanding - baseline} buffers held after the flood");
    }

    private static void RefreshChecksums(byte[] f)
    {
        Span<byte> ip = f.AsSpan(14, 20);
        ip[10] = ip[11] = 0;
        ushort ipsum = Checksum.Finish(Checksum.Sum(ip, 0));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(ip[10..], ipsum);
        TcpHeader.SetChecksum(f.AsSpan(34), InAddr.Read(ip[12..]), InAddr.Read(ip[16..]));
    }
}

/// <summary>tcp_ctlinput: ICMP errors quoting our segments.</summary>
public class TcpCtlInputTests
{
    private const int Wait = 10_000;

    /// <summary>An ICMP unreachable from B to A quoting a TCP segment A sent (AddrA:sport → AddrB:dport, seq).</summary>
    private static byte[] Unreach(StackFixture net, byte code, ushort sport, ushort dport, uint seq, ushort mtu = 0)
    {
        byte[] icmp = new byte[8 + 20 + 8];
        icmp[0] = IcmpType.Unreach;
        icmp[1] = code;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), mtu);
        IpHeader.Write(icmp.AsSpan(8, 20), 1500, 0x1111, 0, 64, IpProto.Tcp, net.AddrA, net.AddrB);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(28), sport);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(30), dport);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(icmp.AsSpan(32), seq);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), Checksum.Compute(icmp));
        byte[] f = new byte[14 + 20 + icmp.Length];
        net.IfA.Lladdr.CopyTo(f, 0);
        net.IfB.Lladdr.CopyTo(f, 6);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        IpHeader.Write(f.AsSpan(14, 20), 20 + icmp.Length, 0x2222, 0, 64, IpProto.Icmp, net.AddrB, net.AddrA);
        icmp.CopyTo(f, 34);
        return f;
    }

    private static void InjectIntoA(StackFixture net, byte[] frame)
    {
        using (Curvnet.Set(net.B))
        {
            Assert.True(Frames.Send(net.IfB, frame));
        }
    }

    [SkippableFact]
    public void FragmentationNeededLowersTheMssAndResends()
    {
        Skip.IfNot(Vnet.IsVimage, "the ICMP error is injected into A over the epair");
        using var net = StackFixture.Create("tcpmtu");
        using TcpSocket listener = Listen(net, 7060);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7060);
        using (c)
        using (s)
        {
            ushort cport = c.LocalPort;
            bool hold = true;
            using var hook = new TcpDropHook(net.B, (sp, dp, f, len) => hold && sp == cport && len > 0);
            c.Send(new byte[5000]);
            Tcpcb tp = c.Tcpcb;
            Assert.True(Frames.WaitFor(() => tp.snd_max != tp.snd_una, Wait));
            long resent = Tcp.Tcp.Fetch(net.A, TcpStat.tcps_mturesent);

            // A forged error (sequence number not outstanding) is ignored.
            InjectIntoA(net, Unreach(net, IcmpCode.UnreachNeedFrag, cport, 7060, tp.snd_max + 100_000, mtu: 1000));
            Assert.False(Frames.WaitFor(() => tp.maxseg != 1460, 200));

            hold = false;
            InjectIntoA(net, Unreach(net, IcmpCode.UnreachNeedFrag, cport, 7060, tp.snd_una, mtu: 1000));
            Assert.True(Frames.WaitFor(() => tp.maxseg == 960, Wait));
            Assert.Equal(resent + 1, Tcp.Tcp.Fetch(net.A, TcpStat.tcps_mturesent));
            Assert.Equal(5000, ReadExactly(s, 5000).Length);
        }
    }

    [SkippableFact]
    public void PortUnreachableDuringSynSentRefusesTheConnection()
    {
        Skip.IfNot(Vnet.IsVimage, "the ICMP error is injected into A over the epair");
        using var net = StackFixture.Create("tcpicmprefuse");
        using var knobs = new SysctlScope().Set("net.inet.tcp.blackhole", 2, net.B);
        using var c = TcpSocket.Create(net.A);
        c.NonBlocking = true;
        Assert.Equal(Errno.EINPROGRESS, Assert.Throws<NetSocketException>(() => c.Connect(net.AddrB, 7061)).Errno);
        Assert.Equal(TcpState.TCPS_SYN_SENT, c.State);
        InjectIntoA(net, Unreach(net, IcmpCode.UnreachPort, c.LocalPort, 7061, c.Tcpcb.iss));
        Assert.True(Frames.WaitFor(() => c.State == TcpState.TCPS_CLOSED, Wait));
        Assert.Equal(Errno.ECONNREFUSED, c.Socket.GetOption(SoOption.SO_ERROR));
    }
}

/// <summary>The data path allocates nothing per segment in steady state.</summary>
public class TcpAllocationTests
{
    [SkippableTheory]
    [InlineData(true)] // one TSO segment per 16 KiB send, crossing the epair whole
    [InlineData(false)] // -tso: wire-sized segments with the checksum offloaded
    public void SteadyBulkTransferAllocatesNothingPerSegment(bool tso)
    {
        Skip.IfNot(Vnet.IsVimage, "measured over the epair's inline dispatch");
        using var net = StackFixture.Create($"tcpalloc-{tso}");
        if (!tso)
        {
            net.IfA.SetCapabilities(IfCap.None, IfCap.IFCAP_TSO4);
        }

        using TcpSocket listener = Listen(net, 7070);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7070);
        using (c)
        using (s)
        {
            byte[] chunk = new byte[16 * 1024];
            byte[] rx = new byte[16 * 1024];
            void Exchange(int rounds)
            {
                for (int i = 0; i < rounds; i++)
                {
                    c.Send(chunk); // the receiver's input, its ACKs and our next segments all run inline on this thread
                    int got = 0;
                    while (got < chunk.Length)
                    {
                        got += s.Receive(rx, 10_000);
                    }
                }
            }

            Exchange(64); // warm: pools, queues and buffers reach their working size
            long segments = Tcp.Tcp.Fetch(net.A, TcpStat.tcps_sndpack);
            long before = GC.GetAllocatedBytesForCurrentThread();
            Exchange(256); // 4 MB
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            segments = Tcp.Tcp.Fetch(net.A, TcpStat.tcps_sndpack) - segments;
            Assert.True(segments >= (tso ? 256 : 2000), $"{segments} segments");
            Assert.True(allocated < 1024, $"{allocated} bytes allocated for {segments} segments");
        }
    }
}
