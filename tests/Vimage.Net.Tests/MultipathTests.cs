using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Net.Tests;

/// <summary>
/// Multipath routes (route_ctl.c with ROUTE_MPATH, nhgrp.c): with net.route.multipath several gateways share a
/// prefix, chosen per flow in proportion to their weights; a delete with a gateway takes one path. Both modes:
/// a vnet of its own with VIMAGE, vnet0 (cleaned up) without.
/// </summary>
public sealed class MultipathTests : IDisposable
{
    private static readonly InAddr Net = InAddr.Parse("198.18.182.0"), Gw1 = InAddr.Parse("198.18.181.2"), Gw2 = InAddr.Parse("198.18.181.3");

    private readonly EpairStack _stack = new("multipath", ("net.route.multipath", "1"));
    private readonly Vnet _vnet;

    public MultipathTests()
    {
        _vnet = _stack.Vnet;
        using (Curvnet.Set(_vnet))
        {
            InAddrs.Add(_stack.Ifp, InAddr.Parse("198.18.181.1"), 24);
        }
    }

    public void Dispose() => _stack.Dispose();

    [Fact]
    public void Two_gateways_share_a_prefix_in_proportion_to_their_weights()
    {
        using (Curvnet.Set(_vnet))
        {
            Assert.Equal(1, Assert.IsType<int>(Sysctl.Get("net.route.multipath", _vnet)));
            Routes.Add(Routes.GatewayRoute(Net, 24, Gw1, new RouteAttrs { Weight = 1 }));
            Routes.Add(Routes.GatewayRoute(Net, 24, Gw2, new RouteAttrs { Weight = 3 }));
            Assert.Equal(2, Routes.All.Count(r => r.Destination == Net && r.PrefixLength == 24));

            int toGw2 = 0;
            for (uint flow = 0; flow < 4000; flow++)
            {
                if (Routes.Lookup(0, InAddr.Parse("198.18.182.9"), flow)!.Gateway == Gw2)
                {
                    toGw2++;
                }
            }

            Assert.Equal(3000, toGw2); // weights 1:3 over the slots
            Assert.Equal(Gw1, Routes.Lookup(0, InAddr.Parse("198.18.182.9"), 4)!.Gateway);
            Assert.Equal(Gw2, Routes.Lookup(0, InAddr.Parse("198.18.182.9"), 5)!.Gateway);

            var same = Assert.Throws<RouteException>(() => Routes.Add(Routes.GatewayRoute(Net, 24, Gw2)));
            Assert.Equal(RouteError.Exists, same.Error); // one path per gateway

            Routes.Delete(Net, 24, Gw1, 0);
            Assert.Equal(Gw2, Assert.Single(Routes.All, r => r.Destination == Net && r.PrefixLength == 24).Gateway);
            Assert.Equal(Gw2, Routes.Lookup(0, InAddr.Parse("198.18.182.9"), 4)!.Gateway);

            Routes.Add(Routes.GatewayRoute(Net, 24, Gw1));
            Routes.Delete(Net, 24);
            Assert.DoesNotContain(Routes.All, r => r.Destination == Net && r.PrefixLength == 24); // without a gateway: every path
        }
    }

    [Fact]
    public void Without_multipath_a_second_gateway_is_EEXIST()
    {
        using (Curvnet.Set(_vnet))
        {
            Sysctl.Set("net.route.multipath", "0", _vnet);
            Routes.Add(Routes.GatewayRoute(Net, 24, Gw1));
            var second = Assert.Throws<RouteException>(() => Routes.Add(Routes.GatewayRoute(Net, 24, Gw2)));
            Assert.Equal(RouteError.Exists, second.Error);
            Routes.Delete(Net, 24);
        }
    }
}
