using System.Collections.Concurrent;
using Vimage.Core;
using Vimage.Net.Bpf;
using Vimage.Net.Inet;
using static Vimage.Net.Tests.FragSupport;

namespace Vimage.Net.Tests;

#if VIMAGE
/// <summary>Fragmentation and reassembly across an epair between two vnets, and hostile fragments put on the wire by hand.</summary>
public class FragWireTests
{
    private static readonly InAddr A = InAddr.Parse("192.0.2.1"), B = InAddr.Parse("192.0.2.2");

    private static (Topology T, Vnet A, Vnet B, Ifnet IfA, Ifnet IfB) Pair(string name)
    {
        var t = new Topology();
        Vnet a = t.NewVnet(name + "-a"), b = t.NewVnet(name + "-b");
        (Ifnet ia, Ifnet ib) = t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        return (t, a, b, ia, ib);
    }

    /// <summary>Puts a hand-made fragment on the wire from a's end towards b's MAC.</summary>
    private static void Inject(Vnet a, Ifnet ia, Ifnet ib, byte[] ipPacket)
    {
        using (Curvnet.Set(a))
        {
            Assert.True(Frames.Send(ia, EtherFrame(ib.Lladdr, ia.Lladdr, ipPacket)));
        }
    }

    [Fact]
    public void LargePingIsFragmentedAndReassembledBothWays()
    {
        (Topology t, Vnet a, Vnet b, _, _) = Pair("frag-big");
        using (t)
        using (PingSocket ping = PingSocket.Open(a))
        {
            Assert.Equal(0, ping.Send(B, 0)); // warm ARP up
            Assert.True(ping.TryReceive(5000, out _));
            Assert.Equal(0, ping.Send(B, 1, 4000));
            Assert.True(ping.TryReceive(5000, out PingReply reply), "no reply to the 4000-byte ping");
            Assert.Equal((PingReplyKind.EchoReply, (ushort)1, 4008), (reply.Kind, reply.Sequence, reply.Bytes));

            // 4028-byte datagram, MTU 1500: 1480 + 1480 + 1048.
            foreach (Vnet v in new[] { a, b })
            {
                Assert.Equal(1, Ipstat(v, IpStat.ips_fragmented));
                Assert.Equal(3, Ipstat(v, IpStat.ips_ofragments));
                Assert.Equal(3, Ipstat(v, IpStat.ips_fragments));
                Assert.Equal(1, Ipstat(v, IpStat.ips_reassembled));
                Assert.Equal(0, Ipstat(v, IpStat.ips_fragdropped));
                Assert.Equal(0, In(v, () => IpReass.QueueCount));
            }
        }
    }

    [Fact]
    public void FragmentsFitASmallMtuAsBpfSeesThem()
    {
        (Topology t, Vnet a, Vnet b, Ifnet ia, _) = Pair("frag-576");
        using (t)
        using (PingSocket ping = PingSocket.Open(a))
        {
            Assert.Equal(0, ping.Send(B, 0));
            Assert.True(ping.TryReceive(5000, out _));
            ia.SetMtu(576);
            var frames = new ConcurrentQueue<byte[]>();
            using (ia.Bpf.Attach((frame, _, _) => frames.Enqueue(frame.ToArray()), Direction.Out))
            {
                Assert.Equal(0, ping.Send(B, 1, 2000));
                Assert.True(ping.TryReceive(5000, out PingReply reply), "no reply to the fragmented ping");
                Assert.Equal(2008, reply.Bytes);
            }

            // 2028 bytes: (576 - 20) & ~7 = 552 per fragment: 552 + 552 + 552 + 352.
            var ip = frames.Where(f => f.Length > 14 && f[12] == 0x08 && f[13] == 0x00).Select(f => ParseIp(f)).ToList();
            Assert.Equal([572, 572, 572, 372], ip.Select(p => p.TotalLength));
            Assert.Equal([0, 552, 1104, 1656], ip.Select(p => p.Offset));
            Assert.Equal([true, true, true, false], ip.Select(p => p.More));
            Assert.Single(ip.Select(p => p.Id).Distinct());
            Assert.All(frames, f => Assert.True(f.Length <= 576 + 14));
            Assert.Equal(4, Ipstat(a, IpStat.ips_ofragments));
            Assert.Equal(1 + 1, Ipstat(b, IpStat.ips_reassembled) + Ipstat(b, IpStat.ips_fragmented));
        }
    }

    [Fact]
    public void HandMadeFragmentsOfAnEchoAreReassembledAndAnswered()
    {
        (Topology t, Vnet a, Vnet b, Ifnet ia, Ifnet ib) = Pair("frag-hand");
        using (t)
        using (PingSocket ping = PingSocket.Open(a))
        {
            Assert.Equal(0, ping.Send(B, 0));
            Assert.True(ping.TryReceive(5000, out _));
            byte[] echo = Echo(ping.Identifier, 7, 200);
            Inject(a, ia, ib, Packet(A, B, 777, IpProto.Icmp, 128, false, echo.AsSpan(128)));
            Inject(a, ia, ib, Packet(A, B, 777, IpProto.Icmp, 0, true, echo.AsSpan(0, 64)));
            Inject(a, ia, ib, Packet(A, B, 777, IpProto.Icmp, 64, true, echo.AsSpan(64, 64)));
            Assert.True(ping.TryReceive(5000, out PingReply reply), "the reassembled echo was not answered");
            Assert.Equal((PingReplyKind.EchoReply, (ushort)7, 208), (reply.Kind, reply.Sequence, reply.Bytes));
            Assert.Equal(1, Ipstat(b, IpStat.ips_reassembled));
        }
    }

    [Fact]
    public void OverlappingFragmentsOnTheWireAreDroppedAndCounted()
    {
        (Topology t, Vnet a, Vnet b, Ifnet ia, Ifnet ib) = Pair("frag-overlap");
        using (t)
        using (PingSocket ping = PingSocket.Open(a))
        {
            byte[] echo = Echo(ping.Identifier, 9, 200);
            Inject(a, ia, ib, Packet(A, B, 900, IpProto.Icmp, 0, true, echo.AsSpan(0, 104)));
            Inject(a, ia, ib, Packet(A, B, 900, IpProto.Icmp, 96, true, new byte[32])); // rewrites 96..103
            Inject(a, ia, ib, Packet(A, B, 900, IpProto.Icmp, 104, false, echo.AsSpan(104)));
            Assert.True(Frames.WaitFor(() => Ipstat(b, IpStat.ips_fragments) == 3));
            Assert.Equal(2, Ipstat(b, IpStat.ips_fragdropped)); // the queue (2 fragments); the third opened a new one
            Assert.Equal(0, Ipstat(b, IpStat.ips_reassembled));
            Assert.Equal(1, In(b, () => IpReass.QueueCount));
            PingBarrier.NothingBefore(ping, B, 10); // no reply to the overlapped echo is on its way
        }
    }

    [Fact]
    public void EndlessNewIdsNeverExceedMaxfragpacketsNorGrowMemory()
    {
        (Topology t, Vnet a, Vnet b, Ifnet ia, Ifnet ib) = Pair("frag-flood");
        using (t)
        {
            int max = In(b, () => Ip.MaxFragPackets);
            Assert.Equal(1024, max);
            long outstanding = MbufPool.Clusters.Outstanding;
            const int Count = 3000;
            for (int id = 0; id < Count; id++)
            {
                Inject(a, ia, ib, Packet(A, B, (ushort)id, 253, 0, true, new byte[1024]));
                if (id % 500 == 0)
                {
                    Assert.True(In(b, () => IpReass.QueueCount) <= max);
                }
            }

            Assert.True(Frames.WaitFor(() => Ipstat(b, IpStat.ips_fragments) == Count), $"fragments {Ipstat(b, IpStat.ips_fragments)}");
            Assert.Equal(max, In(b, () => IpReass.QueueCount));
            Assert.Equal(Count - max, Ipstat(b, IpStat.ips_fragdropped));
            long held = MbufPool.Clusters.Outstanding - outstanding;
            Assert.True(held <= max + 64, $"{held} clusters held for {max} queues");

            // Never completed: after IPFRAGTTL they all go, counted in ips_fragtimeout.
            long start = NetTimers.NowMs;
            try
            {
                IpReass.ClockOverride = () => start + IpReass.TimeToLiveMs + 1;
                using (Curvnet.Set(b))
                {
                    IpReass.Tick();
                }
            }
            finally
            {
                IpReass.ClockOverride = null;
            }

            Assert.Equal(0, In(b, () => IpReass.QueueCount));
            Assert.Equal(max, Ipstat(b, IpStat.ips_fragtimeout));
            Assert.True(Frames.WaitFor(() => MbufPool.Clusters.Outstanding - outstanding <= 64), $"{MbufPool.Clusters.Outstanding - outstanding} still held");
        }
    }

    [Fact]
    public void TooManyFragmentsForOneDatagramDropIt()
    {
        (Topology t, Vnet a, Vnet b, Ifnet ia, Ifnet ib) = Pair("frag-many");
        using (t)
        {
            for (int i = 0; i < 20; i++)
            {
                Inject(a, ia, ib, Packet(A, B, 5, 253, i * 16, true, new byte[8]));
            }

            Assert.True(Frames.WaitFor(() => Ipstat(b, IpStat.ips_fragments) == 20));
            Assert.Equal(17 + 0, Ipstat(b, IpStat.ips_fragdropped)); // the 17th drops the 17; 18..20 start over
            Assert.Equal(3, In(b, () => IpReass.FragmentCount));
        }
    }

    [Fact]
    public void UncompletedDatagramTimesOutWithIcmpTimeExceededReassembly()
    {
        (Topology t, Vnet a, Vnet b, Ifnet ia, Ifnet ib) = Pair("frag-ttl");
        using (t)
        using (PingSocket ping = PingSocket.Open(a))
        {
            byte[] echo = Echo(ping.Identifier, 11, 200);
            Inject(a, ia, ib, Packet(A, B, 1100, IpProto.Icmp, 0, true, echo.AsSpan(0, 64)));     // first: quoted back
            Inject(a, ia, ib, Packet(A, B, 1101, IpProto.Icmp, 64, true, echo.AsSpan(64, 64)));  // no first: silent
            Assert.True(Frames.WaitFor(() => Ipstat(b, IpStat.ips_fragments) == 2));
            long start = NetTimers.NowMs;
            try
            {
                IpReass.ClockOverride = () => start + IpReass.TimeToLiveMs + 1;
                using (Curvnet.Set(b))
                {
                    IpReass.Tick();
                }
            }
            finally
            {
                IpReass.ClockOverride = null;
            }

            Assert.Equal(2, Ipstat(b, IpStat.ips_fragtimeout));
            Assert.True(ping.TryReceive(5000, out PingReply reply), "no time exceeded came back");
            Assert.Equal((PingReplyKind.Error, IcmpType.TimeExceeded, IcmpCode.TimeExceededReassembly, (ushort)11, B),
                (reply.Kind, reply.IcmpType, reply.IcmpCode, reply.Sequence, reply.From));
            Assert.Equal(1, In(b, () => Icmp.FetchOutHist(IcmpType.TimeExceeded)));
            PingBarrier.NothingBefore(ping, B, 12); // and no second error
        }
    }

    [Fact]
    public void TruncatedAndOversizedFragmentsOnTheWireAreDroppedAndCounted()
    {
        (Topology t, Vnet a, Vnet b, Ifnet ia, Ifnet ib) = Pair("frag-bad");
        using (t)
        {
            Inject(a, ia, ib, Packet(A, B, 1, 253, 65512, false, new byte[32]));                       // past 65535
            Inject(a, ia, ib, Packet(A, B, 2, 253, 0, true, new byte[12]));                             // not a multiple of 8
            Inject(a, ia, ib, Packet(A, B, 3, 253, 0, true, new byte[16], totalLengthOverride: 20 + 800)); // truncated
            Assert.True(Frames.WaitFor(() => Ipstat(b, IpStat.ips_total) >= 3));
            Assert.True(Frames.WaitFor(() => Ipstat(b, IpStat.ips_fragdropped) == 2 && Ipstat(b, IpStat.ips_tooshort) == 1));
            Assert.Equal(1, Ipstat(b, IpStat.ips_toolong));
            Assert.Equal(1, Ipstat(b, IpStat.ips_toosmall));
            Assert.Equal(1, Ipstat(b, IpStat.ips_tooshort)); // ip_input catches the truncation before ip_reass
            Assert.Equal(0, In(b, () => IpReass.QueueCount));
        }
    }
}
#endif
