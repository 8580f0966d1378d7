using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Udp;

#pragma warning disable CA1707 // FreeBSD's field names: netstat -s and users know them.

/// <summary>struct udpstat (netinet/udp_var.h), in FreeBSD's order.</summary>
public enum UdpStat
{
    /// <summary>total input packets.</summary>
    udps_ipackets,

    /// <summary>packet shorter than header.</summary>
    udps_hdrops,

    /// <summary>checksum error.</summary>
    udps_badsum,

    /// <summary>no checksum.</summary>
    udps_nosum,

    /// <summary>data length larger than packet.</summary>
    udps_badlen,

    /// <summary>no socket on port.</summary>
    udps_noport,

    /// <summary>of above, arrived as broadcast.</summary>
    udps_noportbcast,

    /// <summary>not delivered, input socket full.</summary>
    udps_fullsock,

    /// <summary>input packets missing pcb cache.</summary>
    udpps_pcbcachemiss,

    /// <summary>input packets not for hashed pcb.</summary>
    udpps_pcbhashmiss,

    /// <summary>total output packets.</summary>
    udps_opackets,

    /// <summary>output packets on fast path.</summary>
    udps_fastout,

    /// <summary>of no socket on port, multicast.</summary>
    udps_noportmcast,

    /// <summary>blocked by multicast filter.</summary>
    udps_filtermcast,
}

/// <summary>UDP's knobs and statistics (netinet/udp_usrreq.c).</summary>
public static partial class Udp
{
    /// <summary>Default for net.inet.udp.maxdgram (udp_sendspace).</summary>
    public const int DefaultMaxDgram = 9216;

    /// <summary>Default for net.inet.udp.recvspace: 40 datagrams of 1 KiB plus a sockaddr_in each.</summary>
    public const int DefaultRecvSpace = 40 * (1024 + 28);

    /// <summary>sizeof(struct udphdr).</summary>
    public const int HeaderLength = 8;

    [Vnet]
    [Sysctl("net.inet.udp.stats", SysctlFlags.RW | SysctlFlags.VNET, "UDP statistics (struct udpstat, netinet/udp_var.h)")]
    internal static VnetPcpuStat<UdpStat> s_udpstat;

    [Vnet]
    [Sysctl("net.inet.udp.checksum", SysctlFlags.RW | SysctlFlags.VNET, "compute udp checksum", Min = 0, Max = 1)]
    internal static int s_udp_cksum = 1;

    [Vnet]
    [Sysctl("net.inet.udp.blackhole", SysctlFlags.RW | SysctlFlags.VNET, "Do not send port unreachables for refused connects", Min = 0, Max = 1)]
    internal static int s_udp_blackhole;

    [Vnet]
    [Sysctl("net.inet.udp.log_in_vain", SysctlFlags.RW | SysctlFlags.VNET, "Log all incoming UDP packets", Min = 0, Max = 1)]
    internal static int s_udp_log_in_vain;

    /// <summary>udp_sendspace: the send buffer (largest datagram) of sockets created afterwards. Not virtualized.</summary>
    [Sysctl("net.inet.udp.maxdgram", SysctlFlags.RW, "Maximum outgoing UDP datagram size", Min = 1, Max = 65535 - 28)]
    internal static int s_udp_sendspace = DefaultMaxDgram;

    /// <summary>udp_recvspace: the receive buffer of sockets created afterwards. Not virtualized.</summary>
    [Sysctl("net.inet.udp.recvspace", SysctlFlags.RW, "Maximum space for incoming UDP datagrams", Min = 1, Max = Vimage.Net.Sockets.SockBuf.MaxSockBuf)]
    internal static int s_udp_recvspace = DefaultRecvSpace;

    /// <summary>Reads a statistic of the current vnet (netstat -s -p udp).</summary>
    public static long Fetch(UdpStat field) => V_udpstat.Fetch(field);

    /// <summary>Reads a statistic of <paramref name="vnet"/> without entering it.</summary>
    public static long Fetch(Vnet vnet, UdpStat field) => V_udpstat_In(vnet).Fetch(field);

    /// <summary>net.inet.udp.maxdgram.</summary>
    public static int MaxDgram
    {
        get => Volatile.Read(ref s_udp_sendspace);
        set => Volatile.Write(ref s_udp_sendspace, value);
    }

    /// <summary>net.inet.udp.recvspace.</summary>
    public static int RecvSpace
    {
        get => Volatile.Read(ref s_udp_recvspace);
        set => Volatile.Write(ref s_udp_recvspace, value);
    }

    /// <summary>UDPSTAT_INC.</summary>
    internal static void Stat(UdpStat field) => V_udpstat.Inc(field);
}
