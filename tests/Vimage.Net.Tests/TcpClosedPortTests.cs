using System.Buffers.Binary;
using System.Collections.Concurrent;
using PacketDotNet;
using Vimage.Core;
using Vimage.Net.Bpf;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

/// <summary>
/// tcp_input's checks and tcp_dropwithreset: hand-made segments from A to a port of B nobody listens on, and the
/// RSTs B sends back captured where they leave B (the epair, or lo0 when both hosts are vnet0).
/// </summary>
public class TcpClosedPortTests
{
    private const int Wait = 10_000;

    private static long T(Vnet v, TcpStat s) => Tcp.Tcp.Fetch(v, s);

    /// <summary>An Ethernet frame A→B carrying a TCP segment with a correct checksum (unless told otherwise).</summary>
    internal static byte[] Segment(StackFixture net, ushort sport, ushort dport, uint seq, uint ack, TcpFlags flags, int dataLength = 0, int offsetBytes = 20, bool badSum = false, int? length = null)
    {
        int tcpLength = length ?? Math.Max(offsetBytes, TcpHeader.MinLength) + dataLength;
        byte[] seg = new byte[tcpLength];
        new TcpHeader(sport, dport, seq, ack, TcpHeader.MinLength, flags, 8192, 0).Write(seg);
        seg[12] = (byte)((offsetBytes / 4) << 4);
        TcpHeader.SetChecksum(seg, net.AddrA, net.AddrB);
        if (badSum)
        {
            seg[16] ^= 0x55;
        }

        byte[] f = net.Frame(seg);
        IpHeader.Write(f.AsSpan(14, 20), 20 + seg.Length, 0x4343, 0, 64, IpProto.Tcp, net.AddrA, net.AddrB);
        return f;
    }

    private sealed class Capture : IDisposable
    {
        private readonly ConcurrentQueue<byte[]> _frames = new();
        private readonly BpfSession _session;
        private readonly bool _ethernet;

        public Capture(StackFixture net)
        {
            _ethernet = net.TwoVnets;
            Ifnet wire = net.TwoVnets ? net.IfB : StackFixture.In(net.B, () => Ifnets.Find("lo0"))!;
            _session = wire.Bpf.Attach((frame, dir, ts) => _frames.Enqueue(frame.ToArray()), Direction.Out);
        }

        /// <summary>The next TCP segment to <paramref name="dport"/> that B sends.</summary>
        public TcpPacket Next(ushort dport)
        {
            TcpPacket? found = null;
            Assert.True(Frames.WaitFor(() =>
            {
                while (_frames.TryDequeue(out byte[]? bytes))
                {
                    Packet p = _ethernet ? Packet.ParsePacket(LinkLayers.Ethernet, bytes) : new IPv4Packet(new PacketDotNet.Utils.ByteArraySegment(bytes));
                    if (p.Extract<TcpPacket>() is { } t && t.DestinationPort == dport)
                    {
                        found = t;
                        return true;
                    }
                }

                return false;
            }, Wait));
            return found!;
        }

        /// <summary>Whether B sent any TCP segment to <paramref name="dport"/> among the frames captured so far.</summary>
        public bool Any(ushort dport)
        {
            bool any = false;
            while (_frames.TryDequeue(out byte[]? bytes))
            {
                Packet p = _ethernet ? Packet.ParsePacket(LinkLayers.Ethernet, bytes) : new IPv4Packet(new PacketDotNet.Utils.ByteArraySegment(bytes));
                any |= p.Extract<TcpPacket>() is { } t && t.DestinationPort == dport;
            }

            return any;
        }

        public void Dispose() => _session.Dispose();
    }

    [Fact]
    public void SynToAClosedPortIsAnsweredWithRstAck()
    {
        using var net = StackFixture.Create("tcprst");
        using var cap = new Capture(net);
        long rcvtotal = T(net.B, TcpStat.tcps_rcvtotal);
        net.Inject(Segment(net, 40001, 81, 0xfffffff0, 0, TcpFlags.TH_SYN, dataLength: 3));
        TcpPacket rst = cap.Next(40001);

        Assert.Equal((ushort)81, rst.SourcePort);
        Assert.True(rst.Reset && rst.Acknowledgment && !rst.Synchronize && !rst.Finished);
        Assert.Equal(0u, rst.SequenceNumber);
        Assert.Equal(0xfffffff0u + 3 + 1, rst.AcknowledgmentNumber); // SEG.SEQ + SEG.LEN, the SYN counting one
        Assert.Equal(0, rst.WindowSize);
        Assert.True(rst.ValidTcpChecksum);
        Assert.True(T(net.B, TcpStat.tcps_rcvtotal) >= rcvtotal + 1);
        Assert.True(T(net.B, TcpStat.tcps_sndctrl) >= 1);
    }

    [Fact]
    public void AckSegmentIsAnsweredWithRstCarryingItsAck()
    {
        using var net = StackFixture.Create("tcprsta");
        using var cap = new Capture(net);
        net.Inject(Segment(net, 40002, 82, 1000, 0xabcdef01, TcpFlags.TH_ACK | TcpFlags.TH_FIN, dataLength: 10));
        TcpPacket rst = cap.Next(40002);
        Assert.True(rst.Reset && !rst.Acknowledgment);
        Assert.Equal(0xabcdef01u, rst.SequenceNumber);
        Assert.True(rst.ValidTcpChecksum);
    }

    [Fact]
    public void BadSegmentsAreCountedAndRstsAreNeverAnswered()
    {
        using var net = StackFixture.Create("tcpbad");
        using var cap = new Capture(net);
        long badsum = T(net.B, TcpStat.tcps_rcvbadsum), badoff = T(net.B, TcpStat.tcps_rcvbadoff), shortSeg = T(net.B, TcpStat.tcps_rcvshort);

        net.Inject(Segment(net, 40003, 83, 1, 0, TcpFlags.TH_RST));
        net.Inject(Segment(net, 40003, 83, 1, 0, TcpFlags.TH_SYN, badSum: true));
        net.Inject(Segment(net, 40003, 83, 1, 0, TcpFlags.TH_SYN, offsetBytes: 16, dataLength: 8)); // th_off < 5
        net.Inject(Segment(net, 40003, 83, 1, 0, TcpFlags.TH_SYN, offsetBytes: 60, length: 40)); // th_off past the end
        byte[] tiny = net.Frame(new byte[12]);
        IpHeader.Write(tiny.AsSpan(14, 20), 32, 0x4444, 0, 64, IpProto.Tcp, net.AddrA, net.AddrB);
        net.Inject(tiny);

        // Same flow, same queue: once this SYN's RST is out, B has handled everything before it.
        net.Inject(Segment(net, 40003, 83, 77, 0, TcpFlags.TH_SYN));
        TcpPacket barrier = cap.Next(40003);
        Assert.Equal(78u, barrier.AcknowledgmentNumber); // the first RST sent on this flow answers the last SYN

        Assert.Equal(badsum + 1, T(net.B, TcpStat.tcps_rcvbadsum));
        Assert.Equal(badoff + 2, T(net.B, TcpStat.tcps_rcvbadoff));
        Assert.Equal(shortSeg + 1, T(net.B, TcpStat.tcps_rcvshort));
    }

    [Fact]
    public void BlackholeSuppressesRstsPerVnet()
    {
        using var net = StackFixture.Create("tcpbh");
        using var cap = new Capture(net);
        long rcvtotal = T(net.B, TcpStat.tcps_rcvtotal);
        Sysctl.Set("net.inet.tcp.blackhole", 1, net.B);
        try
        {
            // 1: no RST for a SYN, still one for other segments.
            net.Inject(Segment(net, 40004, 84, 5, 0, TcpFlags.TH_SYN));
            net.Inject(Segment(net, 40004, 84, 6, 99, TcpFlags.TH_ACK));
            TcpPacket rst = cap.Next(40004);
            Assert.Equal(99u, rst.SequenceNumber);
            Assert.False(rst.Acknowledgment);

            // 2: nothing at all. A blackhole-0 SYN afterwards, on the same flow, proves nothing answered 7 or 8;
            // B must have handled them (rcvtotal) before the knob goes back. With one vnet the first RST comes
            // back to it through lo0 and counts too.
            long expected = rcvtotal + 2 + (net.TwoVnets ? 0 : 1);
            Assert.True(Frames.WaitFor(() => T(net.B, TcpStat.tcps_rcvtotal) >= expected, Wait));
            Sysctl.Set("net.inet.tcp.blackhole", 2, net.B);
            net.Inject(Segment(net, 40004, 84, 7, 100, TcpFlags.TH_ACK));
            net.Inject(Segment(net, 40004, 84, 8, 0, TcpFlags.TH_SYN));
            Assert.True(Frames.WaitFor(() => T(net.B, TcpStat.tcps_rcvtotal) >= expected + 2, Wait));
            Sysctl.Set("net.inet.tcp.blackhole", 0, net.B);
            net.Inject(Segment(net, 40004, 84, 9, 0, TcpFlags.TH_SYN));
            TcpPacket after = cap.Next(40004);
            Assert.Equal(10u, after.AcknowledgmentNumber); // nothing for seq 7 or 8 came before it
            if (net.TwoVnets)
            {
                Assert.Equal(0, Sysctl.Get("net.inet.tcp.blackhole", net.A) is int v ? v : -1); // virtualized
            }
        }
        finally
        {
            Sysctl.Set("net.inet.tcp.blackhole", 0, net.B);
        }
    }

    [Fact]
    public void KnobsHaveFreeBsdDefaults()
    {
        using var net = StackFixture.Create("tcpknob");
        Assert.Equal(Tcp.Tcp.DefaultMss, Sysctl.Get("net.inet.tcp.mssdflt", net.B));
        Assert.Equal(0, Sysctl.Get("net.inet.tcp.blackhole", net.B));
        Assert.Equal(0, Sysctl.Get("net.inet.tcp.log_in_vain", net.B));
    }
}

#if VIMAGE
/// <summary>badport_bandlim for RSTs: net.inet.icmp.icmplim caps the RSTs a vnet sends to closed ports.</summary>
public class TcpRstLimitTests
{
    [Fact]
    public void RstsToClosedPortsAreRateLimitedByIcmplim()
    {
        using var net = StackFixture.Create("tcprstlim");
        Sysctl.Set("net.inet.icmp.icmplim", 2, net.B);
        long sent = Tcp.Tcp.Fetch(net.B, TcpStat.tcps_sndctrl);
        long limited = StackFixture.In(net.B, () => Icmp.Limited);
        for (uint i = 0; i < 6; i++)
        {
            net.Inject(TcpClosedPortTests.Segment(net, 40005, 85, i * 10, 0, TcpFlags.TH_SYN));
        }

        // Each SYN is answered or limited, nothing else.
        Assert.True(Frames.WaitFor(() => Tcp.Tcp.Fetch(net.B, TcpStat.tcps_sndctrl) - sent + StackFixture.In(net.B, () => Icmp.Limited) - limited == 6, 10_000));
        Assert.InRange(Tcp.Tcp.Fetch(net.B, TcpStat.tcps_sndctrl) - sent, 1, 4); // 2 a second: two seconds at most
    }
}
#endif
