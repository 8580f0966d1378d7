using Vimage.Core;
using Vimage.Net.Route;

namespace Vimage.Net.Inet;

/// <summary>
/// Nexthop indexes (net/route/nhop_ctl.c): routes that leave the same way — same gateway, interface, kind and MTU —
/// share one nexthop and so one index, as nhop_get_nhop finds an existing nhop before creating one. Indexes start
/// at 1 and a freed one is reused lowest first (nhop's bitmask allocator). Callers hold the table's write lock.
/// </summary>
public static partial class Routes
{
    [Vnet]
    private static Dictionary<NhopKey, NhopSlot> s_nhops = new();

    [Vnet]
    private static SortedSet<int> s_nhop_free = new();

    [Vnet]
    private static int s_nhop_next = 1;

    /// <summary>The nexthops in use (netstat -o): each with its index and one route that uses it.</summary>
    public static IReadOnlyList<(int Index, Rtentry Route, int Refcount)> Nhops()
    {
        lock (WriteLock)
        {
            var list = new List<(int, Rtentry, int)>();
            foreach (Rtentry r in V_rt_tables.SelectMany(t => t.Entries))
            {
                if (V_nhops.TryGetValue(NhopKey.Of(r), out NhopSlot slot) && list.TrueForAll(x => x.Item1 != slot.Index))
                {
                    list.Add((slot.Index, r, slot.Refs));
                }
            }

            list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
            return list;
        }
    }

    private static Rtentry WithNhop(Rtentry route)
    {
        NhopKey key = NhopKey.Of(route);
        Dictionary<NhopKey, NhopSlot> nhops = V_nhops;
        if (nhops.TryGetValue(key, out NhopSlot slot))
        {
            nhops[key] = slot with { Refs = slot.Refs + 1 };
            return route with { NhopIndex = slot.Index };
        }

        int index;
        SortedSet<int> free = V_nhop_free;
        if (free.Count > 0)
        {
            index = free.Min;
            free.Remove(index);
        }
        else
        {
            index = V_nhop_next++;
        }

        nhops[key] = new NhopSlot(index, 1);
        return route with { NhopIndex = index };
    }

    private static void ReleaseNhop(Rtentry route)
    {
        NhopKey key = NhopKey.Of(route);
        Dictionary<NhopKey, NhopSlot> nhops = V_nhops;
        if (!nhops.TryGetValue(key, out NhopSlot slot))
        {
            return;
        }

        if (slot.Refs > 1)
        {
            nhops[key] = slot with { Refs = slot.Refs - 1 };
            return;
        }

        nhops.Remove(key);
        V_nhop_free.Add(slot.Index);
    }

    internal readonly record struct NhopSlot(int Index, int Refs);

    /// <summary>What makes two nexthops the same (nhop_object's gateway, ifp, flags and mtu).</summary>
    internal readonly record struct NhopKey(uint Gateway, Ifnet Interface, RtFlags Kind, int Mtu)
    {
        private const RtFlags KindFlags = RtFlags.RTF_GATEWAY | RtFlags.RTF_REJECT | RtFlags.RTF_BLACKHOLE;

        public static NhopKey Of(Rtentry r) => new(r.IsGateway ? r.Gateway.Value : 0, r.Interface, r.Flags & KindFlags, r.RouteMtu);
    }
}
