using Vimage.Core;

namespace Vimage.Net.Tcp;

#pragma warning disable CA1707 // FreeBSD's field names: netstat -s and users know them.

/// <summary>
/// struct tcpstat (netinet/tcp_var.h), FreeBSD's fields in FreeBSD's order up to the syncache's (then
/// tcps_finwait2_drops); host cache, SACK and ECN counters join as the code that counts them lands.
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

    /// <summary>duplicate-only packets received.</summary>
    tcps_rcvduppack,

    /// <summary>duplicate-only bytes received.</summary>
    tcps_rcvdupbyte,

    /// <summary>packets with some duplicate data.</summary>
    tcps_rcvpartduppack,

    /// <summary>dup. bytes in part-dup. packets.</summary>
    tcps_rcvpartdupbyte,

    /// <summary>out-of-order packets received.</summary>
    tcps_rcvoopack,

    /// <summary>out-of-order bytes received.</summary>
    tcps_rcvoobyte,

    /// <summary>packets with data after window.</summary>
    tcps_rcvpackafterwin,

    /// <summary>bytes rcvd after window.</summary>
    tcps_rcvbyteafterwin,

    /// <summary>packets rcvd after close.</summary>
    tcps_rcvafterclose,

    /// <summary>rcvd window probe packets.</summary>
    tcps_rcvwinprobe,

    /// <summary>rcvd duplicate acks.</summary>
    tcps_rcvdupack,

    /// <summary>rcvd acks for unsent data.</summary>
    tcps_rcvacktoomuch,

    /// <summary>rcvd ack packets.</summary>
    tcps_rcvackpack,

    /// <summary>bytes acked by rcvd acks.</summary>
    tcps_rcvackbyte,

    /// <summary>rcvd window update packets.</summary>
    tcps_rcvwinupd,

    /// <summary>segments dropped due to PAWS.</summary>
    tcps_pawsdrop,

    /// <summary>times hdr predict ok for acks.</summary>
    tcps_predack,

    /// <summary>times hdr predict ok for data pkts.</summary>
    tcps_preddat,

    /// <summary>PCB cache misses.</summary>
    tcps_pcbcachemiss,

    /// <summary>times cached RTT in route updated.</summary>
    tcps_cachedrtt,

    /// <summary>times cached rttvar updated.</summary>
    tcps_cachedrttvar,

    /// <summary>times cached ssthresh updated.</summary>
    tcps_cachedssthresh,

    /// <summary>times RTT initialized from route.</summary>
    tcps_usedrtt,

    /// <summary>times RTTVAR initialized from rt.</summary>
    tcps_usedrttvar,

    /// <summary>times ssthresh initialized from rt.</summary>
    tcps_usedssthresh,

    /// <summary>timeout in persist state.</summary>
    tcps_persistdrop,

    /// <summary>bogus SYN, e.g. premature ACK.</summary>
    tcps_badsyn,

    /// <summary>resends due to MTU discovery.</summary>
    tcps_mturesent,

    /// <summary>listen queue overflows.</summary>
    tcps_listendrop,

    /// <summary>ignored RSTs in the window.</summary>
    tcps_badrst,

    /// <summary>entry added to syncache.</summary>
    tcps_sc_added,

    /// <summary>syncache entry was retransmitted.</summary>
    tcps_sc_retransmitted,

    /// <summary>duplicate SYN packet.</summary>
    tcps_sc_dupsyn,

    /// <summary>could not reply to packet.</summary>
    tcps_sc_dropped,

    /// <summary>successful extraction of entry.</summary>
    tcps_sc_completed,

    /// <summary>syncache per-bucket limit hit.</summary>
    tcps_sc_bucketoverflow,

    /// <summary>syncache cache limit hit.</summary>
    tcps_sc_cacheoverflow,

    /// <summary>RST removed entry from syncache.</summary>
    tcps_sc_reset,

    /// <summary>timed out or listen socket gone.</summary>
    tcps_sc_stale,

    /// <summary>syncache entry aborted.</summary>
    tcps_sc_aborted,

    /// <summary>removed due to bad ACK.</summary>
    tcps_sc_badack,

    /// <summary>ICMP unreachable received.</summary>
    tcps_sc_unreach,

    /// <summary>zalloc() failed.</summary>
    tcps_sc_zonefail,

    /// <summary>SYN cookie sent.</summary>
    tcps_sc_sendcookie,

    /// <summary>SYN cookie received.</summary>
    tcps_sc_recvcookie,

    /// <summary>Drop FIN_WAIT_2 connection after time limit.</summary>
    tcps_finwait2_drops,

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

    /// <summary>ECN Congestion Experienced.</summary>
    tcps_ecn_ce,

    /// <summary>ECN Capable Transport.</summary>
    tcps_ecn_ect0,

    /// <summary>ECN Capable Transport.</summary>
    tcps_ecn_ect1,

    /// <summary>ECN successful handshakes.</summary>
    tcps_ecn_shs,

    /// <summary># times ECN reduced the cwnd.</summary>
    tcps_ecn_rcwnd,

    /// <summary>ECN ECT(0) marked data segments sent.</summary>
    tcps_ecn_sndect0,

    // The TSO, MTU-discovery ... fields join here.

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
