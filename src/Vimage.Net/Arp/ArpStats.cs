using Vimage.Core;

namespace Vimage.Net.Arp;

#pragma warning disable CA1707 // FreeBSD's names.

/// <summary>struct arpstat (net/if_arp.h) in FreeBSD's order; rxbad is Vimage's count of malformed packets.</summary>
public enum ArpStat
{
    txrequests, txreplies, rxrequests, rxreplies, received, txerrors, arp_spare0, arp_spare1, arp_spare2,
    dropped, timeouts, dupips, rxbad,
}

/// <summary>The ARP knobs of netinet/if_ether.c, virtualized, with FreeBSD's names and defaults.</summary>
public static partial class ArpLayer
{
    [Vnet]
    [Sysctl("net.link.ether.inet.max_age", SysctlFlags.RW | SysctlFlags.VNET, "ARP entry lifetime in seconds", Min = 1, Max = 86400 * 7)]
    internal static int s_arpt_keep = 1200;

    [Vnet]
    [Sysctl("net.link.ether.inet.maxtries", SysctlFlags.RW | SysctlFlags.VNET, "ARP resolution attempts before returning error", Min = 1, Max = 100)]
    internal static int s_arp_maxtries = 5;

    [Vnet]
    [Sysctl("net.link.ether.inet.wait", SysctlFlags.RW | SysctlFlags.VNET, "Incomplete ARP entry lifetime in seconds", Min = 1, Max = 3600)]
    internal static int s_arpt_down = 20;

    [Vnet]
    [Sysctl("net.link.ether.inet.maxhold", SysctlFlags.RW | SysctlFlags.VNET, "Number of packets to hold per ARP entry", Min = 1, Max = 256)]
    internal static int s_arp_maxhold = 16;

    [Vnet]
    [Sysctl("net.link.ether.inet.proxyall", SysctlFlags.RW | SysctlFlags.VNET, "Enable proxy ARP for all suitable requests", Min = 0, Max = 1)]
    internal static int s_arp_proxyall;

    [Vnet]
    [Sysctl("net.link.ether.inet.garp_rexmit_count", SysctlFlags.RW | SysctlFlags.VNET, "Number of times to retransmit GARP packets", Min = 0, Max = 16)]
    internal static int s_garp_rexmit_count;

    [Vnet]
    [Sysctl("net.link.ether.arp.stats", SysctlFlags.RW | SysctlFlags.VNET, "ARP statistics (struct arpstat, net/if_arp.h)")]
    internal static VnetPcpuStat<ArpStat> s_arpstat;

    [Vnet]
    private static ArpTable s_arptable = new();

    public static ArpTable Table => V_arptable;

    public static ArpTable TableOf(Vnet vnet) => V_arptable_In(vnet);

    public static long Fetch(ArpStat field) => V_arpstat.Fetch(field);

    internal static void Stat(ArpStat field) => V_arpstat.Inc(field);
}
