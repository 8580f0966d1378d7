using Vimage.Core;
using Vimage.Net.Route;

namespace Vimage.Net.Inet;

/// <summary>
/// The vnet's IPv4 routing tables, one per FIB (rt_tables[fib][AF_INET]): longest-prefix match over
/// per-prefix-length hash tables. Each table is copy-on-write: writers build a new snapshot and a new array of
/// tables under a lock (growing net.fibs too), lookups read the current array without locking or allocating,
/// which keeps the forwarding path fast and safe on several queues at once.
/// </summary>
public static partial class Routes
{
    private static readonly object WriteLock = new();

    [Vnet]
    private static RouteSnapshot[] s_rt_tables = [RouteSnapshot.Empty];

    /// <summary>Every route of FIB 0, most specific first (netstat -rn order is by destination: see <see cref="Sorted"/>).</summary>
    public static IReadOnlyList<Rtentry> All => Table(Fibs.RT_DEFAULT_FIB);

    /// <summary>Every route of <paramref name="fib"/> (empty for a fib the vnet does not have).</summary>
    public static IReadOnlyList<Rtentry> Table(int fib) => Snapshot(V_rt_tables, fib).Entries;

    /// <summary>Every route of every FIB of <paramref name="vnet"/>.</summary>
    public static IReadOnlyList<Rtentry> Of(Vnet vnet) => V_rt_tables_In(vnet).SelectMany(t => t.Entries).ToArray();

    private static RouteSnapshot Snapshot(RouteSnapshot[] tables, int fib)
        => (uint)fib < (uint)tables.Length ? tables[fib] : RouteSnapshot.Empty;

    /// <summary>Publishes a new snapshot of <paramref name="fib"/> (caller holds the write lock).</summary>
    private static void Publish(int fib, RouteSnapshot table)
    {
        RouteSnapshot[] tables = (RouteSnapshot[])V_rt_tables.Clone();
        tables[fib] = table;
        Volatile.Write(ref V_rt_tables, tables);
    }

    /// <summary>The table of <paramref name="fib"/> for a change: EINVAL for a fib the vnet does not have.</summary>
    private static RouteSnapshot Writable(int fib)
        => (uint)fib < (uint)V_rt_tables.Length
            ? V_rt_tables[fib]
            : throw new RouteException(RouteError.InvalidArgument, $"route: invalid fib number: {fib}");

    /// <summary>Routes in netstat -rn order: default first, then by destination and prefix.</summary>
    public static IReadOnlyList<Rtentry> Sorted(IReadOnlyList<Rtentry> routes)
        => routes.OrderBy(r => r.PrefixLength == 0 ? 0 : 1).ThenBy(r => r.Destination.Value).ThenBy(r => r.PrefixLength).ToArray();

    /// <summary>fib4_lookup in FIB 0.</summary>
    public static Rtentry? Lookup(InAddr dst) => Lookup(Fibs.RT_DEFAULT_FIB, dst);

    /// <summary>fib4_lookup: the most specific route to <paramref name="dst"/> in <paramref name="fib"/>, or null (a multipath route's first path).</summary>
    public static Rtentry? Lookup(int fib, InAddr dst) => Snapshot(V_rt_tables, fib).Lookup(dst, 0);

    /// <summary>fib4_lookup with a flow: a multipath route's path is chosen by <paramref name="flow"/>, in proportion to the weights.</summary>
    public static Rtentry? Lookup(int fib, InAddr dst, uint flow) => Snapshot(V_rt_tables, fib).Lookup(dst, flow);

    /// <summary>route get: like lookup but ESRCH when there is none.</summary>
    public static Rtentry Get(InAddr dst, int fib = Fibs.RT_DEFAULT_FIB)
        => Lookup(fib, dst) ?? throw new RouteException(RouteError.NotInTable, $"route: route has not been found ({dst})");

    /// <summary>route add dst[/len] gateway: the gateway must be on a connected network (ENETUNREACH otherwise).</summary>
    public static Rtentry AddGateway(InAddr dst, int prefixLength, InAddr gateway, RouteAttrs attrs = default)
        => Insert(GatewayRoute(dst, prefixLength, gateway, attrs));

    /// <summary>route add of a route built by <see cref="GatewayRoute"/>, <see cref="InterfaceRoute"/> or <see cref="DiscardRoute"/>.</summary>
    public static Rtentry Add(Rtentry route) => Insert(route);

    /// <summary>route add dst[/len] -interface IF.</summary>
    public static Rtentry AddInterface(InAddr dst, int prefixLength, Ifnet ifp, RouteAttrs attrs = default)
        => Insert(Apply(new Rtentry(Normalize(dst, prefixLength), prefixLength, InAddr.Any, ifp, RtFlags.RTF_UP | RtFlags.RTF_STATIC), attrs));

    /// <summary>route add dst -blackhole (silently dropped) or -reject (ICMP unreachable), bound to lo0 as in FreeBSD.</summary>
    public static Rtentry AddDiscard(InAddr dst, int prefixLength, bool reject, RouteAttrs attrs = default)
        => Insert(DiscardRoute(dst, prefixLength, reject, attrs));

    /// <summary>
    /// route change: the existing route to exactly dst/len gets a new gateway (or interface, or discard kind) and
    /// metrics; ESRCH when there is none. Routes the kernel made for an address (no RTF_STATIC, no gateway) may
    /// be changed too, as in FreeBSD.
    /// </summary>
    public static Rtentry Change(Rtentry replacement)
    {
        ArgumentNullException.ThrowIfNull(replacement);
        lock (WriteLock)
        {
            RouteSnapshot table = Writable(replacement.Fib);
            Rtentry old = table.Entries.FirstOrDefault(r => r.Destination == replacement.Destination && r.PrefixLength == replacement.PrefixLength)
                          ?? throw new RouteException(RouteError.NotInTable, $"route: writing to routing socket: No such process ({replacement.DestinationText} not in table)");
            Rtentry changed = WithNhop(replacement);
            Publish(replacement.Fib, table.Without(r => r == old).With([changed]));
            NoteExpire(changed);
            ReleaseNhop(old);
            RtSock.RouteMessage(RtmType.RTM_CHANGE, changed);
            return changed;
        }
    }

    /// <summary>The route route add dst gateway would insert (for route change), without inserting it.</summary>
    public static Rtentry GatewayRoute(InAddr dst, int prefixLength, InAddr gateway, RouteAttrs attrs = default)
    {
        Rtentry via = Lookup(attrs.Fib, gateway) is { IsGateway: false, IsBlackhole: false, IsReject: false } connected
            ? connected
            : throw new RouteException(RouteError.NetworkUnreachable, $"route: writing to routing socket: Network is unreachable (gateway {gateway})");
        RtFlags flags = RtFlags.RTF_UP | RtFlags.RTF_GATEWAY | RtFlags.RTF_STATIC;
        return Apply(new Rtentry(Normalize(dst, prefixLength), prefixLength, gateway, via.Interface, flags), attrs);
    }

    /// <summary>The route route add dst -interface IF would insert.</summary>
    public static Rtentry InterfaceRoute(InAddr dst, int prefixLength, Ifnet ifp, RouteAttrs attrs = default)
        => Apply(new Rtentry(Normalize(dst, prefixLength), prefixLength, InAddr.Any, ifp, RtFlags.RTF_UP | RtFlags.RTF_STATIC), attrs);

    /// <summary>The route route add dst -blackhole|-reject would insert (on lo0).</summary>
    public static Rtentry DiscardRoute(InAddr dst, int prefixLength, bool reject, RouteAttrs attrs = default)
    {
        Ifnet lo0 = Ifnets.Find("lo0");
        RtFlags flags = RtFlags.RTF_UP | RtFlags.RTF_STATIC | (reject ? RtFlags.RTF_REJECT : RtFlags.RTF_BLACKHOLE);
        return Apply(new Rtentry(Normalize(dst, prefixLength), prefixLength, InAddr.Loopback, lo0, flags), attrs);
    }

    private static Rtentry Apply(Rtentry route, RouteAttrs attrs)
    {
        RtFlags flags = route.Flags | attrs.Set;
        if (attrs.NoStatic)
        {
            flags &= ~RtFlags.RTF_STATIC;
        }

        if (route.IsHost)
        {
            flags |= RtFlags.RTF_HOST;
        }

        return route with { Fib = attrs.Fib, Flags = flags, RouteMtu = attrs.Mtu, Weight = attrs.Weight == 0 ? 1 : attrs.Weight, Locks = attrs.Locks };
    }

    /// <summary>route delete dst[/len].</summary>
    public static Rtentry Delete(InAddr dst, int prefixLength) => Delete(dst, prefixLength, null);

    /// <summary>route delete dst[/len] [gateway] -fib N.</summary>
    public static Rtentry Delete(InAddr dst, int prefixLength, InAddr? gateway) => Delete(dst, prefixLength, gateway, Fibs.RT_DEFAULT_FIB);

    /// <summary>
    /// route delete dst[/len] gateway: with a gateway only the route through it goes (rib_del_route's nexthop
    /// filter); ESRCH when the route leaves another way.
    /// </summary>
    public static Rtentry Delete(InAddr dst, int prefixLength, InAddr? gateway, int fib)
    {
        lock (WriteLock)
        {
            InAddr key = Normalize(dst, prefixLength);
            RouteSnapshot table = Writable(fib);
            // rib_del_route: with a gateway only that path goes; without one the whole route (every path of a multipath one).
            Rtentry[] victims = table.Entries.Where(r => r.Destination == key && r.PrefixLength == prefixLength
                                                         && (gateway is not { } gw || (r.IsGateway && r.Gateway == gw))).ToArray();
            if (victims.Length == 0)
            {
                throw new RouteException(RouteError.NotInTable, $"route: writing to routing socket: No such process ({key}/{prefixLength} not in table)");
            }

            Publish(fib, table.Without(r => Array.IndexOf(victims, r) >= 0));
            foreach (Rtentry victim in victims)
            {
                ReleaseNhop(victim);
                RtSock.RouteMessage(RtmType.RTM_DELETE, victim);
            }

            return victims[0];
        }
    }

    /// <summary>
    /// The connected route of a new address, plus its host route on lo0 (so traffic to ourselves loops), in the
    /// interface's FIB or, with net.add_addr_allfibs, in every FIB (in_addprefix / ifa_maintain_loopback_route).
    /// </summary>
    internal static void AddConnected(InIfaddr ia)
    {
        lock (WriteLock)
        {
            if (Fibs.AddAddrAllFibs)
            {
                for (int fib = 0; fib < V_rt_tables.Length; fib++)
                {
                    AddConnected(ia, fib);
                }
            }
            else
            {
                AddConnected(ia, ia.Interface.Fib);
            }
        }
    }

    private static void AddConnected(InIfaddr ia, int fib)
    {
        RouteSnapshot table = Writable(fib);
        var routes = new List<Rtentry>();
        bool hasNet = table.Entries.Any(r => r.Destination == ia.Network && r.PrefixLength == ia.PrefixLength);
        if (!hasNet && ia.PrefixLength < 32)
        {
            routes.Add(WithNhop(new Rtentry(ia.Network, ia.PrefixLength, InAddr.Any, ia.Interface, RtFlags.RTF_UP | RtFlags.RTF_PINNED) { Fib = fib }));
        }

        Ifnet? lo0 = Ifnets.TryFind("lo0");
        bool hasHost = table.Entries.Any(r => r.Destination == ia.Address && r.PrefixLength == 32);
        if (!hasHost)
        {
            routes.Add(WithNhop(ia.Interface.Type == IfType.IFT_LOOP || lo0 is null
                ? new Rtentry(ia.Address, 32, InAddr.Any, ia.Interface, RtFlags.RTF_UP | RtFlags.RTF_HOST | RtFlags.RTF_PINNED) { Fib = fib }
                : new Rtentry(ia.Address, 32, InAddr.Any, lo0, RtFlags.RTF_UP | RtFlags.RTF_HOST | RtFlags.RTF_STATIC | RtFlags.RTF_PINNED) { Fib = fib }));
        }

        Publish(fib, table.With(routes));
        foreach (Rtentry r in routes)
        {
            RtSock.RouteMessage(RtmType.RTM_ADD, r);
        }
    }

    internal static void RemoveConnected(InIfaddr ia)
        => RemoveWhere(r =>
            (r.Destination == ia.Network && r.PrefixLength == ia.PrefixLength && r.Interface == ia.Interface && !r.IsGateway)
            || (r.Destination == ia.Address && r.PrefixLength == 32 && !r.IsGateway));

    /// <summary>Routes through an interface leaving the vnet go with it.</summary>
    internal static void PurgeInterface(Ifnet ifp) => RemoveWhere(r => r.Interface == ifp);

    /// <summary>Removes the matching routes of every FIB.</summary>
    private static void RemoveWhere(Func<Rtentry, bool> remove)
    {
        lock (WriteLock)
        {
            for (int fib = 0; fib < V_rt_tables.Length; fib++)
            {
                RouteSnapshot table = V_rt_tables[fib];
                Rtentry[] removed = table.Entries.Where(remove).ToArray();
                if (removed.Length == 0)
                {
                    continue;
                }

                Publish(fib, table.Without(remove));
                foreach (Rtentry r in removed)
                {
                    ReleaseNhop(r);
                    RtSock.RouteMessage(RtmType.RTM_DELETE, r);
                }
            }
        }
    }

    /// <summary>
    /// grow_rtables for AF_INET: empty tables up to <paramref name="numfibs"/>; with net.add_addr_allfibs the new
    /// ones get the interface routes of every address, as populate_kernel_routes copies them.
    /// </summary>
    internal static void Grow(int numfibs)
    {
        lock (WriteLock)
        {
            int old = V_rt_tables.Length;
            if (numfibs <= old)
            {
                return;
            }

            RouteSnapshot[] tables = new RouteSnapshot[numfibs];
            Array.Fill(tables, RouteSnapshot.Empty);
            V_rt_tables.CopyTo(tables, 0);
            Volatile.Write(ref V_rt_tables, tables);
            if (!Fibs.AddAddrAllFibs)
            {
                return;
            }

            foreach (InIfaddr ia in InAddrs.All)
            {
                for (int fib = old; fib < numfibs; fib++)
                {
                    AddConnected(ia, fib);
                }
            }
        }
    }

    private static Rtentry Insert(Rtentry route)
    {
        lock (WriteLock)
        {
            RouteSnapshot table = Writable(route.Fib);
            if (table.Entries.Any(r => r.Destination == route.Destination && r.PrefixLength == route.PrefixLength && !MayJoin(r, route)))
            {
                throw new RouteException(RouteError.Exists, $"route: writing to routing socket: File exists ({route.DestinationText})");
            }

            Rtentry added = WithNhop(route);
            Publish(route.Fib, table.With([added]));
            NoteExpire(added);
            RtSock.RouteMessage(RtmType.RTM_ADD, added);
            return added;
        }
    }

    private static InAddr Normalize(InAddr dst, int prefixLength)
    {
        if (prefixLength is < 0 or > 32)
        {
            throw new RouteException(RouteError.InvalidArgument, $"route: bad prefix length {prefixLength}");
        }

        return new InAddr(dst.Value & InAddr.MaskOf(prefixLength));
    }
}

/// <summary>
/// An immutable routing table: one hash table per prefix length, longest first. A new snapshot shares the hash
/// tables of the prefix lengths it does not change, so adding a route copies one table, not all of them (a lab
/// node's static routes are one route per prefix length).
/// </summary>
internal sealed class RouteSnapshot
{
    public static readonly RouteSnapshot Empty = new([]);

    private readonly Dictionary<uint, Rtentry[]>?[] _byLength;
    private readonly int[] _lengths;

    private RouteSnapshot(Rtentry[] entries)
        : this(entries, Index(entries))
    {
    }

    private RouteSnapshot(Rtentry[] entries, Dictionary<uint, Rtentry[]>?[] byLength)
    {
        Entries = entries;
        _byLength = byLength;
        _lengths = LengthsOf(byLength);
    }

    private static Dictionary<uint, Rtentry[]>?[] Index(Rtentry[] entries)
    {
        var byLength = new Dictionary<uint, Rtentry[]>?[33];
        foreach (Rtentry r in entries)
        {
            AddPath(byLength[r.PrefixLength] ??= [], r);
        }

        return byLength;
    }

    /// <summary>A route joins the nexthop group of its prefix (one path per gateway when multipath).</summary>
    private static void AddPath(Dictionary<uint, Rtentry[]> table, Rtentry r)
        => table[r.Destination.Value] = table.TryGetValue(r.Destination.Value, out Rtentry[]? group) ? [.. group, r] : [r];

    private static int[] LengthsOf(Dictionary<uint, Rtentry[]>?[] byLength)
        => Enumerable.Range(0, 33).Where(l => byLength[l] is not null).OrderDescending().ToArray();

    public Rtentry[] Entries { get; }

    public Rtentry? Lookup(InAddr dst, uint flow)
    {
        foreach (int length in _lengths)
        {
            if (_byLength[length]!.TryGetValue(dst.Value & InAddr.MaskOf(length), out Rtentry[]? group))
            {
                return group.Length == 1 ? group[0] : Routes.SelectPath(group, flow);
            }
        }

        return null;
    }

    public RouteSnapshot With(IEnumerable<Rtentry> added)
    {
        Rtentry[] more = [.. added];
        var byLength = (Dictionary<uint, Rtentry[]>?[])_byLength.Clone();
        var copied = new bool[33];
        foreach (Rtentry r in more)
        {
            int length = r.PrefixLength;
            if (!copied[length])
            {
                byLength[length] = byLength[length] is { } shared ? new Dictionary<uint, Rtentry[]>(shared) : [];
                copied[length] = true;
            }

            AddPath(byLength[length]!, r);
        }

        return new RouteSnapshot([.. Entries, .. more], byLength);
    }

    public RouteSnapshot Without(Func<Rtentry, bool> remove) => new(Entries.Where(r => !remove(r)).ToArray());
}

/// <summary>The IPv4 FIB registered with <see cref="Ribs"/> (AF_INET's rib_head).</summary>
public sealed class InetRib : IRib
{
    public static readonly InetRib Instance = new();

    private InetRib()
    {
    }

    public SaFamily Family => SaFamily.AF_INET;

    public IReadOnlyList<Nhop> Entries(Vnet vnet) => Routes.Of(vnet);

    public void PurgeInterface(Ifnet ifp) => Routes.PurgeInterface(ifp);

    public void Grow(int numfibs) => Routes.Grow(numfibs);
}
