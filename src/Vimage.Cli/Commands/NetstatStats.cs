using System.Globalization;
using Vimage.Core;
using Vimage.Net.Arp;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;
using Vimage.Net.Udp;

namespace Vimage.Cli.Commands;

/// <summary>netstat -s: inet.c's tcp_stats, udp_stats, ip_stats, icmp_stats and arp_stats, text and libxo fields.</summary>
public sealed partial class NetstatCommand
{
    /// <summary>The protocols netstat -s walks, in protox order (arp last).</summary>
    private static readonly string[] StatProtocols = ["tcp", "udp", "ip", "icmp", "arp"];

    private static readonly string?[] IcmpNames =
    [
        "echo reply", "#1", "#2", "destination unreachable", "source quench", "routing redirect", "#6", "#7", "echo",
        "router advertisement", "router solicitation", "time exceeded", "parameter problem", "time stamp",
        "time stamp reply", "information request", "information request reply", "address mask request",
        "address mask reply", "#19", "#20", "#21", "#22", "#23", "#24", "#25", "#26", "#27", "#28", "#29",
        "icmp traceroute", "datagram conversion error", "mobile host redirect", "IPv6 where-are-you", "IPv6 i-am-here",
        "mobile registration req", "mobile registration reply", "domain name request", "domain name reply",
        "icmp SKIP", "icmp photuris",
    ];

    private static readonly string[] TcpStates =
        ["CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT"];

    private static void PrintStats(Xo xo, string protocol, int sflag)
    {
        switch (protocol)
        {
            case "tcp":
                PrintTcp(xo, sflag);
                break;
            case "ip":
                PrintIp(xo, sflag);
                break;
            case "icmp":
                PrintIcmp(xo, sflag);
                break;
            case "udp":
                PrintUdp(xo, sflag);
                break;
            default:
                PrintArp(xo, sflag);
                break;
        }
    }

    internal static void PrintIp(TextWriter o, int sflag) => PrintIp(new Xo(o, XoStyle.Text), sflag);

    internal static void PrintIcmp(TextWriter o, int sflag) => PrintIcmp(new Xo(o, XoStyle.Text), sflag);

    internal static void PrintUdp(TextWriter o, int sflag) => PrintUdp(new Xo(o, XoStyle.Text), sflag);

    internal static void PrintArp(TextWriter o, int sflag) => PrintArp(new Xo(o, XoStyle.Text), sflag);

    internal static void PrintTcp(TextWriter o, int sflag) => PrintTcp(new Xo(o, XoStyle.Text), sflag);

    /// <summary>A tcpstat field by its FreeBSD name: 0 until Vimage's TCP counts it (the enum grows with the TCP code).</summary>
    private static long TcpField(string name) => Enum.TryParse(name, out TcpStat field) ? Tcp.Fetch(field) : 0;

    /// <summary>tcp_stats() of usr.bin/netstat/inet.c (FreeBSD 14), every line; counters Vimage lacks read 0.</summary>
    private static void PrintTcp(Xo xo, int sflag)
    {
        static long S(string f) => TcpField(f);
        xo.Open("tcp");
        xo.Text("tcp:\n");
        var w = new StatWriter(xo, sflag);
        w.P(S("tcps_sndtotal"), "sent-packets", "packet{0} sent");
        w.P2(S("tcps_sndpack"), "sent-data-packets", S("tcps_sndbyte"), "sent-data-bytes", "\t{0} data packet{1} ({2} byte{3})");
        w.P2(S("tcps_sndrexmitpack"), "sent-retransmitted-packets", S("tcps_sndrexmitbyte"), "sent-retransmitted-bytes", "\t{0} data packet{1} ({2} byte{3}) retransmitted");
        w.P(S("tcps_sndrexmitbad"), "sent-unnecessary-retransmitted-packets", "\tdata packet{0} unnecessarily retransmitted");
        w.P(S("tcps_mturesent"), "sent-resends-by-mtu-discovery", "\tresend{0} initiated by MTU discovery");
        w.P2a(S("tcps_sndacks"), "sent-ack-only-packets", S("tcps_delack"), "sent-packets-delayed", "\t{0} ack-only packet{1} ({2} delayed)");
        w.P(S("tcps_sndurg"), "sent-urg-only-packets", "\tURG only packet{0}");
        w.P(S("tcps_sndprobe"), "sent-window-probe-packets", "\twindow probe packet{0}");
        w.P(S("tcps_sndwinup"), "sent-window-update-packets", "\twindow update packet{0}");
        w.P(S("tcps_sndctrl"), "sent-control-packets", "\tcontrol packet{0}");
        w.P(S("tcps_rcvtotal"), "received-packets", "packet{0} received");
        w.P2(S("tcps_rcvackpack"), "received-ack-packets", S("tcps_rcvackbyte"), "received-ack-bytes", "\t{0} ack{1} (for {2} byte{3})");
        w.P(S("tcps_rcvdupack"), "received-duplicate-acks", "\tduplicate ack{0}");
        w.P(S("tcps_rcvacktoomuch"), "received-acks-for-unsent-data", "\tack{0} for unsent data");
        w.P2(S("tcps_rcvpack"), "received-in-sequence-packets", S("tcps_rcvbyte"), "received-in-sequence-bytes", "\t{0} packet{1} ({2} byte{3}) received in-sequence");
        w.P2(S("tcps_rcvduppack"), "received-completely-duplicate-packets", S("tcps_rcvdupbyte"), "received-completely-duplicate-bytes", "\t{0} completely duplicate packet{1} ({2} byte{3})");
        w.P(S("tcps_pawsdrop"), "received-old-duplicate-packets", "\told duplicate packet{0}");
        w.P2(S("tcps_rcvpartduppack"), "received-some-duplicate-packets", S("tcps_rcvpartdupbyte"), "received-some-duplicate-bytes", "\t{0} packet{1} with some dup. data ({2} byte{3} duped)");
        w.P2(S("tcps_rcvoopack"), "received-out-of-order", S("tcps_rcvoobyte"), "received-out-of-order-bytes", "\t{0} out-of-order packet{1} ({2} byte{3})");
        w.P2(S("tcps_rcvpackafterwin"), "received-after-window-packets", S("tcps_rcvbyteafterwin"), "received-after-window-bytes", "\t{0} packet{1} ({2} byte{3}) of data after window");
        w.P(S("tcps_rcvwinprobe"), "received-window-probes", "\twindow probe{0}");
        w.P(S("tcps_rcvwinupd"), "receive-window-update-packets", "\twindow update packet{0}");
        w.P(S("tcps_rcvafterclose"), "received-after-close-packets", "\tpacket{0} received after close");
        w.P(S("tcps_rcvbadsum"), "discard-bad-checksum", "\tdiscarded for bad checksum{0}");
        w.P(S("tcps_rcvbadoff"), "discard-bad-header-offset", "\tdiscarded for bad header offset field{0}");
        w.P1(S("tcps_rcvshort"), "discard-too-short", "\tdiscarded because packet too short");
        w.P1(S("tcps_rcvmemdrop"), "discard-memory-problems", "\tdiscarded due to memory problems");
        w.P1(S("tcps_rcvreassfull"), "discard-reassembly-queue-full", "\tdiscarded due to full reassembly queue");
        w.P(S("tcps_connattempt"), "connection-requests", "connection request{0}");
        w.P(S("tcps_accepts"), "connections-accepts", "connection accept{0}");
        w.P(S("tcps_badsyn"), "bad-connection-attempts", "bad connection attempt{0}");
        w.P(S("tcps_listendrop"), "listen-queue-overflows", "listen queue overflow{0}");
        w.P(S("tcps_badrst"), "ignored-in-window-resets", "ignored RSTs in the window{0}");
        w.P(S("tcps_connects"), "connections-established", "connection{0} established (including accepts)");
        w.P(S("tcps_usedrtt"), "connections-hostcache-rtt", "\ttime{0} used RTT from hostcache");
        w.P(S("tcps_usedrttvar"), "connections-hostcache-rttvar", "\ttime{0} used RTT variance from hostcache");
        w.P(S("tcps_usedssthresh"), "connections-hostcache-ssthresh", "\ttime{0} used slow-start threshold from hostcache");
        w.P2(S("tcps_closed"), "connections-closed", S("tcps_drops"), "connection-drops", "{0} connection{1} closed (including {2} drop{3})");
        w.P(S("tcps_cachedrtt"), "connections-updated-rtt-on-close", "\tconnection{0} updated cached RTT on close");
        w.P(S("tcps_cachedrttvar"), "connections-updated-variance-on-close", "\tconnection{0} updated cached RTT variance on close");
        w.P(S("tcps_cachedssthresh"), "connections-updated-ssthresh-on-close", "\tconnection{0} updated cached ssthresh on close");
        w.P(S("tcps_conndrops"), "embryonic-connections-dropped", "embryonic connection{0} dropped");
        w.P2(S("tcps_rttupdated"), "segments-updated-rtt", S("tcps_segstimed"), "segment-update-attempts", "{0} segment{1} updated rtt (of {2} attempt{3})");
        w.P(S("tcps_rexmttimeo"), "retransmit-timeouts", "retransmit timeout{0}");
        w.P(S("tcps_timeoutdrop"), "connections-dropped-by-retransmit-timeout", "\tconnection{0} dropped by rexmit timeout");
        w.P(S("tcps_persisttimeo"), "persist-timeout", "persist timeout{0}");
        w.P(S("tcps_persistdrop"), "connections-dropped-by-persist-timeout", "\tconnection{0} dropped by persist timeout");
        w.P(S("tcps_finwait2_drops"), "connections-dropped-by-finwait2-timeout", "Connection{0} (fin_wait_2) dropped because of timeout");
        w.P(S("tcps_keeptimeo"), "keepalive-timeout", "keepalive timeout{0}");
        w.P(S("tcps_keepprobe"), "keepalive-probes", "\tkeepalive probe{0} sent");
        w.P(S("tcps_keepdrops"), "connections-dropped-by-keepalives", "\tconnection{0} dropped by keepalive");
        w.P(S("tcps_predack"), "ack-header-predictions", "correct ACK header prediction{0}");
        w.P(S("tcps_preddat"), "data-packet-header-predictions", "correct data packet header prediction{0}");
        xo.Open("syncache");
        w.Pies(S("tcps_sc_added"), "entries-added", "syncache entr{0} added");
        w.P1(S("tcps_sc_retransmitted"), "retransmitted", "\tretransmitted");
        w.P1(S("tcps_sc_dupsyn"), "duplicates", "\tdupsyn");
        w.P1(S("tcps_sc_dropped"), "dropped", "\tdropped");
        w.P1(S("tcps_sc_completed"), "completed", "\tcompleted");
        w.P1(S("tcps_sc_bucketoverflow"), "bucket-overflow", "\tbucket overflow");
        w.P1(S("tcps_sc_cacheoverflow"), "cache-overflow", "\tcache overflow");
        w.P1(S("tcps_sc_reset"), "reset", "\treset");
        w.P1(S("tcps_sc_stale"), "stale", "\tstale");
        w.P1(S("tcps_sc_aborted"), "aborted", "\taborted");
        w.P1(S("tcps_sc_badack"), "bad-ack", "\tbadack");
        w.P1(S("tcps_sc_unreach"), "unreachable", "\tunreach");
        w.P(S("tcps_sc_zonefail"), "zone-failures", "\tzone failure{0}");
        w.P(S("tcps_sc_sendcookie"), "sent-cookies", "cookie{0} sent");
        w.P(S("tcps_sc_recvcookie"), "receivd-cookies", "cookie{0} received");
        xo.Close();
        xo.Open("hostcache");
        w.Pies(S("tcps_hc_added"), "entries-added", "hostcache entr{0} added");
        w.P1(S("tcps_hc_bucketoverflow"), "buffer-overflows", "\tbucket overflow");
        xo.Close();
        xo.Open("sack");
        w.P(S("tcps_sack_recovery_episode"), "recovery-episodes", "SACK recovery episode{0}");
        w.P(S("tcps_sack_rexmits"), "segment-retransmits", "segment rexmit{0} in SACK recovery episodes");
        w.P(S("tcps_sack_rexmit_bytes"), "byte-retransmits", "byte rexmit{0} in SACK recovery episodes");
        w.P(S("tcps_sack_rcv_blocks"), "received-blocks", "SACK option{0} (SACK blocks) received");
        w.P(S("tcps_sack_send_blocks"), "sent-option-blocks", "SACK option{0} (SACK blocks) sent");
        w.P1(S("tcps_sack_sboverflow"), "scoreboard-overflows", "SACK scoreboard overflow");
        xo.Close();
        xo.Open("ecn");
        w.P(S("tcps_ecn_ce"), "ce-packets", "packet{0} with ECN CE bit set");
        w.P(S("tcps_ecn_ect0"), "ect0-packets", "packet{0} with ECN ECT(0) bit set");
        w.P(S("tcps_ecn_ect1"), "ect1-packets", "packet{0} with ECN ECT(1) bit set");
        w.P(S("tcps_ecn_shs"), "handshakes", "successful ECN handshake{0}");
        w.P(S("tcps_ecn_rcwnd"), "congestion-reductions", "time{0} ECN reduced the congestion window");
        xo.Close();
        xo.Open("tcp-signature");
        w.P(S("tcps_sig_rcvgoodsig"), "received-good-signature", "packet{0} with matching signature received");
        w.P(S("tcps_sig_rcvbadsig"), "received-bad-signature", "packet{0} with bad signature received");
        w.P(S("tcps_sig_err_buildsig"), "failed-make-signature", "time{0} failed to make signature due to no SA");
        w.P(S("tcps_sig_err_sigopt"), "no-signature-expected", "time{0} unexpected signature received");
        w.P(S("tcps_sig_err_nosigopt"), "no-signature-provided", "time{0} no signature provided by segment");
        xo.Close();
        xo.Open("pmtud");
        w.P(S("tcps_pmtud_blackhole_activated"), "pmtud-activated", "Path MTU discovery black hole detection activation{0}");
        w.P(S("tcps_pmtud_blackhole_activated_min_mss"), "pmtud-activated-min-mss", "Path MTU discovery black hole detection min MSS activation{0}");
        w.P(S("tcps_pmtud_blackhole_failed"), "pmtud-failed", "Path MTU discovery black hole detection failure{0}");
        xo.Close();

        // net.inet.tcp.states: connections per state, counted from the PCB list (the syncache's embryonic
        // connections are not PCBs here). "connection " keeps FreeBSD's column for one connection.
        long[] states = new long[TcpStates.Length];
        foreach (XTcpcb t in Tcp.PcbList(Curvnet.Current ?? Vnet.Vnet0))
        {
            if ((uint)t.State < (uint)states.Length)
            {
                states[(int)t.State]++;
            }
        }

        xo.Open("TCP connection count by state");
        xo.Text("TCP connection count by state:\n");
        for (int i = 0; i < TcpStates.Length; i++)
        {
            if (sflag > 1 && states[i] == 0)
            {
                continue;
            }

            xo.Stat(states[i], TcpStates[i], NetFormat.Invariant($"\t{states[i]} {(states[i] == 1 ? "connection " : "connections")} in {TcpStates[i]} state"));
        }

        xo.Close();

        xo.Close();
    }

    /// <summary>ip_stats() of usr.bin/netstat/inet.c.</summary>
    private static void PrintIp(Xo xo, int sflag)
    {
        static long S(IpStat f) => Ip.Fetch(f);
        xo.Open("ip");
        xo.Text("ip:\n");
        var w = new StatWriter(xo, sflag);
        w.P(S(IpStat.ips_total), "received-packets", "total packet{0} received");
        w.P(S(IpStat.ips_badsum), "dropped-bad-checksum", "bad header checksum{0}");
        w.P1(S(IpStat.ips_toosmall), "dropped-below-minimum-size", "with size smaller than minimum");
        w.P1(S(IpStat.ips_tooshort), "dropped-short-packets", "with data size < data length");
        w.P1(S(IpStat.ips_toolong), "dropped-too-long", "with ip length > max ip packet size");
        w.P1(S(IpStat.ips_badhlen), "dropped-short-header-length", "with header length < data size");
        w.P1(S(IpStat.ips_badlen), "dropped-short-data", "with data length < header length");
        w.P1(S(IpStat.ips_badoptions), "dropped-bad-options", "with bad options");
        w.P1(S(IpStat.ips_badvers), "dropped-bad-version", "with incorrect version number");
        w.P(S(IpStat.ips_fragments), "received-fragments", "fragment{0} received");
        w.P(S(IpStat.ips_fragdropped), "dropped-fragments", "fragment{0} dropped (dup or out of space)");
        w.P(S(IpStat.ips_fragtimeout), "dropped-fragments-after-timeout", "fragment{0} dropped after timeout");
        w.P(S(IpStat.ips_reassembled), "reassembled-packets", "packet{0} reassembled ok");
        w.P(S(IpStat.ips_delivered), "received-local-packets", "packet{0} for this host");
        w.P(S(IpStat.ips_noproto), "dropped-unknown-protocol", "packet{0} for unknown/unsupported protocol");

        // "N packets forwarded (M packets fast forwarded)": one line from two p() calls, as FreeBSD builds it.
        long forward = S(IpStat.ips_forward), fast = S(IpStat.ips_fastforward);
        if (forward != 0 || sflag <= 1)
        {
            xo.Text(NetFormat.Invariant($"\t{forward} packet{NetFormat.Plural(forward)} forwarded"));
            xo.Field("forwarded-packets", forward);
        }

        if (fast != 0 || sflag <= 1)
        {
            xo.Text(NetFormat.Invariant($" ({fast} packet{NetFormat.Plural(fast)} fast forwarded)"));
            xo.Field("fast-forwarded-packets", fast);
        }

        if (forward != 0 || sflag <= 1)
        {
            xo.Text("\n");
        }

        w.P(S(IpStat.ips_cantforward), "packets-cannot-forward", "packet{0} not forwardable");
        w.P(S(IpStat.ips_notmember), "received-unknown-multicast-group", "packet{0} received for unknown multicast group");
        w.P(S(IpStat.ips_redirectsent), "redirects-sent", "redirect{0} sent");
        w.P(S(IpStat.ips_localout), "sent-packets", "packet{0} sent from this host");
        w.P(S(IpStat.ips_rawout), "send-packets-fabricated-header", "packet{0} sent with fabricated ip header");
        w.P(S(IpStat.ips_odropped), "discard-no-mbufs", "output packet{0} dropped due to no bufs, etc.");
        w.P(S(IpStat.ips_noroute), "discard-no-route", "output packet{0} discarded due to no route");
        w.P(S(IpStat.ips_fragmented), "sent-fragments", "output datagram{0} fragmented");
        w.P(S(IpStat.ips_ofragments), "fragments-created", "fragment{0} created");
        w.P(S(IpStat.ips_cantfrag), "discard-cannot-fragment", "datagram{0} that can't be fragmented");
        w.P(S(IpStat.ips_nogif), "discard-tunnel-no-gif", "tunneling packet{0} that can't find gif");
        w.P(S(IpStat.ips_badaddr), "discard-bad-address", "datagram{0} with bad address in header");
        xo.Close();
    }

    /// <summary>icmp_stats() of usr.bin/netstat/inet.c.</summary>
    private static void PrintIcmp(Xo xo, int sflag)
    {
        static long S(IcmpStat f) => Icmp.Fetch(f);
        xo.Open("icmp");
        xo.Text("icmp:\n");
        var w = new StatWriter(xo, sflag);
        w.P(S(IcmpStat.icps_error), "icmp-calls", "call{0} to icmp_error");
        w.P(S(IcmpStat.icps_oldicmp), "errors-not-from-message", "error{0} not generated in response to an icmp message");
        Histogram(xo, "output-histogram", "Output histogram:", Icmp.FetchOutHist);
        w.P(S(IcmpStat.icps_badcode), "dropped-bad-code", "message{0} with bad code fields");
        w.P(S(IcmpStat.icps_tooshort), "dropped-too-short", "message{0} less than the minimum length");
        w.P(S(IcmpStat.icps_checksum), "dropped-bad-checksum", "message{0} with bad checksum");
        w.P(S(IcmpStat.icps_badlen), "dropped-bad-length", "message{0} with bad length");
        w.P1(S(IcmpStat.icps_bmcastecho), "dropped-multicast-echo", "multicast echo requests ignored");
        w.P1(S(IcmpStat.icps_bmcasttstamp), "dropped-multicast-timestamp", "multicast timestamp requests ignored");
        Histogram(xo, "input-histogram", "Input histogram:", Icmp.FetchInHist);
        w.P(S(IcmpStat.icps_reflect), "sent-packets", "message response{0} generated");
        w.Pes(S(IcmpStat.icps_badaddr), "discard-invalid-return-address", "invalid return address{0}");
        w.P(S(IcmpStat.icps_noroute), "discard-no-route", "no return route{0}");
        if (Sysctl.Exists("net.inet.icmp.maskrepl") && Sysctl.Get("net.inet.icmp.maskrepl") is int mask)
        {
            string state = mask != 0 ? "enabled" : "disabled";
            xo.Text($"\tICMP address mask responses are {state}\n");
            xo.Field("icmp-address-responses", state);
        }

        xo.Close();
    }

    private static void Histogram(Xo xo, string list, string title, Func<byte, long> fetch)
    {
        bool first = true;
        for (int type = 0; type <= Icmp.MaxType; type++)
        {
            long count = fetch((byte)type);
            if (count == 0)
            {
                continue;
            }

            if (first)
            {
                xo.OpenList(list);
                xo.Text($"\t{title}\n");
                first = false;
            }

            string name = type < IcmpNames.Length ? IcmpNames[type]! : type.ToString(CultureInfo.InvariantCulture);
            xo.OpenInstance();
            xo.Text(type < IcmpNames.Length ? NetFormat.Invariant($"\t\t{name}: {count}\n") : NetFormat.Invariant($"\t\tunknown ICMP #{name}: {count}\n"));
            xo.Field("name", name);
            xo.Field("count", count);
            xo.Close();
        }

        if (!first)
        {
            xo.CloseList();
        }
    }

    /// <summary>udp_stats() of usr.bin/netstat/inet.c.</summary>
    private static void PrintUdp(Xo xo, int sflag)
    {
        static long S(UdpStat f) => Udp.Fetch(f);
        xo.Open("udp");
        xo.Text("udp:\n");
        var w = new StatWriter(xo, sflag);
        w.P(S(UdpStat.udps_ipackets), "received-datagrams", "datagram{0} received");
        w.P1(S(UdpStat.udps_hdrops), "dropped-incomplete-headers", "with incomplete header");
        w.P1(S(UdpStat.udps_badlen), "dropped-bad-data-length", "with bad data length field");
        w.P1(S(UdpStat.udps_badsum), "dropped-bad-checksum", "with bad checksum");
        w.P1(S(UdpStat.udps_nosum), "dropped-no-checksum", "with no checksum");
        w.P1(S(UdpStat.udps_noport), "dropped-no-socket", "dropped due to no socket");
        w.P(S(UdpStat.udps_noportbcast), "dropped-broadcast-multicast", "broadcast/multicast datagram{0} undelivered");
        w.P1(S(UdpStat.udps_fullsock), "dropped-full-socket-buffer", "dropped due to full socket buffers");
        w.P1(S(UdpStat.udpps_pcbhashmiss), "not-for-hashed-pcb", "not for hashed pcb");
        long delivered = S(UdpStat.udps_ipackets) - S(UdpStat.udps_hdrops) - S(UdpStat.udps_badlen) - S(UdpStat.udps_badsum)
                         - S(UdpStat.udps_noport) - S(UdpStat.udps_noportbcast) - S(UdpStat.udps_fullsock);
        w.P1(delivered, "delivered-packets", "delivered");
        w.P(S(UdpStat.udps_opackets), "output-packets", "datagram{0} output");
        w.P(S(UdpStat.udps_filtermcast), "multicast-source-filter-matches", "time{0} multicast source filter matched");
        xo.Close();
    }

    /// <summary>arp_stats() of usr.bin/netstat/inet.c (FreeBSD 14, with txerrors and its "failed to sent").</summary>
    private static void PrintArp(Xo xo, int sflag)
    {
        static long S(ArpStat f) => ArpLayer.Fetch(f);
        xo.Open("arp");
        xo.Text("arp:\n");
        var w = new StatWriter(xo, sflag);
        w.P(S(ArpStat.txrequests), "sent-requests", "ARP request{0} sent");
        w.P(S(ArpStat.txerrors), "sent-failures", "ARP request{0} failed to sent");
        w.Pies(S(ArpStat.txreplies), "sent-replies", "ARP repl{0} sent");
        w.P(S(ArpStat.rxrequests), "received-requests", "ARP request{0} received");
        w.Pies(S(ArpStat.rxreplies), "received-replies", "ARP repl{0} received");
        w.P(S(ArpStat.received), "received-packers", "ARP packet{0} received");
        w.P(S(ArpStat.dropped), "dropped-no-entry", "total packet{0} dropped due to no ARP entry");
        w.P(S(ArpStat.timeouts), "entries-timeout", "ARP entry{0} timed out");
        w.P(S(ArpStat.dupips), "dropped-duplicate-address", "Duplicate IP{0} seen");
        xo.Close();
    }

    /// <summary>netstat's p()/p1a()/p2()/p3() macros: "\t&lt;n&gt; &lt;text&gt;", zero lines skipped with -ss.</summary>
    private readonly struct StatWriter(Xo xo, int sflag)
    {
        public void P(long n, string key, string text) => Line(n, key, Format(text, NetFormat.Plural(n)));

        public void Pes(long n, string key, string text) => Line(n, key, Format(text, NetFormat.Plurales(n)));

        public void Pies(long n, string key, string text) => Line(n, key, Format(text, NetFormat.Pluralies(n)));

        public void P1(long n, string key, string text) => Line(n, key, text);

        /// <summary>p2: "{0} thing{1} ({2} byte{3})" with both values, shown unless both are 0 under -ss.</summary>
        public void P2(long a, string keyA, long b, string keyB, string text)
        {
            if (a != 0 || b != 0 || sflag <= 1)
            {
                xo.Text("\t" + string.Format(CultureInfo.InvariantCulture, text, a, NetFormat.Plural(a), b, NetFormat.Plural(b)) + "\n");
                xo.Field(keyA, a);
                xo.Field(keyB, b);
            }
        }

        /// <summary>p2a: like p2 but the second value has no plural.</summary>
        public void P2a(long a, string keyA, long b, string keyB, string text) => P2(a, keyA, b, keyB, text);

        private static string Format(string text, string plural) => string.Format(CultureInfo.InvariantCulture, text, plural);

        /// <summary>"\t[\t…]n text": a sub-item's extra tabs (leading in <paramref name="text"/>) go before the number.</summary>
        private void Line(long n, string key, string text)
        {
            if (n != 0 || sflag <= 1)
            {
                int tabs = 0;
                while (tabs < text.Length && text[tabs] == '\t')
                {
                    tabs++;
                }

                xo.Stat(n, key, NetFormat.Invariant($"\t{text[..tabs]}{n} {text[tabs..]}"));
            }
        }
    }
}
