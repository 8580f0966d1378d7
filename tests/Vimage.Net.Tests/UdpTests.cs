using System.Buffers.Binary;
using System.Collections.Concurrent;
using PacketDotNet;
using Vimage.Core;
using Vimage.Net.Bpf;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;

namespace Vimage.Net.Tests;

/// <summary>udp_input / udp_output: validation counters, PCB lookup, ICMP port unreachable, checksums, broadcast.</summary>
public class UdpTests
{
    private const int Wait = 10_000;

    private static long U(Vnet v, UdpStat s) => StackFixture.FetchUdp(v, s);

    /// <summary>Sends one datagram A→B and receives it, so ARP is resolved before a burst.</summary>
    private static void Prime(StackFixture net, ushort port = 65000)
    {
        using var rx = UdpSocket.Create(net.B);
        rx.Bind(InAddr.Any, port);
        using var tx = UdpSocket.Create(net.A);
        tx.SendTo("prime"u8, net.AddrB, port);
        rx.ReceiveFrom(new byte[8], out _, out _, Wait);
    }

    /// <summary>
    /// Sends once more on <paramref name="tx"/>'s flow, now to a listener, and receives it. One flow keeps its order
    /// (FlowHash: one queue per flow), so when it arrives B has finished the flow's earlier datagrams and any ICMP
    /// they caused.
    /// </summary>
    private static void FlowBarrier(StackFixture net, UdpSocket tx, InAddr destination, ushort port)
    {
        using var listener = UdpSocket.Create(net.B);
        listener.Bind(InAddr.Any, port);
        tx.SendTo("barrier"u8, destination, port);
        Assert.Equal(7, listener.ReceiveFrom(new byte[16], out _, out _, Wait));
    }

    /// <summary>
    /// An echo A→B: its reply travels B→A on the flow of B's earlier ICMP errors, so once A's ping socket has it,
    /// A's listeners have handled those errors.
    /// </summary>
    private static void IcmpBarrier(StackFixture net)
    {
        using PingSocket ping = PingSocket.Open(net.A);
        PingBarrier.NothingBefore(ping, net.AddrB, 1);
    }

    [Fact]
    public void CountsInputAndOutputPackets()
    {
        using var net = StackFixture.Create("ucount");
        Prime(net);
        long outA = U(net.A, UdpStat.udps_opackets), inB = U(net.B, UdpStat.udps_ipackets);
        using var rx = UdpSocket.Create(net.B);
        rx.Bind(InAddr.Any, 1000);
        using var tx = UdpSocket.Create(net.A);
        for (int i = 0; i < 10; i++)
        {
            tx.SendTo([(byte)i], net.AddrB, 1000);
        }

        Assert.True(Frames.WaitFor(() => rx.QueuedDatagrams == 10, Wait));
        Assert.Equal(outA + 10, U(net.A, UdpStat.udps_opackets));
        Assert.Equal(inB + 10, U(net.B, UdpStat.udps_ipackets));
        Assert.NotNull(Sysctl.Get("net.inet.udp.stats", net.B));
    }

    [Fact]
    public void NoSocketAnswersPortUnreachableAndConnectedSenderSeesEconnrefused()
    {
        using var net = StackFixture.Create("unreach");
        Prime(net);
        long icmpOut = net.IcmpOut(net.B, IcmpType.Unreach), noport = U(net.B, UdpStat.udps_noport);
        using var client = UdpSocket.Create(net.A);
        client.Connect(net.AddrB, 9);
        client.Send("anyone?"u8);
        var e = Assert.Throws<NetSocketException>(() => client.ReceiveFrom(new byte[16], out _, out _, Wait));
        Assert.Equal(Errno.ECONNREFUSED, e.Errno);
        Assert.Equal("recvfrom: Connection refused", e.Message);
        Assert.Equal(icmpOut + 1, net.IcmpOut(net.B, IcmpType.Unreach));
        Assert.Equal(noport + 1, U(net.B, UdpStat.udps_noport));

        // so_error is reported once.
        Assert.Equal(NetSocketException.EAGAIN, Assert.Throws<NetSocketException>(() => client.ReceiveFrom(new byte[16], out _, out _, 50)).Errno);

        // The next send reports a new refusal (the error arrives between sends).
        long icmpInA = StackFixture.In(net.A, () => Icmp.FetchInHist(IcmpType.Unreach));
        client.Send("again"u8);
        Assert.True(Frames.WaitFor(() => StackFixture.In(net.A, () => Icmp.FetchInHist(IcmpType.Unreach)) > icmpInA, Wait));
        IcmpBarrier(net); // the histogram counts before the listeners run: wait until they have
        Assert.Equal(Errno.ECONNREFUSED, Assert.Throws<NetSocketException>(() => client.Send("x"u8)).Errno);

        // An unconnected socket is not told (BSD semantics), but the ICMP is still sent.
        using var loose = UdpSocket.Create(net.A);
        loose.SendTo("?"u8, net.AddrB, 9);
        Assert.True(Frames.WaitFor(() => net.IcmpOut(net.B, IcmpType.Unreach) == icmpOut + 3, Wait));
        IcmpBarrier(net); // A has handled that ICMP: had it told the socket, the error would be pending now
        Assert.Equal(NetSocketException.EAGAIN, Assert.Throws<NetSocketException>(() => loose.ReceiveFrom(new byte[16], out _, out _, 0)).Errno);
    }

    [Fact]
    public void BlackholeSuppressesPortUnreachable()
    {
        using var net = StackFixture.Create("bhole");
        Prime(net);
        Sysctl.Set("net.inet.udp.blackhole", 1, net.B);
        try
        {
            long icmpOut = net.IcmpOut(net.B, IcmpType.Unreach), noport = U(net.B, UdpStat.udps_noport);
            using var client = UdpSocket.Create(net.A);
            client.SendTo("dropped"u8, net.AddrB, 9);
            Assert.True(Frames.WaitFor(() => U(net.B, UdpStat.udps_noport) == noport + 1, Wait));
            FlowBarrier(net, client, net.AddrB, 9);
            Assert.Equal(icmpOut, net.IcmpOut(net.B, IcmpType.Unreach));
            if (net.TwoVnets)
            {
                Assert.Equal(0, Sysctl.Get("net.inet.udp.blackhole", net.A) is int v ? v : -1); // virtualized
            }
        }
        finally
        {
            Sysctl.Set("net.inet.udp.blackhole", 0, net.B);
        }
    }

    [Fact]
    public void AFullReceiveBufferDropsAndCountsFullsock()
    {
        using var net = StackFixture.Create("full");
        Prime(net);
        using var rx = UdpSocket.Create(net.B);
        rx.Bind(InAddr.Any, 1500);
        long full = U(net.B, UdpStat.udps_fullsock), inB = U(net.B, UdpStat.udps_ipackets);
        using var tx = UdpSocket.Create(net.A);
        const int count = 100, size = 1000; // 100 KB into a 42080-byte buffer
        for (int i = 0; i < count; i++)
        {
            tx.SendTo(new byte[size], net.AddrB, 1500);
            if (i % 16 == 15)
            {
                // Keep the epair's queue from overflowing (we test the socket buffer): let B take each 16 in.
                int sent = i + 1;
                Assert.True(Frames.WaitFor(() => U(net.B, UdpStat.udps_ipackets) - inB == sent, Wait));
            }
        }

        Assert.True(Frames.WaitFor(() => U(net.B, UdpStat.udps_ipackets) - inB >= count, Wait),
            $"ipackets {U(net.B, UdpStat.udps_ipackets) - inB}");
        long dropped = U(net.B, UdpStat.udps_fullsock) - full;
        Assert.Equal(count, rx.QueuedDatagrams + dropped);
        Assert.Equal(42080 / (size + 16), rx.QueuedDatagrams); // sbappendaddr charges the sockaddr too
        Assert.True(rx.Available <= rx.ReceiveBufferSize);

        // Reading makes room again.
        byte[] buffer = new byte[size];
        rx.Receive(buffer, 0);
        tx.SendTo(new byte[size], net.AddrB, 1500);
        Assert.True(Frames.WaitFor(() => rx.QueuedDatagrams == 42080 / (size + 16), Wait));
    }

    [Fact]
    public void MalformedDatagramsAreCountedAndDropped()
    {
        using var net = StackFixture.Create("bad");
        Prime(net);
        using var rx = UdpSocket.Create(net.B);
        rx.Bind(InAddr.Any, 2000);
        long hdrops = U(net.B, UdpStat.udps_hdrops), badlen = U(net.B, UdpStat.udps_badlen), badsum = U(net.B, UdpStat.udps_badsum);
        long nosum = U(net.B, UdpStat.udps_nosum), ipackets = U(net.B, UdpStat.udps_ipackets);

        // Shorter than a UDP header.
        net.Inject(net.Frame(net.UdpSegment(1, 2000, [])[..4]));

        // Length field larger than the IP payload, and smaller than a header.
        byte[] longer = net.UdpSegment(1, 2000, "abcd"u8);
        BinaryPrimitives.WriteUInt16BigEndian(longer.AsSpan(4), 40);
        net.Inject(net.Frame(longer));
        byte[] tiny = net.UdpSegment(1, 2000, "abcd"u8);
        BinaryPrimitives.WriteUInt16BigEndian(tiny.AsSpan(4), 7);
        net.Inject(net.Frame(tiny));

        // Wrong checksum.
        byte[] corrupt = net.UdpSegment(1, 2000, "payload"u8);
        corrupt[^1] ^= 0x55;
        net.Inject(net.Frame(corrupt));

        Assert.True(Frames.WaitFor(() => U(net.B, UdpStat.udps_ipackets) - ipackets == 4, Wait));
        Assert.Equal(hdrops + 1, U(net.B, UdpStat.udps_hdrops));
        Assert.Equal(badlen + 2, U(net.B, UdpStat.udps_badlen));
        Assert.Equal(badsum + 1, U(net.B, UdpStat.udps_badsum));
        Assert.Equal(0, rx.QueuedDatagrams);

        // No checksum: accepted and counted.
        byte[] unchecked_ = net.UdpSegment(4321, 2000, "nosum"u8);
        unchecked_[6] = unchecked_[7] = 0;
        net.Inject(net.Frame(unchecked_));
        byte[] buffer = new byte[32];
        Assert.Equal(5, rx.ReceiveFrom(buffer, out InAddr from, out ushort port, Wait));
        Assert.Equal((net.AddrA, (ushort)4321), (from, port));
        Assert.Equal(nosum + 1, U(net.B, UdpStat.udps_nosum));

        // UDP length shorter than the IP payload: trimmed to the UDP length (checksum over the UDP length).
        byte[] inner = net.UdpSegment(4321, 2000, "keep"u8);
        byte[] padded = [.. inner, .. "JUNKJUNK"u8.ToArray()];
        net.Inject(net.Frame(padded));
        Assert.Equal(4, rx.ReceiveFrom(buffer, out _, out _, Wait));
        Assert.Equal("keep"u8.ToArray(), buffer[..4]);
    }

    [Fact]
    public void OurChecksumsVerifyWithPacketDotNet()
    {
        using var net = StackFixture.Create("cksum");
        Prime(net);
        using var rx = UdpSocket.Create(net.B);
        rx.Bind(InAddr.Any, 3000);
        using var tx = UdpSocket.Create(net.A);
        tx.Bind(net.AddrA, 0);
        var captured = new ConcurrentQueue<byte[]>();
        Ifnet wire = net.OutboundA;

        // With TXCSUM the sending interface's bpf sees the pseudo-header sum only, as on FreeBSD: turned off here
        // (and back on, lo0 is shared without VIMAGE) so ip_output computes every checksum.
        IfCap saved = wire.CapEnable;
        wire.SetCapabilities(IfCap.None, IfCap.IFCAP_TXCSUM);
        using var restore = new Restore(() => wire.SetCapabilities(saved, ~saved));
        using BpfSession session = wire.Bpf.Attach((frame, dir, ts) => captured.Enqueue(frame.ToArray()), Direction.Out);

        UdpPacket Capture(Func<UdpPacket, bool> match)
        {
            UdpPacket? found = null;
            Assert.True(Frames.WaitFor(() =>
            {
                while (captured.TryDequeue(out byte[]? bytes))
                {
                    Packet p = net.OutboundIsEthernet
                        ? Packet.ParsePacket(LinkLayers.Ethernet, bytes)
                        : new IPv4Packet(new PacketDotNet.Utils.ByteArraySegment(bytes));
                    if (p.Extract<UdpPacket>() is { } u && match(u))
                    {
                        found = u;
                        return true;
                    }
                }

                return false;
            }, Wait));
            return found!;
        }

        for (int size = 0; size < 40; size += 7)
        {
            tx.SendTo(Enumerable.Range(0, size).Select(i => (byte)(i * 31 + size)).ToArray(), net.AddrB, 3000);
            UdpPacket u = Capture(p => p.DestinationPort == 3000 && p.PayloadData.Length == size);
            Assert.True(u.ValidUdpChecksum, $"size {size}");
            Assert.NotEqual(0, u.Checksum);
            Assert.Equal(tx.LocalPort, u.SourcePort);
        }

        // A checksum that computes to 0 is sent as 0xffff: pick the payload word that makes it so.
        byte[] zero = new byte[8 + 2];
        BinaryPrimitives.WriteUInt16BigEndian(zero, tx.LocalPort);
        BinaryPrimitives.WriteUInt16BigEndian(zero.AsSpan(2), 3001);
        BinaryPrimitives.WriteUInt16BigEndian(zero.AsSpan(4), 10);
        ushort c = Checksum.Finish(Checksum.Sum(zero, Checksum.PseudoHeader(net.AddrA, net.AddrB, IpProto.Udp, 10)));
        byte[] payload = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(payload, c);
        tx.SendTo(payload, net.AddrB, 3001);
        UdpPacket z = Capture(p => p.DestinationPort == 3001);
        Assert.Equal(0xffff, z.Checksum);
        Assert.True(z.ValidUdpChecksum);

        // net.inet.udp.checksum=0 (in the sender's vnet): the field is zero, and the receiver accepts it (udps_nosum).
        using var rx2 = UdpSocket.Create(net.B);
        rx2.Bind(InAddr.Any, 3002);
        long nosum = U(net.B, UdpStat.udps_nosum);
        Sysctl.Set("net.inet.udp.checksum", 0, net.A);
        try
        {
            tx.SendTo("plain"u8, net.AddrB, 3002);
            UdpPacket n = Capture(p => p.DestinationPort == 3002);
            Assert.Equal(0, n.Checksum);
            Assert.Equal(5, rx2.Receive(new byte[8], Wait).BytesReceived);
        }
        finally
        {
            Sysctl.Set("net.inet.udp.checksum", 1, net.A);
        }

        Assert.True(Frames.WaitFor(() => U(net.B, UdpStat.udps_nosum) == nosum + 1, Wait));
    }

    [Fact]
    public void BroadcastReachesEverySocketOnThePort()
    {
        using var net = StackFixture.Create("bcast");
        Prime(net);
        using var r1 = UdpSocket.Create(net.B);
        using var r2 = UdpSocket.Create(net.B);
        using var bound = UdpSocket.Create(net.B);
        r1.ReusePort = r2.ReusePort = true;
        r1.Bind(InAddr.Any, 6767);
        r2.Bind(InAddr.Any, 6767);
        using var tx = UdpSocket.Create(net.A);
        tx.AllowBroadcast = true;
        tx.SendTo("all"u8, net.Broadcast, 6767);
        byte[] buffer = new byte[8];
        Assert.Equal(3, r1.ReceiveFrom(buffer, out InAddr f1, out _, Wait));
        Assert.Equal(3, r2.ReceiveFrom(buffer, out InAddr f2, out _, Wait));
        Assert.Equal(f1, f2);

        // A broadcast nobody listens to is counted, never answered with ICMP.
        long noportb = U(net.B, UdpStat.udps_noportbcast), icmp = net.IcmpOut(net.B, IcmpType.Unreach);
        tx.SendTo("none"u8, net.Broadcast, 6768);
        Assert.True(Frames.WaitFor(() => U(net.B, UdpStat.udps_noportbcast) >= noportb + 1, Wait));
        FlowBarrier(net, tx, net.Broadcast, 6768);
        Assert.Equal(icmp, net.IcmpOut(net.B, IcmpType.Unreach));
    }

    [Fact]
    public void LargeDatagramIsFragmentedAndReassembled()
    {
        using var net = StackFixture.Create("bigdgram");
        Prime(net);
        using var rx = UdpSocket.Create(net.B);
        rx.Bind(InAddr.Any, 4500);
        using var tx = UdpSocket.Create(net.A);
        byte[] data = Enumerable.Range(0, 9000).Select(i => (byte)(i * 7)).ToArray();
        Assert.Equal(9000, tx.SendTo(data, net.AddrB, 4500));
        byte[] buffer = new byte[10_000];
        UdpReceiveResult r = rx.Receive(buffer, Wait);
        Assert.Equal(9000, r.BytesReceived);
        Assert.Equal(data, buffer[..9000]);
    }

    [Fact]
    public void GlobalAndVirtualizedKnobs()
    {
        Assert.Equal(9216, Convert.ToInt32(Sysctl.Get("net.inet.udp.maxdgram"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(42080, Convert.ToInt32(Sysctl.Get("net.inet.udp.recvspace"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, Convert.ToInt32(Sysctl.Get("net.inet.udp.checksum", Vnet.Vnet0), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, Convert.ToInt32(Sysctl.Get("net.inet.udp.log_in_vain", Vnet.Vnet0), System.Globalization.CultureInfo.InvariantCulture));

        // recvspace applies to sockets created afterwards.
        Sysctl.Set("net.inet.udp.recvspace", 8192);
        try
        {
            using var so = UdpSocket.Create(Vnet.Vnet0);
            Assert.Equal(8192, so.ReceiveBufferSize);
        }
        finally
        {
            Sysctl.Set("net.inet.udp.recvspace", 42080);
        }

#if VIMAGE
        Vnet j = Vnet.Create("udp-knobs");
        try
        {
            Sysctl.Set("net.inet.udp.checksum", 0, j);
            Assert.Equal(1, Convert.ToInt32(Sysctl.Get("net.inet.udp.checksum", Vnet.Vnet0), System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(0, Convert.ToInt32(Sysctl.Get("net.inet.udp.checksum", j), System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            j.Destroy();
        }
#endif
    }
}

/// <summary>Runs an action on Dispose.</summary>
internal sealed class Restore(Action undo) : IDisposable
{
    public void Dispose() => undo();
}
