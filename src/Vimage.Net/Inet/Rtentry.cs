using Vimage.Net.Route;

namespace Vimage.Net.Inet;

/// <summary>An IPv4 route (rtentry with its nexthop, netinet/in_fib.h): destination prefix and gateway over <see cref="Nhop"/>.</summary>
public sealed record Rtentry(InAddr Destination, int PrefixLength, InAddr Gateway, Ifnet Interface, RtFlags Flags)
    : Nhop(Interface, Flags)
{
    public uint Mask => InAddr.MaskOf(PrefixLength);

    public override bool IsHost => PrefixLength == 32;

    /// <summary>The route's own MTU (route add -mtu; rmx_mtu), 0 when it follows the interface's.</summary>
    public int RouteMtu { get; init; }

    /// <summary>The path MTU as route get and netstat -rW show it: the route's, else the interface's (nh_mtu).</summary>
    public int EffectiveMtu => RouteMtu != 0 ? Math.Min(RouteMtu, Interface.Mtu) : Interface.Mtu;

    /// <summary>rt_weight (route add -weight), RT_DEFAULT_WEIGHT = 1.</summary>
    public int Weight { get; init; } = 1;

    /// <summary>RTV_* bits of the metrics locked with -lock/-lockrest (rmx_locks).</summary>
    public int Locks { get; init; }

    /// <summary>rt_expire: when the route goes (NetTimers.NowMs), 0 for never (a redirect's host route has one).</summary>
    public long ExpireMs { get; init; }

    /// <summary>nh_idx: the index of the nexthop this route uses (netstat -rW's Nhop#, netstat -o's Idx).</summary>
    public int NhopIndex { get; init; }

    /// <summary>Where a packet to <paramref name="dst"/> goes next on the link.</summary>
    public InAddr NextHop(InAddr dst) => IsGateway ? Gateway : dst;

    /// <summary>netstat -rn's Destination column.</summary>
    public string DestinationText => PrefixLength == 0 ? "default" : IsHost ? Destination.ToString() : $"{Destination}/{PrefixLength}";
}

/// <summary>What route add/change may set besides destination and gateway: metrics and extra RTF_* flags.</summary>
public readonly record struct RouteAttrs
{
    /// <summary>-mtu (0: the interface's).</summary>
    public int Mtu { get; init; }

    /// <summary>-weight (0: RT_DEFAULT_WEIGHT).</summary>
    public int Weight { get; init; }

    /// <summary>RTV_* bits locked by -lock/-lockrest.</summary>
    public int Locks { get; init; }

    /// <summary>Flags to add (-proto1, -proto2, -xresolve...).</summary>
    public RtFlags Set { get; init; }

    /// <summary>-fib N: the routing table (RT_DEFAULT_FIB when not given).</summary>
    public int Fib { get; init; }

    /// <summary>-nostatic: the route is not marked RTF_STATIC.</summary>
    public bool NoStatic { get; init; }
}
