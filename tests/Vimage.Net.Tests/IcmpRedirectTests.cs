using System.Buffers.Binary;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Net.Tests;

/// <summary>
/// icmp_input's ICMP_REDIRECT: with net.inet.icmp.drop_redirect=0 a redirect from the current gateway installs a
/// dynamic host route (rib_add_redirect) that expires after net.inet.icmp.redirtimeout. Runs in both modes: in a
/// vnet of its own with VIMAGE, in vnet0 (cleaned up after) without.
/// </summary>
public sealed class IcmpRedirectTests : IDisposable
{
    private static readonly InAddr Local = InAddr.Parse("198.18.161.1"), OldGw = InAddr.Parse("198.18.161.2"),
        NewGw = InAddr.Parse("198.18.161.3"), Target = InAddr.Parse("203.0.113.9");

    private readonly Vnet _vnet;
    private readonly Ifnet _ifp;
    private readonly Ifnet _peer;

    public IcmpRedirectTests()
    {
#if VIMAGE
        _vnet = Vnet.Create("redirect");
#else
        _vnet = Vnet.Vnet0;
#endif
        using (Curvnet.Set(_vnet))
        {
            IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
            (_ifp, _peer) = (pair[0], pair[1]);
            _ifp.SetUp(true);
            InAddrs.Add(_ifp, Local, 24);
            Routes.AddGateway(InAddr.Parse("203.0.113.0"), 24, OldGw);
        }
    }

    public void Dispose()
    {
        using (Curvnet.Set(_vnet))
        {
            Sysctl.Set("net.inet.icmp.drop_redirect", "0", _vnet);
            Sysctl.Set("net.inet.ip.forwarding", "0", _vnet);
            Sysctl.Set("net.inet.icmp.redirtimeout", "600", _vnet);
            Ifnets.DestroyCloned(_ifp);
        }

#if VIMAGE
        _vnet.Destroy();
#endif
    }

    /// <summary>An ICMP redirect from <paramref name="from"/>: "for <paramref name="dst"/> use <paramref name="gateway"/>".</summary>
    private void Inject(InAddr from, InAddr dst, InAddr gateway, byte code = IcmpCode.RedirectHost, int quoted = 8)
    {
        int icmpLength = Icmp.HeaderLength + 20 + quoted;
        Mbuf m = MbufPool.Clusters.Get()!;
        Span<byte> p = m.Append(20 + icmpLength);
        p.Clear();
        p[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(p[2..], (ushort)p.Length);
        p[8] = 64;
        p[9] = IpProto.Icmp;
        BinaryPrimitives.WriteUInt32BigEndian(p[12..], from.Value);
        BinaryPrimitives.WriteUInt32BigEndian(p[16..], Local.Value);
        Span<byte> icmp = p[20..];
        icmp[0] = IcmpType.Redirect;
        icmp[1] = code;
        BinaryPrimitives.WriteUInt32BigEndian(icmp[4..], gateway.Value);
        Span<byte> inner = icmp[8..];
        inner[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(inner[2..], 84);
        inner[8] = 63;
        inner[9] = IpProto.Icmp;
        BinaryPrimitives.WriteUInt32BigEndian(inner[12..], Local.Value);
        BinaryPrimitives.WriteUInt32BigEndian(inner[16..], dst.Value);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
        m.ReceiveInterface = _ifp;
        using (Curvnet.Set(_vnet))
        {
            Icmp.Input(m, 20);
        }
    }

    private Rtentry Lookup(InAddr dst)
    {
        using (Curvnet.Set(_vnet))
        {
            return Routes.Lookup(dst)!;
        }
    }

    private long Dynamic()
    {
        using (Curvnet.Set(_vnet))
        {
            return RtStats.Fetch(RtStat.rts_dynamic);
        }
    }

    [Fact]
    public void ARedirectFromTheGatewayInstallsADynamicHostRouteThatExpires()
    {
        long dynamic = Dynamic();
        Sysctl.Set("net.inet.icmp.redirtimeout", "300", _vnet);
        long before = NetTimers.NowMs;
        Inject(OldGw, Target, NewGw);
        Rtentry r = Lookup(Target);
        Assert.Equal((Target, 32, NewGw, _ifp), (r.Destination, r.PrefixLength, r.Gateway, r.Interface));
        Assert.Equal(RtFlags.RTF_UP | RtFlags.RTF_GATEWAY | RtFlags.RTF_HOST | RtFlags.RTF_DYNAMIC, r.Flags);
        Assert.InRange(r.ExpireMs, before + 300_000, NetTimers.NowMs + 300_000);
        Assert.Equal(dynamic + 1, Dynamic());
        Assert.Equal(OldGw, Lookup(InAddr.Parse("203.0.113.10")).Gateway); // only that host is redirected

        using var clock = new NetClock(r.ExpireMs - 1);
        clock.TickAt(clock.Now);
        Assert.Equal(NewGw, Lookup(Target).Gateway); // not yet
        clock.TickAt(r.ExpireMs);
        Assert.Equal(OldGw, Lookup(Target).Gateway); // expired: back to the /24
    }

    [Fact]
    public void ARedirectFromAnotherRouterOrToAnUnreachableGatewayIsIgnored()
    {
        long dynamic = Dynamic();
        Inject(InAddr.Parse("198.18.161.4"), Target, NewGw); // not our gateway for the target
        Inject(OldGw, Target, InAddr.Parse("192.0.2.99")); // new gateway not on a connected network
        Inject(OldGw, Target, Local); // new gateway is ourselves
        Inject(OldGw, InAddr.Parse("198.18.161.77"), NewGw); // a connected destination has no gateway to redirect
        Assert.Equal(OldGw, Lookup(Target).Gateway);
        Assert.Equal(dynamic, Dynamic());
    }

    [Fact]
    public void DropRedirectOrForwardingIgnoresThem()
    {
        Sysctl.Set("net.inet.icmp.drop_redirect", "1", _vnet);
        Inject(OldGw, Target, NewGw);
        Assert.Equal(OldGw, Lookup(Target).Gateway);
        Sysctl.Set("net.inet.icmp.drop_redirect", "0", _vnet);
        Sysctl.Set("net.inet.ip.forwarding", "1", _vnet); // RFC 1812: a router ignores redirects
        Inject(OldGw, Target, NewGw);
        Assert.Equal(OldGw, Lookup(Target).Gateway);
        Sysctl.Set("net.inet.ip.forwarding", "0", _vnet);
        Inject(OldGw, Target, NewGw);
        Assert.Equal(NewGw, Lookup(Target).Gateway);
    }

    [Fact]
    public void ABadCodeOrShortRedirectIsCountedAndIgnored()
    {
        long badcode, badlen;
        using (Curvnet.Set(_vnet))
        {
            (badcode, badlen) = (Icmp.Fetch(IcmpStat.icps_badcode), Icmp.Fetch(IcmpStat.icps_badlen));
        }

        Inject(OldGw, Target, NewGw, code: 4);
        Inject(OldGw, Target, NewGw, quoted: 4);
        Assert.Equal(OldGw, Lookup(Target).Gateway);
        using (Curvnet.Set(_vnet))
        {
            Assert.Equal((badcode + 1, badlen + 1), (Icmp.Fetch(IcmpStat.icps_badcode), Icmp.Fetch(IcmpStat.icps_badlen)));
        }
    }

    /// <summary>
    /// A router forwarding back out of the arrival interface redirects the client (ip_forward), and the client
    /// (drop_redirect=0, FreeBSD's default) then sends that host's packets to the better gateway directly.
    /// </summary>
    [SkippableFact]
    public void TheClientAppliesTheRedirectItsRouterSends()
    {
        Skip.IfNot(Vnet.IsVimage, "a client and a router are two vnets");
        using var t = new Topology();
        Vnet client = t.NewVnet("redir-client"), router = t.NewVnet("redir-router");
        (Ifnet clientIf, _) = t.Link(client, "192.0.2.1/24", router, "192.0.2.2/24");
        using (Curvnet.Set(client))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("192.0.2.2"));
        }

        using (Curvnet.Set(router))
        {
            Routes.AddGateway(InAddr.Parse("203.0.113.0"), 24, InAddr.Parse("192.0.2.3"));
        }

        Sysctl.Set("net.inet.ip.forwarding", "1", router);
        using var probe = new EchoProbe(client);
        Assert.Equal(0, probe.Send("203.0.113.9", 1));
        Assert.True(Frames.WaitFor(() =>
        {
            using (Curvnet.Set(client))
            {
                return Routes.Lookup(Target) is { PrefixLength: 32 };
            }
        }), "the client did not apply the redirect");
        using (Curvnet.Set(client))
        {
            Rtentry r = Routes.Lookup(Target)!;
            Assert.Equal((InAddr.Parse("192.0.2.3"), clientIf), (r.Gateway, r.Interface));
            Assert.Equal(RtFlags.RTF_UP | RtFlags.RTF_GATEWAY | RtFlags.RTF_HOST | RtFlags.RTF_DYNAMIC, r.Flags);
            Assert.Equal(1, RtStats.Fetch(RtStat.rts_dynamic));
            Assert.Equal(InAddr.Parse("192.0.2.2"), Routes.Lookup(InAddr.Parse("203.0.113.10"))!.Gateway);
        }
    }
}
