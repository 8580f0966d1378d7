namespace Vimage.Net;

#pragma warning disable CA1707 // FreeBSD's names, kept on purpose.

/// <summary>IFF_* interface flags (net/if.h), same values.</summary>
[Flags]
public enum IfFlags
{
    None = 0,
    IFF_UP = 0x1,
    IFF_BROADCAST = 0x2,
    IFF_DEBUG = 0x4,
    IFF_LOOPBACK = 0x8,
    IFF_POINTOPOINT = 0x10,

    /// <summary>IFF_DRV_RUNNING: resources allocated, the driver moves packets.</summary>
    IFF_RUNNING = 0x40,
    IFF_NOARP = 0x80,
    IFF_PROMISC = 0x100,
    IFF_SIMPLEX = 0x800,
    IFF_LINK0 = 0x1000,
    IFF_LINK1 = 0x2000,
    IFF_LINK2 = 0x4000,
    IFF_MULTICAST = 0x8000,

    /// <summary>IFF_MONITOR: frames are captured (bpf) but neither processed nor sent.</summary>
    IFF_MONITOR = 0x40000,

    /// <summary>IFF_STATICARP: only static ARP entries; requests are still answered.</summary>
    IFF_STATICARP = 0x80000,
}

/// <summary>if_type values used here (net/if_types.h).</summary>
public enum IfType
{
    IFT_ETHER = 0x6,

    /// <summary>IFT_PPP: what if_tuntap gives a tun (raw IP, no link header).</summary>
    IFT_PPP = 0x17,
    IFT_LOOP = 0x18,
}

/// <summary>ift_counter: the per-interface statistics, in FreeBSD's order.</summary>
public enum IfCounter
{
    IFCOUNTER_IPACKETS,
    IFCOUNTER_IERRORS,
    IFCOUNTER_OPACKETS,
    IFCOUNTER_OERRORS,
    IFCOUNTER_COLLISIONS,
    IFCOUNTER_IBYTES,
    IFCOUNTER_OBYTES,
    IFCOUNTER_IMCASTS,
    IFCOUNTER_OMCASTS,
    IFCOUNTER_IQDROPS,
    IFCOUNTER_OQDROPS,
    IFCOUNTER_NOPROTO,
}

/// <summary>IFCAP_* interface capabilities (net/if.h, same values): if_capabilities and if_capenable.</summary>
[Flags]
public enum IfCap
{
    None = 0,
    IFCAP_RXCSUM = 0x1,
    IFCAP_TXCSUM = 0x2,
    IFCAP_VLAN_MTU = 0x8,
    IFCAP_TSO4 = 0x100,
    IFCAP_TSO6 = 0x200,
    IFCAP_LRO = 0x400,
    IFCAP_LINKSTATE = 0x80000,
    IFCAP_RXCSUM_IPV6 = 0x200000,
    IFCAP_TXCSUM_IPV6 = 0x400000,

    IFCAP_HWCSUM = IFCAP_RXCSUM | IFCAP_TXCSUM,
    IFCAP_HWCSUM_IPV6 = IFCAP_RXCSUM_IPV6 | IFCAP_TXCSUM_IPV6,
    IFCAP_TSO = IFCAP_TSO4 | IFCAP_TSO6,
}
