using Vimage.Core;
using Vimage.Net.Arp;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Net.Tests;

#if VIMAGE
/// <summary>ip_tryforward / ip_forward's counters for output errors and redirects.</summary>
public class ForwardCounterTests
{
    private static (Vnet Client, Vnet Router, Ifnet RouterLeft) Chain(Topology t, string name)
    {
        Vnet client = t.NewVnet(name + "-client"), router = t.NewVnet(name + "-router"), server = t.NewVnet(name + "-server");
        (_, Ifnet routerLeft) = t.Link(client, "192.0.2.1/24", router, "192.0.2.2/24");
        t.Link(router, "198.51.100.1/24", server, "198.51.100.2/24");
        using (Curvnet.Set(client))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("192.0.2.2"));
        }

        Sysctl.Set("net.inet.ip.forwarding", "1", router);
        Sysctl.Set("net.link.ether.inet.maxtries", "1", router);
        return (client, router, routerLeft);
    }

    /// <summary>Lets the router's resolution of <paramref name="gateway"/> give up (maxtries is 1) without waiting a second.</summary>
    private static void GiveUp(Vnet router, string gateway)
    {
        using (var clock = new NetClock(NetTimers.NowMs))
        {
            clock.TickAt(clock.Now + 1500);
        }

        using (Curvnet.Set(router))
        {
            Assert.Equal(LlState.Down, ArpLayer.Table.FindAny(InAddr.Parse(gateway))!.State);
        }
    }

    [Fact]
    public void AnOutputErrorOnTheFastPathIsOdroppedNotCantforward()
    {
        using var t = new Topology();
        var (client, router, _) = Chain(t, "fwd-odrop");
        using (Curvnet.Set(router))
        {
            Routes.AddGateway(InAddr.Parse("203.0.113.0"), 24, InAddr.Parse("198.51.100.77")); // a silent next hop
        }

        using var probe = new EchoProbe(client);
        Assert.Equal(0, probe.Send("203.0.113.9", 1));
        Assert.True(Frames.WaitFor(() => Stats.Ip(router, IpStat.ips_forward) == 1), "first packet not forwarded (held by ARP)");
        GiveUp(router, "198.51.100.77");
        Assert.Equal(0, probe.Send("203.0.113.9", 2));
        Assert.True(Frames.WaitFor(() => Stats.Ip(router, IpStat.ips_odropped) == 1), "the failed output is not ips_odropped");
        Assert.Equal(0, Stats.Ip(router, IpStat.ips_cantforward));
        Assert.Equal(1, Stats.Ip(router, IpStat.ips_forward));
    }

    [Fact]
    public void ARedirectIsCountedOnlyWhenThePacketWentOut()
    {
        using var t = new Topology();
        var (client, router, routerLeft) = Chain(t, "fwd-redir");
        Sysctl.Set("net.inet.icmp.drop_redirect", "1", client); // the client keeps sending through the router
        using (Curvnet.Set(router))
        {
            // A better first hop on the client's own link: forwarding back out of the arrival interface redirects.
            Routes.AddGateway(InAddr.Parse("203.0.113.0"), 24, InAddr.Parse("192.0.2.3"));
        }

        using var probe = new EchoProbe(client);
        Assert.Equal(0, probe.Send("203.0.113.9", 1)); // held by ARP: sent as far as ip_forward knows
        Assert.True(Frames.WaitFor(() => Stats.Ip(router, IpStat.ips_redirectsent) == 1));
        Assert.True(probe.WaitFor(1), "no redirect reached the client");
        Assert.True(probe.Received.TryDequeue(out var redirect));
        Assert.Equal((IcmpType.Redirect, IcmpCode.RedirectHost), (redirect.Type, redirect.Code));

        GiveUp(router, "192.0.2.3");
        Assert.Equal(0, probe.Send("203.0.113.9", 2));
        Assert.True(Frames.WaitFor(() => Stats.Ip(router, IpStat.ips_cantforward) == 1), "the failed slow-path output is not counted");
        Assert.Equal(1, Stats.Ip(router, IpStat.ips_redirectsent)); // nothing went out: no redirect counted
        Assert.Equal(0, Stats.Ip(router, IpStat.ips_odropped));

        using (Curvnet.Set(router))
        {
            ArpLayer.AddStatic(routerLeft, InAddr.Parse("192.0.2.3"), [0x02, 0, 0, 0, 0, 3]);
        }

        Assert.Equal(0, probe.Send("203.0.113.9", 3));
        Assert.True(Frames.WaitFor(() => Stats.Ip(router, IpStat.ips_redirectsent) == 2));
        Assert.True(probe.WaitFor(1), "no redirect for the packet that went out");
        Assert.Equal(2, Stats.Ip(router, IpStat.ips_forward));
    }
}
#endif
