using System.Globalization;
using Vimage.Core;
using Vimage.Net.Tcp;

namespace Vimage.Cli.Commands;

/// <summary>
/// tcp_stats() of usr.bin/netstat/inet.c: struct tcpstat in FreeBSD's words and order, then "TCP connection count by
/// state" (net.inet.tcp.states, counted here from the PCB list). Counters Vimage does not keep (hostcache, ECN,
/// TCP-MD5 signatures, rcvmemdrop) print as 0, so the layout is FreeBSD's; with -ss zero lines are left out.
/// </summary>
internal static class NetstatTcpStats
{
    public static void Print(TextWriter o, Vnet vnet, int sflag)
    {
        long S(TcpStat f) => Tcp.Fetch(vnet, f);
        string Pl(long n) => n == 1 ? "" : "s";
        void P(long n, string fmt)
        {
            if (n != 0 || sflag <= 1)
            {
                o.WriteLine(string.Format(CultureInfo.InvariantCulture, fmt, n, Pl(n)));
            }
        }

        void P2(long a, long b, string fmt, bool pluralB = true)
        {
            if (a != 0 || b != 0 || sflag <= 1)
            {
                o.WriteLine(string.Format(CultureInfo.InvariantCulture, fmt, a, Pl(a), b, pluralB ? Pl(b) : ""));
            }
        }

        void P3(long n, string fmt)
        {
            if (n != 0 || sflag <= 1)
            {
                o.WriteLine(string.Format(CultureInfo.InvariantCulture, fmt, n, n == 1 ? "y" : "ies"));
            }
        }

        o.WriteLine("tcp:");
        P(S(TcpStat.tcps_sndtotal), "\t{0} packet{1} sent");
        P2(S(TcpStat.tcps_sndpack), S(TcpStat.tcps_sndbyte), "\t\t{0} data packet{1} ({2} byte{3})");
        P2(S(TcpStat.tcps_sndrexmitpack), S(TcpStat.tcps_sndrexmitbyte), "\t\t{0} data packet{1} ({2} byte{3}) retransmitted");
        P(S(TcpStat.tcps_sndrexmitbad), "\t\t{0} data packet{1} unnecessarily retransmitted");
        P(S(TcpStat.tcps_mturesent), "\t\t{0} resend{1} initiated by MTU discovery");
        P2(S(TcpStat.tcps_sndacks), S(TcpStat.tcps_delack), "\t\t{0} ack-only packet{1} ({2} delayed)", pluralB: false);
        P(S(TcpStat.tcps_sndurg), "\t\t{0} URG only packet{1}");
        P(S(TcpStat.tcps_sndprobe), "\t\t{0} window probe packet{1}");
        P(S(TcpStat.tcps_sndwinup), "\t\t{0} window update packet{1}");
        P(S(TcpStat.tcps_sndctrl), "\t\t{0} control packet{1}");
        P(S(TcpStat.tcps_rcvtotal), "\t{0} packet{1} received");
        P2(S(TcpStat.tcps_rcvackpack), S(TcpStat.tcps_rcvackbyte), "\t\t{0} ack{1} (for {2} byte{3})");
        P(S(TcpStat.tcps_rcvdupack), "\t\t{0} duplicate ack{1}");
        P(S(TcpStat.tcps_rcvacktoomuch), "\t\t{0} ack{1} for unsent data");
        P2(S(TcpStat.tcps_rcvpack), S(TcpStat.tcps_rcvbyte), "\t\t{0} packet{1} ({2} byte{3}) received in-sequence");
        P2(S(TcpStat.tcps_rcvduppack), S(TcpStat.tcps_rcvdupbyte), "\t\t{0} completely duplicate packet{1} ({2} byte{3})");
        P(S(TcpStat.tcps_pawsdrop), "\t\t{0} old duplicate packet{1}");
        P2(S(TcpStat.tcps_rcvpartduppack), S(TcpStat.tcps_rcvpartdupbyte), "\t\t{0} packet{1} with some dup. data ({2} byte{3} duped)");
        P2(S(TcpStat.tcps_rcvoopack), S(TcpStat.tcps_rcvoobyte), "\t\t{0} out-of-order packet{1} ({2} byte{3})");
        P2(S(TcpStat.tcps_rcvpackafterwin), S(TcpStat.tcps_rcvbyteafterwin), "\t\t{0} packet{1} ({2} byte{3}) of data after window");
        P(S(TcpStat.tcps_rcvwinprobe), "\t\t{0} window probe{1}");
        P(S(TcpStat.tcps_rcvwinupd), "\t\t{0} window update packet{1}");
        P(S(TcpStat.tcps_rcvafterclose), "\t\t{0} packet{1} received after close");
        P(S(TcpStat.tcps_rcvbadsum), "\t\t{0} discarded for bad checksum{1}");
        P(S(TcpStat.tcps_rcvbadoff), "\t\t{0} discarded for bad header offset field{1}");
        P(S(TcpStat.tcps_rcvshort), "\t\t{0} discarded because packet too short");
        P(0, "\t\t{0} discarded due to memory problems");
        P(S(TcpStat.tcps_connattempt), "\t{0} connection request{1}");
        P(S(TcpStat.tcps_accepts), "\t{0} connection accept{1}");
        P(S(TcpStat.tcps_badsyn), "\t{0} bad connection attempt{1}");
        P(S(TcpStat.tcps_listendrop), "\t{0} listen queue overflow{1}");
        P(S(TcpStat.tcps_badrst), "\t{0} ignored RSTs in the window{1}");
        P(S(TcpStat.tcps_connects), "\t{0} connection{1} established (including accepts)");
        P(S(TcpStat.tcps_usedrtt), "\t\t{0} time{1} used RTT from hostcache");
        P(S(TcpStat.tcps_usedrttvar), "\t\t{0} time{1} used RTT variance from hostcache");
        P(S(TcpStat.tcps_usedssthresh), "\t\t{0} time{1} used slow-start threshold from hostcache");
        P2(S(TcpStat.tcps_closed), S(TcpStat.tcps_drops), "\t{0} connection{1} closed (including {2} drop{3})");
        P(S(TcpStat.tcps_cachedrtt), "\t\t{0} connection{1} updated cached RTT on close");
        P(S(TcpStat.tcps_cachedrttvar), "\t\t{0} connection{1} updated cached RTT variance on close");
        P(S(TcpStat.tcps_cachedssthresh), "\t\t{0} connection{1} updated cached ssthresh on close");
        P(S(TcpStat.tcps_conndrops), "\t{0} embryonic connection{1} dropped");
        P2(S(TcpStat.tcps_rttupdated), S(TcpStat.tcps_segstimed), "\t{0} segment{1} updated rtt (of {2} attempt{3})");
        P(S(TcpStat.tcps_rexmttimeo), "\t{0} retransmit timeout{1}");
        P(S(TcpStat.tcps_timeoutdrop), "\t\t{0} connection{1} dropped by rexmit timeout");
        P(S(TcpStat.tcps_persisttimeo), "\t{0} persist timeout{1}");
        P(S(TcpStat.tcps_persistdrop), "\t\t{0} connection{1} dropped by persist timeout");
        P(S(TcpStat.tcps_finwait2_drops), "\t{0} Connection{1} (fin_wait_2) dropped because of timeout");
        P(S(TcpStat.tcps_keeptimeo), "\t{0} keepalive timeout{1}");
        P(S(TcpStat.tcps_keepprobe), "\t\t{0} keepalive probe{1} sent");
        P(S(TcpStat.tcps_keepdrops), "\t\t{0} connection{1} dropped by keepalive");
        P(S(TcpStat.tcps_predack), "\t{0} correct ACK header prediction{1}");
        P(S(TcpStat.tcps_preddat), "\t{0} correct data packet header prediction{1}");
        P3(S(TcpStat.tcps_sc_added), "\t{0} syncache entr{1} added");
        P(S(TcpStat.tcps_sc_retransmitted), "\t\t{0} retransmitted");
        P(S(TcpStat.tcps_sc_dupsyn), "\t\t{0} dupsyn");
        P(S(TcpStat.tcps_sc_dropped), "\t\t{0} dropped");
        P(S(TcpStat.tcps_sc_completed), "\t\t{0} completed");
        P(S(TcpStat.tcps_sc_bucketoverflow), "\t\t{0} bucket overflow");
        P(S(TcpStat.tcps_sc_cacheoverflow), "\t\t{0} cache overflow");
        P(S(TcpStat.tcps_sc_reset), "\t\t{0} reset");
        P(S(TcpStat.tcps_sc_stale), "\t\t{0} stale");
        P(S(TcpStat.tcps_sc_aborted), "\t\t{0} aborted");
        P(S(TcpStat.tcps_sc_badack), "\t\t{0} badack");
        P(S(TcpStat.tcps_sc_unreach), "\t\t{0} unreach");
        P(S(TcpStat.tcps_sc_zonefail), "\t\t{0} zone failure{1}");
        P(S(TcpStat.tcps_sc_sendcookie), "\t{0} cookie{1} sent");
        P(S(TcpStat.tcps_sc_recvcookie), "\t{0} cookie{1} received");
        P3(0, "\t{0} hostcache entr{1} added");
        P(0, "\t\t{0} bucket overflow");
        P(S(TcpStat.tcps_sack_recovery_episode), "\t{0} SACK recovery episode{1}");
        P(S(TcpStat.tcps_sack_rexmits), "\t{0} segment rexmit{1} in SACK recovery episodes");
        P(S(TcpStat.tcps_sack_rexmit_bytes), "\t{0} byte rexmit{1} in SACK recovery episodes");
        P(S(TcpStat.tcps_sack_rcv_blocks), "\t{0} SACK option{1} (SACK blocks) received");
        P(S(TcpStat.tcps_sack_send_blocks), "\t{0} SACK option{1} (SACK blocks) sent");
        P(S(TcpStat.tcps_sack_sboverflow), "\t{0} SACK scoreboard overflow");
        P(0, "\t{0} packet{1} with ECN CE bit set");
        P(0, "\t{0} packet{1} with ECN ECT(0) bit set");
        P(0, "\t{0} packet{1} with ECN ECT(1) bit set");
        P(0, "\t{0} successful ECN handshake{1}");
        P(0, "\t{0} time{1} ECN reduced the congestion window");
        P(0, "\t{0} packet{1} with matching signature received");
        P(0, "\t{0} packet{1} with bad signature received");
        P(0, "\t{0} time{1} failed to make signature due to no SA");
        P(0, "\t{0} time{1} unexpected signature received");
        P(0, "\t{0} time{1} no signature provided by segment");

        // net.inet.tcp.states: connections per state (the syncache's embryonic ones are not PCBs here).
        var counts = new long[TcpFsm.NStates];
        foreach (XTcpcb t in Tcp.PcbList(vnet))
        {
            if ((uint)t.State < TcpFsm.NStates)
            {
                counts[(int)t.State]++;
            }
        }

        o.WriteLine("TCP connection count by state:");
        for (int i = 0; i < TcpFsm.NStates; i++)
        {
            if (sflag > 1 && counts[i] == 0)
            {
                continue;
            }

            string name = TcpFsm.Name((TcpState)i);
            o.WriteLine(string.Format(CultureInfo.InvariantCulture, "\t{0} {1} in {2} state", counts[i], counts[i] == 1 ? "connection " : "connections", name));
        }
    }
}
