using Vimage.Core;
using Vimage.Net.Route;

namespace Vimage.Net.Inet;

/// <summary>
/// Multipath routes (net/route/nhgrp.c, route_ctl.c with ROUTE_MPATH): with net.route.multipath a prefix may have
/// several gateway paths, each with its weight; a lookup picks one by the packet's flow hash, in proportion to the
/// weights, as a nexthop group's slot array does.
/// </summary>
public static partial class Routes
{
    [Vnet]
    [Sysctl("net.route.multipath", SysctlFlags.RW | SysctlFlags.VNET, "Enable route multipath", Min = 0, Max = 1)]
    internal static int s_rib_route_multipath = 1;

    /// <summary>
    /// rib_add_route's multipath rule: a new gateway route joins an existing gateway route to the same prefix when
    /// multipath is on and its gateway differs; anything else is EEXIST.
    /// </summary>
    private static bool MayJoin(Rtentry existing, Rtentry added)
        => V_rib_route_multipath != 0 && existing.IsGateway && added.IsGateway && existing.Gateway != added.Gateway
           && (existing.Flags & RtFlags.RTF_PINNED) == 0 && (added.Flags & RtFlags.RTF_DYNAMIC) == 0;

    /// <summary>nhgrp's slot choice: the flow hash modulo the sum of weights, walked in path order. Allocates nothing.</summary>
    internal static Rtentry SelectPath(Rtentry[] group, uint flow)
    {
        long total = 0;
        foreach (Rtentry r in group)
        {
            total += Math.Max(1, r.Weight);
        }

        long slot = flow % total;
        foreach (Rtentry r in group)
        {
            slot -= Math.Max(1, r.Weight);
            if (slot < 0)
            {
                return r;
            }
        }

        return group[^1];
    }

    /// <summary>
    /// fib4_calc_software_hash: a flow hash from the addresses, protocol and (TCP/UDP) ports for a packet without
    /// one, so a connection keeps its path.
    /// </summary>
    public static uint FlowHash(InAddr src, InAddr dst, byte protocol, uint ports)
    {
        uint h = (src.Value * 0x9E3779B1u) ^ uint.RotateLeft(dst.Value * 0x85EBCA77u, 13) ^ (ports * 0xC2B2AE3Du) ^ protocol;
        h ^= h >> 16;
        h *= 0x7FEB352Du;
        h ^= h >> 15;
        return h;
    }
}
