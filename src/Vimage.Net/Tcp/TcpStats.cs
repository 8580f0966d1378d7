using Vimage.Core;

namespace Vimage.Net.Tcp;

#pragma warning disable CA1707 // FreeBSD's field names: netstat -s and users know them.

/// <summary>
/// struct tcpstat (netinet/tcp_var.h), FreeBSD's leading fields in FreeBSD's order; the rest (syncache, SACK,
/// ECN, ...) join as the code that counts them lands.
/// </summary>
public enum TcpStat
{
    /// <summary>connections initiated.</summary>
    tcps_connattempt,

    /// <summary>connections accepted.</summary>
    tcps_accepts,

    /// <summary>connections established.</summary>
    tcps_connects,

    /// <summary>connections dropped.</summary>
    tcps_drops,

    /// <summary>embryonic connections dropped.</summary>
    tcps_conndrops,

    /// <summary>connections dropped due to low MSS.</summary>
    tcps_minmssdrops,

    /// <summary>conn. closed (includes drops).</summary>
    tcps_closed,

    /// <summary>segs where we tried to get rtt.</summary>
    tcps_segstimed,

    /// <summary>times we succeeded.</summary>
    tcps_rttupdated,

    /// <summary>delayed acks sent.</summary>
    tcps_delack,

    /// <summary>conn. dropped in rxmt timeout.</summary>
    tcps_timeoutdrop,

    /// <summary>retransmit timeouts.</summary>
    tcps_rexmttimeo,

    /// <summary>persist timeouts.</summary>
    tcps_persisttimeo,

    /// <summary>keepalive timeouts.</summary>
    tcps_keeptimeo,

    /// <summary>keepalive probes sent.</summary>
    tcps_keepprobe,

    /// <summary>connections dropped in keepalive.</summary>
    tcps_keepdrops,

    /// <summary>connections dropped due to progress timer.</summary>
    tcps_progdrops,

    /// <summary>total packets sent.</summary>
    tcps_sndtotal,

    /// <summary>data packets sent.</summary>
    tcps_sndpack,

    /// <summary>data bytes sent.</summary>
    tcps_sndbyte,

    /// <summary>data packets retransmitted.</summary>
    tcps_sndrexmitpack,

    /// <summary>data bytes retransmitted.</summary>
    tcps_sndrexmitbyte,

    /// <summary>unnecessary packet retransmissions.</summary>
    tcps_sndrexmitbad,

    /// <summary>ack-only packets sent.</summary>
    tcps_sndacks,

    /// <summary>window probes sent.</summary>
    tcps_sndprobe,

    /// <summary>packets sent with URG only.</summary>
    tcps_sndurg,

    /// <summary>window update-only packets sent.</summary>
    tcps_sndwinup,

    /// <summary>control (SYN|FIN|RST) packets sent.</summary>
    tcps_sndctrl,

    /// <summary>total packets received.</summary>
    tcps_rcvtotal,

    /// <summary>packets received in sequence.</summary>
    tcps_rcvpack,

    /// <summary>bytes received in sequence.</summary>
    tcps_rcvbyte,

    /// <summary>packets received with ccksum errs.</summary>
    tcps_rcvbadsum,

    /// <summary>packets received with bad offset.</summary>
    tcps_rcvbadoff,

    /// <summary>packets dropped for no reass space.</summary>
    tcps_rcvreassfull,

    /// <summary>packets received too short.</summary>
    tcps_rcvshort,

    // FreeBSD's fields from tcps_rcvduppack to tcps_badrst join here.

    // tcps_sc_added ... tcps_sc_unreach join here.

    /// <summary>syncache: zalloc() failed (no entry: a cookie answered instead).</summary>
    tcps_sc_zonefail,

    /// <summary>SYN cookies sent.</summary>
    tcps_sc_sendcookie,

    /// <summary>SYN cookies received (a valid cookie completed a handshake).</summary>
    tcps_sc_recvcookie,

    // tcps_hc_added, tcps_hc_bucketoverflow, tcps_finwait2_drops join here.

    /// <summary>SACK recovery episodes.</summary>
    tcps_sack_recovery_episode,

    /// <summary>SACK rexmit segments.</summary>
    tcps_sack_rexmits,

    /// <summary>SACK rexmit bytes.</summary>
    tcps_sack_rexmit_bytes,

    /// <summary>SACK blocks (options) received.</summary>
    tcps_sack_rcv_blocks,

    /// <summary>SACK blocks (options) sent.</summary>
    tcps_sack_send_blocks,

    /// <summary>SACK lost retransmission recovered.</summary>
    tcps_sack_lostrexmt,

    /// <summary>times scoreboard overflowed.</summary>
    tcps_sack_sboverflow,

    // The ECN, TSO, MTU-discovery ... fields join here.

    /// <summary>DSACK blocks received.</summary>
    tcps_dsack_count,

    /// <summary>DSACK bytes received.</summary>
    tcps_dsack_bytes,
}

/// <summary>TCP's knobs and statistics (netinet/tcp_subr.c, tcp_input.c): per vnet unless noted.</summary>
public static partial class Tcp
{
    /// <summary>TCP_MSS: the default MSS without an option or a route's MTU (RFC 9293 §3.7.1).</summary>
    public const int DefaultMss = 536;

    /// <summary>TCP_MINMSS.</summary>
    public const int MinMss = 216;

    [Vnet]
    [Sysctl("net.inet.tcp.stats", SysctlFlags.RW | SysctlFlags.VNET, "TCP statistics (struct tcpstat, netinet/tcp_var.h)")]
    internal static VnetPcpuStat<TcpStat> s_tcpstat;

    [Vnet]
    [Sysctl("net.inet.tcp.mssdflt", SysctlFlags.RW | SysctlFlags.VNET, "Default TCP Maximum Segment Size", Min = MinMss, Max = 65535 - 40)]
    internal static int s_tcp_mssdflt = DefaultMss;

    /// <summary>0: RST for every segment to a closed port; 1: not for SYNs; 2: for nothing.</summary>
    [Vnet]
    [Sysctl("net.inet.tcp.blackhole", SysctlFlags.RW | SysctlFlags.VNET, "Do not send RST on segments to closed ports", Min = 0, Max = 2)]
    internal static int s_blackhole;

    /// <summary>1: log SYNs to closed ports; 2: every segment.</summary>
    [Vnet]
    [Sysctl("net.inet.tcp.log_in_vain", SysctlFlags.RW | SysctlFlags.VNET, "Log all incoming TCP segments to closed ports", Min = 0, Max = 2)]
    internal static int s_tcp_log_in_vain;

    /// <summary>Reads a statistic of the current vnet (netstat -s -p tcp).</summary>
    public static long Fetch(TcpStat field) => V_tcpstat.Fetch(field);

    /// <summary>Reads a statistic of <paramref name="vnet"/> without entering it.</summary>
    public static long Fetch(Vnet vnet, TcpStat field) => V_tcpstat_In(vnet).Fetch(field);

    /// <summary>TCPSTAT_INC.</summary>
    internal static void Stat(TcpStat field) => V_tcpstat.Inc(field);

    /// <summary>TCPSTAT_ADD.</summary>
    internal static void StatAdd(TcpStat field, long amount) => V_tcpstat.Add(field, amount);
}
