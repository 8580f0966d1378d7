using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Tcp;

/// <summary>
/// tcp_output's TSO and checksum offload parts (netinet/tcp_output.c): whether a send may be one large segment
/// the interface cuts (the <c>tso</c> conditions), how large (up to t_tsomax, whole segments unless it empties
/// so_snd), and the CSUM_TCP/CSUM_TSO request with the pseudo-header sum in th_sum. tcp_mss sets TF_TSO from
/// the route's interface (tcp_maxmtu's CSUM_TSO and if_hw_tsomax).
/// </summary>
public static partial class Tcp
{
    [Vnet]
    [Sysctl("net.inet.tcp.tso", SysctlFlags.RW | SysctlFlags.VNET, "Enable TCP Segmentation Offload", Min = 0, Max = 1)]
    internal static int s_tcp_do_tso = 1;

    /// <summary>tcp_maxmtu's capability part: TF_TSO and t_tsomax from the interface that reaches the peer.</summary>
    internal static void MssTso(Tcpcb tp)
    {
        Rtentry? rt = Routes.Lookup(tp.So.Fib, tp.Inp.Ends.Foreign);
        Ifnet? ifp = rt?.Interface;
        if (ifp is not null && (ifp.CapEnable & IfCap.IFCAP_TSO4) != 0 && (ifp.HwAssist & CsumFlags.CSUM_TSO) != 0 && ifp.HwTsoMax > 0)
        {
            tp.t_flags |= TcpCbFlags.TF_TSO;
            tp.t_tsomax = ifp.HwTsoMax;
        }
        else
        {
            tp.t_flags &= ~TcpCbFlags.TF_TSO;
            tp.t_tsomax = 0;
        }
    }

    /// <summary>
    /// tcp_output's tso test: TF_TSO and net.inet.tcp.tso, more than a segment to send, no SACK blocks to report
    /// (rcv_numsacks), not a SACK retransmission (net.inet.tcp.sack.tso off), no SYN (no IP options here).
    /// </summary>
    private static bool TsoAllowed(Tcpcb tp, long len, int sackHole, TcpFlags flags)
        => (tp.t_flags & TcpCbFlags.TF_TSO) != 0 && V_tcp_do_tso != 0 && len > tp.t_maxseg
           && tp.t_sackreport.Count == 0 && sackHole < 0 && (flags & TcpFlags.TH_SYN) == 0;

    /// <summary>
    /// tcp_output's TSO sizing once the options are known: at most t_tsomax with the headers, whole segments
    /// unless the send empties so_snd, and no TSO for a single segment; the FIN waits for a segment of its own.
    /// False when the send is not TSO after all (the caller cuts it to one segment).
    /// </summary>
    private static bool TsoLength(Tcpcb tp, int optlen, int off, int sbavail, ref int len, ref TcpFlags flags, ref bool sendalot)
    {
        int maxLen = tp.t_tsomax - IpHeader.MinLength - TcpHeader.MinLength - optlen - Mbuf.MaxLinkHdr;
        if (len > maxLen)
        {
            len = maxLen;
            sendalot = true;
        }

        int segsz = tp.maxseg - optlen;
        if (off + len < sbavail)
        {
            int moff = len % segsz;
            if (moff != 0)
            {
                len -= moff;
                sendalot = true;
            }
        }

        if (off + len < sbavail)
        {
            flags &= ~TcpFlags.TH_FIN;
        }

        return len > segsz;
    }

    /// <summary>
    /// The offload request on a built segment: CSUM_TCP with th_sum at csum_data holding the pseudo-header sum
    /// (ip_output or the interface completes it), and CSUM_TSO with tso_segsz for a large one.
    /// </summary>
    private static void CsumRequest(Mbuf m, Span<byte> seg, in PcbEnds e, bool tso, int segsz)
    {
        InOffload.WritePseudo(seg[InOffload.TcpSumOffset..], e.Local, e.Foreign, IpProto.Tcp, seg.Length);
        m.CsumFlags = tso ? CsumFlags.CSUM_TCP | CsumFlags.CSUM_TSO : CsumFlags.CSUM_TCP;
        m.CsumData = InOffload.TcpSumOffset;
        m.TsoSegsz = tso ? segsz : 0;
    }

    /// <summary>tcp_input's checksum test: skipped when the interface verified it (CSUM_DATA_VALID with CSUM_PSEUDO_HDR).</summary>
    private static bool CsumVerified(Mbuf m)
        => (m.CsumFlags & (CsumFlags.CSUM_DATA_VALID | CsumFlags.CSUM_PSEUDO_HDR)) == (CsumFlags.CSUM_DATA_VALID | CsumFlags.CSUM_PSEUDO_HDR);
}
