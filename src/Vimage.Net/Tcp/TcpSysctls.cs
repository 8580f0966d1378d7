using Vimage.Core;

namespace Vimage.Net.Tcp;

/// <summary>
/// net.inet.tcp.* (tcp_subr.c, tcp_input.c, tcp_output.c, tcp_timer.c, tcp_syncache.c): FreeBSD's names and
/// defaults, every one per vnet. Times are in milliseconds as FreeBSD's sysctl_msec_to_ticks handlers show them.
/// </summary>
public static partial class Tcp
{
    [Vnet]
    [Sysctl("net.inet.tcp.msl", SysctlFlags.RW | SysctlFlags.VNET, "Maximum segment lifetime (ms)", Min = 1, Max = 600_000)]
    internal static int s_tcp_msl = 30_000;

    [Vnet]
    [Sysctl("net.inet.tcp.keepidle", SysctlFlags.RW | SysctlFlags.VNET, "time before keepalive probes begin (ms)", Min = 1, Max = int.MaxValue)]
    internal static int s_tcp_keepidle = 7_200_000;

    [Vnet]
    [Sysctl("net.inet.tcp.keepintvl", SysctlFlags.RW | SysctlFlags.VNET, "time between keepalive probes (ms)", Min = 1, Max = int.MaxValue)]
    internal static int s_tcp_keepintvl = 75_000;

    [Vnet]
    [Sysctl("net.inet.tcp.keepcnt", SysctlFlags.RW | SysctlFlags.VNET, "Number of keepalive probes to send", Min = 1, Max = 1000)]
    internal static int s_tcp_keepcnt = 8;

    [Vnet]
    [Sysctl("net.inet.tcp.keepinit", SysctlFlags.RW | SysctlFlags.VNET, "time to establish connection (ms)", Min = 1, Max = int.MaxValue)]
    internal static int s_tcp_keepinit = 75_000;

    [Vnet]
    [Sysctl("net.inet.tcp.delayed_ack", SysctlFlags.RW | SysctlFlags.VNET, "Delay ACK to try and piggyback it onto a data packet", Min = 0, Max = 1)]
    internal static int s_tcp_delack_enabled = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.delacktime", SysctlFlags.RW | SysctlFlags.VNET, "Time before a delayed ACK is sent (ms)", Min = 1, Max = 1000)]
    internal static int s_tcp_delacktime = 40;

    [Vnet]
    [Sysctl("net.inet.tcp.rexmit_min", SysctlFlags.RW | SysctlFlags.VNET, "Minimum Retransmission Timeout (ms)", Min = 1, Max = 60_000)]
    internal static int s_tcp_rexmit_min = 30;

    [Vnet]
    [Sysctl("net.inet.tcp.rexmit_slop", SysctlFlags.RW | SysctlFlags.VNET, "Retransmission Timer Slop (ms)", Min = 0, Max = 60_000)]
    internal static int s_tcp_rexmit_slop = 200;

    [Vnet]
    [Sysctl("net.inet.tcp.rexmit_initial", SysctlFlags.RW | SysctlFlags.VNET, "Initial Retransmission Timeout (ms)", Min = 1, Max = 60_000)]
    internal static int s_tcp_rexmit_initial = 1000;

    [Vnet]
    [Sysctl("net.inet.tcp.persmin", SysctlFlags.RW | SysctlFlags.VNET, "minimum persistence interval (ms)", Min = 1, Max = 600_000)]
    internal static int s_tcp_persmin = 5000;

    [Vnet]
    [Sysctl("net.inet.tcp.persmax", SysctlFlags.RW | SysctlFlags.VNET, "maximum persistence interval (ms)", Min = 1, Max = 600_000)]
    internal static int s_tcp_persmax = 60_000;

    [Vnet]
    [Sysctl("net.inet.tcp.finwait2_timeout", SysctlFlags.RW | SysctlFlags.VNET, "FIN-WAIT2 timeout (ms)", Min = 1, Max = int.MaxValue)]
    internal static int s_tcp_finwait2_timeout = 60_000;

    [Vnet]
    [Sysctl("net.inet.tcp.sendspace", SysctlFlags.RW | SysctlFlags.VNET, "Initial send socket buffer size", Min = 1, Max = 2 * 1024 * 1024)]
    internal static int s_tcp_sendspace = 32_768;

    [Vnet]
    [Sysctl("net.inet.tcp.recvspace", SysctlFlags.RW | SysctlFlags.VNET, "Initial receive socket buffer size", Min = 1, Max = 2 * 1024 * 1024)]
    internal static int s_tcp_recvspace = 65_536;

    [Vnet]
    [Sysctl("net.inet.tcp.sendbuf_auto", SysctlFlags.RW | SysctlFlags.VNET, "Enable automatic send buffer sizing", Min = 0, Max = 1)]
    internal static int s_tcp_do_autosndbuf = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.recvbuf_auto", SysctlFlags.RW | SysctlFlags.VNET, "Enable automatic receive buffer sizing", Min = 0, Max = 1)]
    internal static int s_tcp_do_autorcvbuf = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.sendbuf_max", SysctlFlags.RW | SysctlFlags.VNET, "Max size of automatic send buffer", Min = 1, Max = 2 * 1024 * 1024)]
    internal static int s_tcp_autosndbuf_max = 2 * 1024 * 1024;

    [Vnet]
    [Sysctl("net.inet.tcp.recvbuf_max", SysctlFlags.RW | SysctlFlags.VNET, "Max size of automatic receive buffer", Min = 1, Max = 2 * 1024 * 1024)]
    internal static int s_tcp_autorcvbuf_max = 2 * 1024 * 1024;

    [Vnet]
    [Sysctl("net.inet.tcp.sendbuf_inc", SysctlFlags.RW | SysctlFlags.VNET, "Incrementor step size of automatic send buffer", Min = 1, Max = 2 * 1024 * 1024)]
    internal static int s_tcp_autosndbuf_inc = 8 * 1024;

    [Vnet]
    [Sysctl("net.inet.tcp.initcwnd_segments", SysctlFlags.RW | SysctlFlags.VNET, "Slow-start flight size (initial congestion window) in number of segments", Min = 0, Max = 1000)]
    internal static int s_tcp_initcwnd_segments = 10;

    [Vnet]
    [Sysctl("net.inet.tcp.rfc1323", SysctlFlags.RW | SysctlFlags.VNET, "Enable rfc1323 (high performance TCP) extensions", Min = 0, Max = 3)]
    internal static int s_tcp_do_rfc1323 = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.sack.enable", SysctlFlags.RW | SysctlFlags.VNET, "Enable/Disable TCP SACK support", Min = 0, Max = 1)]
    internal static int s_tcp_do_sack = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.syncache.bucketlimit", SysctlFlags.RW | SysctlFlags.VNET, "Per-bucket hash limit for syncache", Min = 1, Max = 10_000)]
    internal static int s_tcp_syncache_bucketlimit = 30;

    [Vnet]
    [Sysctl("net.inet.tcp.syncache.cachelimit", SysctlFlags.RW | SysctlFlags.VNET, "Overall entry limit for syncache", Min = 1, Max = 1_000_000)]
    internal static int s_tcp_syncache_cachelimit = TcpSyncache.HashSize * 30;

    [Vnet]
    [Sysctl("net.inet.tcp.syncache.rexmtlimit", SysctlFlags.RW | SysctlFlags.VNET, "Limit on SYN/ACK retransmissions", Min = 0, Max = 12)]
    internal static int s_tcp_syncache_rexmtlimit = 3;

    [Vnet]
    [Sysctl("net.inet.tcp.syncache.rst_on_sock_fail", SysctlFlags.RW | SysctlFlags.VNET, "Send reset on socket allocation failure", Min = 0, Max = 1)]
    internal static int s_tcp_sc_rst_sock_fail = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.ack_war_timewindow", SysctlFlags.RW | SysctlFlags.VNET, "Time interval in ms used to limit the number (ack_war_cnt) of challenge ACKs sent per TCP connection", Min = 0, Max = 60_000)]
    internal static int s_tcp_ack_war_time_window = 1000;

    [Vnet]
    [Sysctl("net.inet.tcp.ack_war_cnt", SysctlFlags.RW | SysctlFlags.VNET, "Maximum number of challenge ACKs sent per TCP connection during the time interval (ack_war_timewindow)", Min = 0, Max = 1_000_000)]
    internal static int s_tcp_ack_war_cnt = 5;

    [Vnet]
    [Sysctl("net.inet.tcp.path_mtu_discovery", SysctlFlags.RW | SysctlFlags.VNET, "Enable Path MTU Discovery", Min = 0, Max = 1)]
    internal static int s_path_mtu_discovery = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.minmss", SysctlFlags.RW | SysctlFlags.VNET, "Minimum TCP Maximum Segment Size", Min = 0, Max = 65_535 - 40)]
    internal static int s_tcp_minmss = MinMss;

    [Vnet]
    [Sysctl("net.inet.tcp.insecure_rst", SysctlFlags.RW | SysctlFlags.VNET, "Follow RFC793 instead of RFC5961 criteria for accepting RST packets", Min = 0, Max = 1)]
    internal static int s_tcp_insecure_rst;

    [Vnet]
    [Sysctl("net.inet.tcp.insecure_syn", SysctlFlags.RW | SysctlFlags.VNET, "Follow RFC793 instead of RFC5961 criteria for accepting SYN packets", Min = 0, Max = 1)]
    internal static int s_tcp_insecure_syn;

    [Vnet]
    [Sysctl("net.inet.tcp.drop_synfin", SysctlFlags.RW | SysctlFlags.VNET, "Drop TCP packets with SYN+FIN set", Min = 0, Max = 1)]
    internal static int s_drop_synfin = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.reass.maxqueuelen", SysctlFlags.RW | SysctlFlags.VNET, "Maximum number of TCP Segments per Reassembly Queue", Min = 1, Max = 100_000)]
    internal static int s_tcp_reass_maxqueuelen = 100;

    internal static long MsToUs(int ms) => ms * 1000L;
}
