using System.Buffers.Binary;
using Vimage.Core;
using Vimage.Net.Arp;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Net.Tests;

#if VIMAGE
public class InetTests
{
    private static long Ipstat(Vnet v, IpStat field)
    {
        using (Curvnet.Set(v))
        {
            return Ip.Fetch(field);
        }
    }

    /// <summary>client — router — server, as FreeBSD's forward.sh builds with two epairs and a jail in the middle.</summary>
    private static (Vnet Client, Vnet Router, Vnet Server, Ifnet ClientIf, Ifnet RouterLeft, Ifnet RouterRight, Ifnet ServerIf) Chain(Topology t)
    {
        Vnet client = t.NewVnet("client"), router = t.NewVnet("router"), server = t.NewVnet("server");
        (Ifnet clientIf, Ifnet routerLeft) = t.Link(client, "192.0.2.1/24", router, "192.0.2.2/24");
        (Ifnet routerRight, Ifnet serverIf) = t.Link(router, "198.51.100.1/24", server, "198.51.100.2/24");
        using (Curvnet.Set(client))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("192.0.2.2"));
        }

        using (Curvnet.Set(server))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("198.51.100.1"));
        }

        Sysctl.Set("net.inet.ip.forwarding", "1", router);
        return (client, router, server, clientIf, routerLeft, routerRight, serverIf);
    }

    [Fact]
    public void PingAcrossAnEpairResolvesArpInEachVnetOnly()
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("ping-a"), b = t.NewVnet("ping-b");
        (Ifnet ia, Ifnet ib) = t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        using var probe = new EchoProbe(a);
        Assert.Equal(0, probe.Send("192.0.2.2", 1));
        Assert.True(probe.WaitFor(1), "no echo reply");
        Assert.True(probe.Received.TryDequeue(out var reply));
        Assert.Equal((IcmpType.EchoReply, InAddr.Parse("192.0.2.2"), (ushort)1, (byte)64), (reply.Type, reply.From, reply.Sequence, reply.Ttl));
        Assert.Equal(ib.Lladdr, ArpLayer.TableOf(a).Find(ia, InAddr.Parse("192.0.2.2"))!.Mac);
        Assert.Equal(ia.Lladdr, ArpLayer.TableOf(b).Find(ib, InAddr.Parse("192.0.2.1"))!.Mac);
        Assert.Null(ArpLayer.TableOf(Vnet.Vnet0).FindAny(InAddr.Parse("192.0.2.2")));
        using (Curvnet.Set(b))
        {
            Assert.Equal(1, Icmp.FetchInHist(IcmpType.Echo));
            Assert.Equal(1, Icmp.FetchOutHist(IcmpType.EchoReply));
            Assert.Equal(1, ArpLayer.Fetch(ArpStat.txreplies));
        }
    }

    [Fact]
    public void ForwardingThroughAChainOfThreeVnetsIsCountedAsFreeBsdCountsIt()
    {
        using var t = new Topology();
        var (client, router, server, _, _, _, _) = Chain(t);
        using var probe = new EchoProbe(client);
        for (ushort i = 0; i < 3; i++)
        {
            Assert.Equal(0, probe.Send("198.51.100.2", i));
        }

        Assert.True(probe.WaitFor(3), $"replies: {probe.Received.Count}");
        Assert.All(probe.Received, r => Assert.Equal((byte)63, r.Ttl)); // one router on the way back
        Assert.Equal(6, Ipstat(router, IpStat.ips_forward)); // requests and replies
        Assert.Equal(6, Ipstat(router, IpStat.ips_fastforward)); // "6 packets forwarded (6 packets fast forwarded)"
        Assert.Equal(0, Ipstat(router, IpStat.ips_cantforward));
        Assert.Equal(0, Ipstat(client, IpStat.ips_forward));
        Assert.Equal(3, Ipstat(server, IpStat.ips_delivered));
    }

    [Fact]
    public void WithoutForwardingTheRouterCountsNotForwardable()
    {
        using var t = new Topology();
        var (client, router, _, _, _, _, _) = Chain(t);
        Sysctl.Set("net.inet.ip.forwarding", "0", router);
        Assert.Equal(0, Sysctl.Get("net.inet.ip.forwarding", router));
        Assert.Equal(0, Sysctl.Get("net.inet.ip.forwarding", Vnet.Vnet0));
        using var probe = new EchoProbe(client);
        probe.Send("198.51.100.2", 1);
        Assert.True(Frames.WaitFor(() => Ipstat(router, IpStat.ips_cantforward) == 1));
        Assert.False(probe.WaitFor(1, 300));
    }

    [Fact]
    public void BlackholeAndRejectRoutesDropAndAnswerAsFreeBsdDoes()
    {
        using var t = new Topology();
        var (client, router, _, _, _, _, _) = Chain(t);
        using (Curvnet.Set(router))
        {
            Routes.AddDiscard(InAddr.Parse("198.51.100.2"), 32, reject: false); // route add 198.51.100.2 -blackhole
            Routes.AddDiscard(InAddr.Parse("198.51.100.3"), 32, reject: true);
            Assert.Equal("UHBS", Routes.Get(InAddr.Parse("198.51.100.2")).FlagsText);
            Assert.Equal("UHRS", Routes.Get(InAddr.Parse("198.51.100.3")).FlagsText);
        }

        using var probe = new EchoProbe(client);
        probe.Send("198.51.100.2", 1);
        Assert.True(Frames.WaitFor(() => Ipstat(router, IpStat.ips_cantforward) == 1), "1 packet not forwardable");
        Assert.False(probe.WaitFor(1, 200)); // blackhole: silence
        probe.Send("198.51.100.3", 2);
        Assert.True(probe.WaitFor(1), "reject route answers with host unreachable");
        Assert.True(probe.Received.TryDequeue(out var error));
        Assert.Equal((IcmpType.Unreach, IcmpCode.UnreachHost, InAddr.Parse("192.0.2.2")), (error.Type, error.Code, error.From));
        Assert.Equal(2, Ipstat(router, IpStat.ips_cantforward));
    }

    [Fact]
    public void TtlExpiryAndMissingRoutesSendIcmpErrors()
    {
        using var t = new Topology();
        var (client, router, _, _, _, _, _) = Chain(t);
        using var probe = new EchoProbe(client);
        probe.Send("198.51.100.2", 1, ttl: 1);
        Assert.True(probe.WaitFor(1));
        Assert.True(probe.Received.TryDequeue(out var exceeded));
        Assert.Equal((IcmpType.TimeExceeded, IcmpCode.TimeExceededInTransit), (exceeded.Type, exceeded.Code));
        probe.Send("203.0.113.9", 2); // the router has no route there
        Assert.True(probe.WaitFor(1));
        Assert.True(probe.Received.TryDequeue(out var unreachable));
        Assert.Equal(IcmpType.Unreach, unreachable.Type);
        Assert.Equal(1, Ipstat(router, IpStat.ips_noroute));
        using (Curvnet.Set(router))
        {
            Assert.Equal(1, Icmp.FetchOutHist(IcmpType.TimeExceeded));
            Assert.Equal(1, Icmp.FetchOutHist(IcmpType.Unreach));
        }
    }

    [Fact]
    public void MalformedPacketsAreDroppedAndCountedUnderTheirIpstatField()
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("bad-a"), b = t.NewVnet("bad-b");
        (Ifnet ia, Ifnet ib) = t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        byte[] Good()
        {
            byte[] f = Frames.Udp(ib.Lladdr, ia.Lladdr, 1, 1, 80);
            InAddr.Parse("192.0.2.1").Write(f.AsSpan(26));
            InAddr.Parse("192.0.2.2").Write(f.AsSpan(30));
            f[24] = f[25] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Compute(f.AsSpan(14, 20)));
            return f;
        }

        void Inject(Func<byte[], byte[]> mutate) => Frames.Send(ia, mutate(Good()));
        Inject(f => f[..30]); // 16 bytes of IP: too small
        Inject(f => { f[14] = 0x65; return f; }); // version 6
        Inject(f => { f[14] = 0x44; return f; }); // header length 16
        Inject(f => { f[14] = 0x4f; return f[..54]; }); // header length 60 > the 40 bytes there
        Inject(f => { f[20] ^= 0xff; return f; }); // checksum
        Inject(f => { BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 10); f[24] = f[25] = 0; BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Compute(f.AsSpan(14, 20))); return f; }); // ip_len < hlen
        Inject(f => { BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 1400); f[24] = f[25] = 0; BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Compute(f.AsSpan(14, 20))); return f; }); // longer than received
        Inject(f => f[..12]); // not even an Ethernet header
        Assert.True(Frames.WaitFor(() => Ipstat(b, IpStat.ips_total) >= 7));
        Assert.Equal(1, Ipstat(b, IpStat.ips_toosmall));
        Assert.Equal(1, Ipstat(b, IpStat.ips_badvers));
        Assert.Equal(2, Ipstat(b, IpStat.ips_badhlen));
        Assert.Equal(1, Ipstat(b, IpStat.ips_badsum));
        Assert.Equal(1, Ipstat(b, IpStat.ips_badlen));
        Assert.Equal(1, Ipstat(b, IpStat.ips_tooshort));
        Assert.True(Frames.WaitFor(() => ib.Counter(IfCounter.IFCOUNTER_IERRORS) == 1));
        Assert.Equal(0, Ipstat(b, IpStat.ips_delivered));
    }

    [Fact]
    public void StaticArpEntriesArePermanentAndDeletable()
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("arp-a"), b = t.NewVnet("arp-b");
        (Ifnet ia, _) = t.Link(a, "198.51.100.1/24", b, "198.51.100.3/24");
        using (Curvnet.Set(a))
        {
            LlEntry e = ArpLayer.AddStatic(ia, InAddr.Parse("198.51.100.2"), [0x90, 0x10, 0x00, 0x01, 0x02, 0x03]);
            Assert.True(e.IsPermanent);
            Assert.Equal("90:10:00:01:02:03", ArpLayer.Table.FindAny(InAddr.Parse("198.51.100.2"))!.MacText);
            Assert.True(ArpLayer.Delete(InAddr.Parse("198.51.100.2")));
            Assert.False(ArpLayer.Delete(InAddr.Parse("198.51.100.2")));
            Assert.Null(ArpLayer.Table.FindAny(InAddr.Parse("198.51.100.2")));
        }

        Assert.Equal(1200, Sysctl.Get("net.link.ether.inet.max_age", a));
    }

    [Fact]
    public void UnansweredArpGivesUpAfterMaxtriesAndFreesTheHoldQueue()
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("arp-down"), b = t.NewVnet("arp-peer");
        t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        long baseline = MbufLeak.Baseline(); // after the link's gratuitous ARPs have crossed
        Sysctl.Set("net.link.ether.inet.maxtries", "2", a);
        using var probe = new EchoProbe(a);
        for (ushort i = 0; i < 20; i++)
        {
            probe.Send("192.0.2.77", i); // nobody has this address
        }

        using (Curvnet.Set(a))
        {
            Assert.Equal(LlState.Incomplete, ArpLayer.Table.FindAny(InAddr.Parse("192.0.2.77"))!.State);
            Assert.Equal(4, ArpLayer.Fetch(ArpStat.dropped)); // 20 packets, 16 held (maxhold)
        }

        Assert.True(Frames.WaitFor(() =>
        {
            using (Curvnet.Set(a))
            {
                // Down is set before the held packets are freed (under the entry's lock): wait for both.
                return ArpLayer.Table.FindAny(InAddr.Parse("192.0.2.77"))?.State == LlState.Down && ArpLayer.Fetch(ArpStat.dropped) == 20;
            }
        }, 6000));
        using (Curvnet.Set(a))
        {
            Assert.Equal(20, ArpLayer.Fetch(ArpStat.dropped));
            Assert.Equal(2, ArpLayer.Fetch(ArpStat.txrequests) - 1); // 2 tries + the gratuitous announcement
            Assert.Equal(Errno.EHOSTDOWN, probe.Send("192.0.2.77", 99));
        }

        MbufLeak.AssertBack(baseline);
    }
}
#endif

#if VIMAGE
public class IcmpRateLimitTests
{
    [Fact]
    public void IcmplimCapsErrorsPerSecondAndCountsTheRest()
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("lim-a"), b = t.NewVnet("lim-b");
        t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        Sysctl.Set("net.inet.icmp.icmplim", "5", b);
        using var probe = new EchoProbe(a);
        probe.Send("192.0.2.2", 0);
        Assert.True(probe.WaitFor(1)); // ARP resolved both ways

        // Datagrams to a protocol nobody handles: each asks for an ICMP protocol unreachable.
        long limitedBefore;
        using (Curvnet.Set(b))
        {
            limitedBefore = Icmp.Limited;
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (Curvnet.Set(a))
        {
            for (int i = 0; i < 40; i++)
            {
                Mbuf m = MbufPool.Clusters.Get()!;
                m.Append(8).Clear();
                Assert.Equal(0, IpOutput.Send(m, InAddr.Any, InAddr.Parse("192.0.2.2"), 253));
            }
        }

        Assert.True(Frames.WaitFor(() => { using (Curvnet.Set(b)) { return Ip.Fetch(IpStat.ips_noproto) == 40; } }));
        using (Curvnet.Set(b))
        {
            long sent = Icmp.FetchOutHist(IcmpType.Unreach);
            long limited = Icmp.Limited - limitedBefore;
            int seconds = (int)Math.Ceiling(clock.Elapsed.TotalSeconds) + 1;
            Assert.InRange(sent, 5, 5 * seconds); // at most icmplim per second
            Assert.Equal(40, sent + limited); // every suppressed error is counted
            Assert.Equal(5, Sysctl.Get("net.inet.icmp.icmplim", b));
            Assert.Equal(200, Sysctl.Get("net.inet.icmp.icmplim", a)); // per vnet
        }
    }
}
#endif
