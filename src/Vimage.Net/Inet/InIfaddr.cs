using Vimage.Core;
using Vimage.Net.Route;

namespace Vimage.Net.Inet;

/// <summary>struct in_ifaddr: an IPv4 address configured on an interface.</summary>
public sealed record InIfaddr(Ifnet Interface, InAddr Address, int PrefixLength)
{
    public uint Mask => InAddr.MaskOf(PrefixLength);

    public InAddr Network => new(Address.Value & Mask);

    /// <summary>The subnet's directed broadcast (none for /31 and /32).</summary>
    public InAddr BroadcastAddress => PrefixLength >= 31 ? Address : new InAddr(Address.Value | ~Mask);

    public bool Contains(InAddr a) => (a.Value & Mask) == (Address.Value & Mask);

    public string Prefix => $"{Network}/{PrefixLength}";
}

/// <summary>
/// V_in_ifaddrhead: the vnet's IPv4 addresses. Adding one installs the connected route and announces it with
/// gratuitous ARP; an interface leaving the vnet takes its addresses (and their routes) with it. Readers get
/// an immutable snapshot, so the per-packet "is this for us?" check takes no lock and allocates nothing.
/// </summary>
public static partial class InAddrs
{
    [Vnet]
    private static InIfaddr[] s_in_ifaddrs = [];

    private static readonly object WriteLock = new();

    /// <summary>Raised after an address is added (ARP announces it).</summary>
    public static event Action<InIfaddr>? Added;

    public static IReadOnlyList<InIfaddr> All => V_in_ifaddrs;

    public static IReadOnlyList<InIfaddr> Of(Vnet vnet) => V_in_ifaddrs_In(vnet);

    public static IEnumerable<InIfaddr> On(Ifnet ifp) => V_in_ifaddrs.Where(a => a.Interface == ifp);

    /// <summary>Whether <paramref name="address"/> is on one of <paramref name="ifp"/>'s networks (per packet: no allocation).</summary>
    public static bool IsOnLink(Ifnet ifp, InAddr address)
    {
        foreach (InIfaddr a in V_in_ifaddrs)
        {
            if (a.Interface == ifp && a.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>ifconfig IF inet A/len [alias]: EEXIST if the address is already on that interface.</summary>
    public static InIfaddr Add(Ifnet ifp, InAddr address, int prefixLength)
    {
        if (prefixLength is < 0 or > 32)
        {
            throw new IfException(IfError.InvalidArgument, $"ifconfig: {prefixLength}: bad prefix length");
        }

        if (address.IsAny || address.IsBroadcast || address.IsMulticast)
        {
            throw new IfException(IfError.InvalidArgument, $"ifconfig: {address}: not a usable interface address");
        }

        var ia = new InIfaddr(ifp, address, prefixLength);
        lock (WriteLock)
        {
            ifp.EnsureAttached();
            if (V_in_ifaddrs.Any(a => a.Address == address))
            {
                throw new IfException(IfError.Exists, $"ifconfig: ioctl (SIOCAIFADDR): File exists ({address} is already configured)");
            }

            V_in_ifaddrs = [.. V_in_ifaddrs, ia];
        }

        AddrMessage(RtmType.RTM_NEWADDR, ia);
        Routes.AddConnected(ia);
        Added?.Invoke(ia);
        return ia;
    }

    /// <summary>ifconfig IF inet A -alias / delete.</summary>
    public static void Remove(Ifnet ifp, InAddr address)
    {
        InIfaddr? ia;
        lock (WriteLock)
        {
            ia = V_in_ifaddrs.FirstOrDefault(a => a.Interface == ifp && a.Address == address)
                 ?? throw new IfException(IfError.InvalidArgument,
                     $"ifconfig: ioctl (SIOCDIFADDR): Can't assign requested address ({address} is not on {ifp.Name})");
            V_in_ifaddrs = V_in_ifaddrs.Where(a => a != ia).ToArray();
        }

        AddrMessage(RtmType.RTM_DELADDR, ia);
        Routes.RemoveConnected(ia);
    }

    /// <summary>Drops every address of an interface that leaves the vnet (in_ifdetach).</summary>
    internal static void Purge(Ifnet ifp)
    {
        InIfaddr[] gone;
        lock (WriteLock)
        {
            gone = V_in_ifaddrs.Where(a => a.Interface == ifp).ToArray();
            if (gone.Length == 0)
            {
                return;
            }

            V_in_ifaddrs = V_in_ifaddrs.Where(a => a.Interface != ifp).ToArray();
        }

        foreach (InIfaddr ia in gone)
        {
            AddrMessage(RtmType.RTM_DELADDR, ia);
            Routes.RemoveConnected(ia);
        }
    }

    /// <summary>rt_addrmsg for an IPv4 address: RTAX_IFA, RTAX_NETMASK and RTAX_BRD on a broadcast interface.</summary>
    private static void AddrMessage(RtmType type, InIfaddr ia)
    {
        Sockaddr broadcast = (ia.Interface.Flags & IfFlags.IFF_BROADCAST) != 0 ? ia.BroadcastAddress.ToSockaddr() : Sockaddr.Unspec;
        RtSock.AddrMessage(type, ia.Interface, ia.Address.ToSockaddr(), ia.PrefixLength, broadcast);
    }

    /// <summary>Is <paramref name="dst"/> one of ours: an address, a subnet broadcast, or 255.255.255.255 (weak ES).</summary>
    public static bool IsLocal(InAddr dst, Ifnet? arrival = null)
    {
        if (dst.IsBroadcast)
        {
            return true;
        }

        foreach (InIfaddr ia in V_in_ifaddrs)
        {
            if (ia.Address == dst)
            {
                return true;
            }

            if (ia.PrefixLength < 31 && ia.BroadcastAddress == dst && (arrival is null || ia.Interface == arrival))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Is <paramref name="dst"/> a broadcast address of the vnet (limited or directed).</summary>
    public static bool IsBroadcast(InAddr dst)
    {
        if (dst.IsBroadcast)
        {
            return true;
        }

        foreach (InIfaddr ia in V_in_ifaddrs)
        {
            if (ia.PrefixLength < 31 && (ia.BroadcastAddress == dst || ia.Network == dst))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>ifa_ifwithaddr_check: is <paramref name="address"/> one of the vnet's interface addresses.</summary>
    public static bool IsAddress(InAddr address)
    {
        foreach (InIfaddr ia in V_in_ifaddrs)
        {
            if (ia.Address == address)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Is <paramref name="address"/> configured on <paramref name="ifp"/> itself.</summary>
    public static bool IsOn(Ifnet ifp, InAddr address)
    {
        foreach (InIfaddr ia in V_in_ifaddrs)
        {
            if (ia.Interface == ifp && ia.Address == address)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Source address selection: an address of the outgoing interface, preferring one on the destination's subnet.</summary>
    public static InAddr SourceFor(Ifnet ifp, InAddr dst)
    {
        InAddr first = InAddr.Any;
        foreach (InIfaddr ia in V_in_ifaddrs)
        {
            if (ia.Interface != ifp)
            {
                continue;
            }

            if (ia.Contains(dst))
            {
                return ia.Address;
            }

            if (first.IsAny)
            {
                first = ia.Address;
            }
        }

        return first;
    }

    /// <summary>ifaof_ifpforaddr: the address of <paramref name="ifp"/> whose subnet holds <paramref name="peer"/>, else its first.</summary>
    public static InIfaddr? ForPeer(Ifnet ifp, InAddr peer)
    {
        InIfaddr? first = null;
        foreach (InIfaddr ia in V_in_ifaddrs)
        {
            if (ia.Interface != ifp)
            {
                continue;
            }

            if (ia.Contains(peer))
            {
                return ia;
            }

            first ??= ia;
        }

        return first;
    }

    /// <summary>The first address of an interface, or Any.</summary>
    public static InAddr First(Ifnet ifp) => V_in_ifaddrs.FirstOrDefault(a => a.Interface == ifp)?.Address ?? InAddr.Any;
}
