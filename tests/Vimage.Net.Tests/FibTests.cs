using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Route;
using Vimage.Net.Sockets;
using Vimage.Net.Udp;

namespace Vimage.Net.Tests;

/// <summary>
/// Multiple routing tables (route_tables.c, in_fib.c): net.fibs grows and never shrinks, interface routes go to the
/// interface's fib (or every fib with net.add_addr_allfibs), routes are per fib, sockets route with so_fibnum.
/// Runs in a vnet of its own with VIMAGE and in vnet0 without (net.fibs cannot shrink there: numbers are relative).
/// </summary>
public sealed class FibTests : IDisposable
{
    private static readonly InAddr Local = InAddr.Parse("198.18.171.1"), Peer = InAddr.Parse("198.18.171.2");

    private readonly EpairStack _stack = new("fibs", ("net.add_addr_allfibs", "0"));
    private readonly Vnet _vnet;
    private readonly Ifnet _ifp;

    public FibTests()
    {
        (_vnet, _ifp) = (_stack.Vnet, _stack.Ifp);
        using (Curvnet.Set(_vnet))
        {
            if (Fibs.NumFibs < 2)
            {
                Assert.Equal(0, Fibs.SetNumFibs(2));
            }
        }
    }

    public void Dispose() => _stack.Dispose();

    [Fact]
    public void Net_fibs_grows_at_run_time_and_never_shrinks()
    {
        using (Curvnet.Set(_vnet))
        {
            int n = Fibs.NumFibs;
            Sysctl.Set("net.fibs", (n + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), _vnet);
            Assert.Equal(n + 1, Fibs.NumFibs);
            Assert.Equal(n + 1, Assert.IsType<int>(Sysctl.Get("net.fibs", _vnet)));
            Assert.Empty(Routes.Table(n)); // the new table exists, empty
            Assert.Equal(0, Fibs.SetNumFibs(n + 1)); // the same number is no change

            var lower = Assert.Throws<SysctlException>(() => Sysctl.Set("net.fibs", "1", _vnet));
            Assert.Equal(SysctlError.NotCapable, lower.Error); // sysctl_fibs: ENOTCAPABLE
            Assert.Equal(Fibs.ENOTCAPABLE, Fibs.SetNumFibs(n));
            Assert.Equal(Errno.EINVAL, Fibs.SetNumFibs(Fibs.RT_MAXFIBS + 1));
            Assert.Equal(n + 1, Fibs.NumFibs);
        }
    }

    [Fact]
    public void Interface_routes_go_to_the_interface_fib_or_to_all_with_add_addr_allfibs()
    {
        using (Curvnet.Set(_vnet))
        {
            Assert.Equal(Errno.EINVAL, Fibs.SetInterfaceFib(_ifp, Fibs.NumFibs));
            Assert.Equal(0, _ifp.Fib);
            Assert.Equal(0, Fibs.SetInterfaceFib(_ifp, 1));
            InAddrs.Add(_ifp, Local, 24);
            Assert.Same(_ifp, Routes.Lookup(1, Peer)?.Interface);
            Assert.Equal(1, Routes.Lookup(1, Peer)!.Fib);
            Assert.Null(Routes.Lookup(0, Peer));
            Assert.Null(Routes.Lookup(0, Local)); // the address's loopback route is in fib 1 too

            Sysctl.Set("net.add_addr_allfibs", "1", _vnet);
            InAddrs.Add(_ifp, InAddr.Parse("198.18.172.1"), 24);
            Assert.NotNull(Routes.Lookup(0, InAddr.Parse("198.18.172.9")));
            Assert.NotNull(Routes.Lookup(1, InAddr.Parse("198.18.172.9")));

            // grow_rtables with add_addr_allfibs: the new table starts with every address's interface routes.
            int n = Fibs.NumFibs;
            Assert.Equal(0, Fibs.SetNumFibs(n + 1));
            Assert.Same(_ifp, Routes.Lookup(n, Peer)?.Interface);
            Assert.Same(_ifp, Routes.Lookup(n, InAddr.Parse("198.18.172.9"))?.Interface);

            InAddrs.Remove(_ifp, Local);
            for (int fib = 0; fib < Fibs.NumFibs; fib++)
            {
                Assert.Null(Routes.Lookup(fib, Peer)); // in_scrubprefix: gone from every fib
            }
        }
    }

    [Fact]
    public void Static_routes_live_in_one_fib_and_are_deleted_there()
    {
        using (Curvnet.Set(_vnet))
        {
            Assert.Equal(0, Fibs.SetInterfaceFib(_ifp, 1));
            InAddrs.Add(_ifp, Local, 24);
            InAddr net = InAddr.Parse("198.18.173.0");
            var unreachable = Assert.Throws<RouteException>(() => Routes.AddGateway(net, 24, Peer)); // fib 0 has no 198.18.171/24
            Assert.Equal(RouteError.NetworkUnreachable, unreachable.Error);

            Rtentry added = Routes.Add(Routes.GatewayRoute(net, 24, Peer, new RouteAttrs { Fib = 1 }));
            Assert.Equal(1, added.Fib);
            Assert.Equal(Peer, Routes.Lookup(1, InAddr.Parse("198.18.173.9"))?.Gateway);
            Assert.Null(Routes.Lookup(0, InAddr.Parse("198.18.173.9")));
            Assert.Equal(RouteError.NotInTable, Assert.Throws<RouteException>(() => Routes.Delete(net, 24, null, 0)).Error);
            Assert.Equal(RouteError.InvalidArgument, Assert.Throws<RouteException>(() => Routes.Delete(net, 24, null, Fibs.NumFibs)).Error);
            Routes.Delete(net, 24, Peer, 1);
            Assert.Null(Routes.Lookup(1, InAddr.Parse("198.18.173.9")));
        }
    }

    [Fact]
    public void A_socket_routes_with_its_fib_set_by_SO_SETFIB_or_inherited_from_setfib()
    {
        using (Curvnet.Set(_vnet))
        {
            Assert.Equal(0, Fibs.SetInterfaceFib(_ifp, 1));
            InAddrs.Add(_ifp, Local, 24);
        }

        using UdpSocket plain = UdpSocket.Create(_vnet);
        Assert.Equal(0, plain.Socket.Fib);
        var noRoute = Assert.Throws<NetSocketException>(() => plain.SendTo([1, 2, 3], Peer, 9));
        Assert.Equal(Errno.ENETUNREACH, noRoute.Errno);

        plain.Socket.SetOption(SoOption.SO_SETFIB, 1);
        Assert.Equal(1, plain.Socket.GetOption(SoOption.SO_SETFIB));
        Assert.Equal(3, plain.SendTo([1, 2, 3], Peer, 9)); // fib 1 has the connected route

        int numfibs;
        using (Curvnet.Set(_vnet))
        {
            numfibs = Fibs.NumFibs;
        }

        Assert.Equal(Errno.EINVAL, Assert.Throws<NetSocketException>(() => plain.Socket.SetOption(SoOption.SO_SETFIB, numfibs)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<NetSocketException>(() => plain.Socket.SetOption(SoOption.SO_SETFIB, -1)).Errno);
        Assert.Equal(1, plain.Socket.Fib);

        using (Curvnet.Set(_vnet))
        {
            Assert.Equal(Errno.EINVAL, Fibs.SetFib(numfibs, out _));
            Assert.Equal(0, Fibs.SetFib(1, out Fibs.FibScope scope));
            using (scope)
            {
                Assert.Equal(1, Fibs.Current);
                using UdpSocket inherited = UdpSocket.Create(_vnet); // socreate: so_fibnum = p_fibnum
                Assert.Equal(1, inherited.Socket.Fib);
                Assert.Equal(3, inherited.SendTo([1, 2, 3], Peer, 9));
            }

            Assert.Equal(0, Fibs.Current);
        }
    }

    /// <summary>ip_forward with M_GETFIB: a router forwards what arrives on an interface with that interface's fib.</summary>
    [SkippableFact]
    public void A_router_forwards_with_the_receiving_interface_fib()
    {
        Skip.IfNot(Vnet.IsVimage, "three stacks need VIMAGE");
        using var t = new Topology();
        Vnet client = t.NewVnet("fibfw-client"), router = t.NewVnet("fibfw-router"), server = t.NewVnet("fibfw-server");
        (_, Ifnet left) = t.Link(client, "192.0.2.1/24", router, "192.0.2.2/24");
        (Ifnet right, _) = t.Link(router, "198.51.100.1/24", server, "198.51.100.2/24");
        using (Curvnet.Set(client))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("192.0.2.2"));
        }

        using (Curvnet.Set(server))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("198.51.100.1"));
        }

        Sysctl.Set("net.inet.ip.forwarding", "1", router);
        Sysctl.Set("net.fibs", "2", router);
        using (Curvnet.Set(router))
        {
            Assert.Equal(0, Fibs.SetInterfaceFib(left, 1)); // fib 1 is empty: nothing arriving on left goes anywhere
        }

        using var probe = new EchoProbe(client);
        Assert.Equal(0, probe.Send("198.51.100.2", 1));
        Assert.True(Frames.WaitFor(() => Stats.Ip(router, IpStat.ips_noroute) >= 1), "the router did not look in fib 1");
        Assert.Equal(0, Stats.Ip(router, IpStat.ips_forward));

        using (Curvnet.Set(router))
        {
            Routes.Add(Routes.InterfaceRoute(InAddr.Parse("198.51.100.0"), 24, right, new RouteAttrs { Fib = 1 }));
        }

        Assert.Equal(0, probe.Send("198.51.100.2", 2));
        Assert.True(Frames.WaitFor(() => probe.Received.Any(r => r.Type == IcmpType.EchoReply && r.Sequence == 2)), "no echo reply through fib 1");
        Assert.Equal(2, Stats.Ip(router, IpStat.ips_forward)); // the request through fib 1, the reply (arriving on right) through fib 0
    }
}
