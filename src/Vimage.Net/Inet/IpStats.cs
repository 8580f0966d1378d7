using Vimage.Core;

namespace Vimage.Net.Inet;

#pragma warning disable CA1707 // FreeBSD's field names: netstat -s and users know them.

/// <summary>struct ipstat (netinet/ip_var.h), in FreeBSD's order.</summary>
public enum IpStat
{
    ips_total, ips_badsum, ips_tooshort, ips_toosmall, ips_badhlen, ips_badlen, ips_fragments, ips_fragdropped,
    ips_fragtimeout, ips_forward, ips_fastforward, ips_cantforward, ips_redirectsent, ips_noproto, ips_delivered,
    ips_localout, ips_odropped, ips_reassembled, ips_fragmented, ips_ofragments, ips_cantfrag, ips_badoptions,
    ips_noroute, ips_badvers, ips_rawout, ips_toolong, ips_notmember, ips_nogif, ips_badaddr,
}

/// <summary>IPv4's virtualized knobs and statistics (netinet/ip_input.c, raw_ip.c).</summary>
public static partial class Ip
{
    /// <summary>IPDEFTTL.</summary>
    public const int IPDEFTTL = 64;

    [Vnet]
    [Sysctl("net.inet.ip.forwarding", SysctlFlags.RW | SysctlFlags.VNET, "Enable IP forwarding between interfaces", Min = 0, Max = 1)]
    internal static int s_ipforwarding;

    [Vnet]
    [Sysctl("net.inet.ip.redirect", SysctlFlags.RW | SysctlFlags.VNET, "Enable sending IP redirects", Min = 0, Max = 1)]
    internal static int s_ipsendredirects = 1;

    [Vnet]
    [Sysctl("net.inet.ip.ttl", SysctlFlags.RW | SysctlFlags.VNET, "Maximum TTL on IP packets", Min = 1, Max = 255)]
    internal static int s_ip_defttl = IPDEFTTL;

    [Vnet]
    [Sysctl("net.inet.ip.process_options", SysctlFlags.RW | SysctlFlags.VNET,
        "Enable IP options processing ([LS]SRR, RR, TS)", Min = 0, Max = 2)]
    internal static int s_ip_doopts = 1;

    [Vnet]
    [Sysctl("net.inet.ip.accept_sourceroute", SysctlFlags.RW | SysctlFlags.VNET, "Enable accepting source routed IP packets", Min = 0, Max = 1)]
    internal static int s_ip_acceptsourceroute;

    [Vnet]
    [Sysctl("net.inet.ip.maxfragpackets", SysctlFlags.RW | SysctlFlags.VNET, "Maximum number of IPv4 fragment reassembly queue entries", Min = 0, Max = 1 << 20)]
    internal static int s_maxfragpackets = 1024;

    [Vnet]
    [Sysctl("net.inet.ip.maxfragsperpacket", SysctlFlags.RW | SysctlFlags.VNET, "Maximum number of IPv4 fragments allowed per packet", Min = 1, Max = 1024)]
    internal static int s_maxfragsperpacket = 16;

    [Vnet]
    [Sysctl("net.inet.ip.stats", SysctlFlags.RW | SysctlFlags.VNET, "IP statistics (struct ipstat, netinet/ip_var.h)")]
    internal static VnetPcpuStat<IpStat> s_ipstat;

    public static bool Forwarding => V_ipforwarding != 0;

    public static int DefaultTtl => V_ip_defttl;

    public static bool SendRedirects => V_ipsendredirects != 0;

    /// <summary>net.inet.ip.process_options: 0 ignore, 1 process, 2 reject packets with options.</summary>
    public static int ProcessOptions => V_ip_doopts;

    public static bool AcceptSourceRoute => V_ip_acceptsourceroute != 0;

    public static int MaxFragPackets => V_maxfragpackets;

    public static int MaxFragsPerPacket => V_maxfragsperpacket;

    /// <summary>IPSTAT_INC.</summary>
    public static void Stat(IpStat field) => V_ipstat.Inc(field);

    public static void Stat(IpStat field, long value) => V_ipstat.Add(field, value);

    /// <summary>Reads a statistic of the current vnet (netstat -s).</summary>
    public static long Fetch(IpStat field) => V_ipstat.Fetch(field);
}
