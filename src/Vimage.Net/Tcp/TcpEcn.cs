using Vimage.Core;
using Vimage.Net.Tcp.Cc;

namespace Vimage.Net.Tcp;

#pragma warning disable CA1707 // FreeBSD's names (netinet/tcp_var.h, netinet/ip.h).

/// <summary>t_flags2 (netinet/tcp_var.h), FreeBSD's values: the RFC 3168 ECN state.</summary>
[Flags]
public enum TcpCbFlags2 : uint
{
    None = 0,

    /// <summary>TF2_ECN_PERMIT: both ends negotiated ECN.</summary>
    TF2_ECN_PERMIT = 0x00000020,

    /// <summary>TF2_ECN_SND_CWR: the next new data segment carries CWR (cwnd was reduced).</summary>
    TF2_ECN_SND_CWR = 0x00000040,

    /// <summary>TF2_ECN_SND_ECE: a CE mark arrived; every segment carries ECE until the peer's CWR.</summary>
    TF2_ECN_SND_ECE = 0x00000080,
}

#pragma warning restore CA1707

/// <summary>
/// RFC 3168 ECN (netinet/tcp_ecn.c): negotiation on the handshake (net.inet.tcp.ecn.enable: 0 off, 1 request and
/// accept, 2 accept only — FreeBSD's default), ECT(0) on new data, CE → ECE echoed until CWR, and an ECE making the
/// sender reduce cwnd once per window (cc_cong_signal CC_ECN, tcps_ecn_rcwnd).
/// </summary>
public static partial class Tcp
{
    /// <summary>IPTOS_ECN_MASK and its codepoints (netinet/ip.h).</summary>
    internal const byte IPTOS_ECN_MASK = 0x03, IPTOS_ECN_ECT1 = 0x01, IPTOS_ECN_ECT0 = 0x02, IPTOS_ECN_CE = 0x03;

    [Vnet]
    [Sysctl("net.inet.tcp.ecn.enable", SysctlFlags.RW | SysctlFlags.VNET, "TCP ECN support", Min = 0, Max = 2)]
    internal static int s_tcp_do_ecn = 2;

    [Vnet]
    [Sysctl("net.inet.tcp.ecn.maxretries", SysctlFlags.RW | SysctlFlags.VNET, "Max retries before giving up on ECN", Min = 0, Max = 64)]
    internal static int s_tcp_ecn_maxretries = 1;

    /// <summary>tcp_ecn_output_syn_sent: ECE|CWR on our SYN with ecn.enable=1, dropped after ecn.maxretries SYN retransmissions.</summary>
    internal static TcpFlags EcnOutputSynSent(Tcpcb tp)
        => V_tcp_do_ecn == 1 && tp.t_rxtshift_ <= V_tcp_ecn_maxretries ? TcpFlags.TH_ECE | TcpFlags.TH_CWR : 0;

    /// <summary>tcp_ecn_input_syn_sent: a SYN-ACK with ECE (not CWR) completes the negotiation (tcps_ecn_shs).</summary>
    internal static void EcnInputSynSent(Tcpcb tp, TcpFlags thflags)
    {
        if (V_tcp_do_ecn != 0 && (thflags & (TcpFlags.TH_ECE | TcpFlags.TH_CWR)) == TcpFlags.TH_ECE)
        {
            tp.t_flags2 |= TcpCbFlags2.TF2_ECN_PERMIT;
            Stat(TcpStat.tcps_ecn_shs);
        }
    }

    /// <summary>tcp_ecn_syncache_add: a SYN with ECE|CWR asks for ECN; any ecn.enable but 0 accepts.</summary>
    internal static bool EcnSyncacheAdd(TcpFlags thflags)
        => V_tcp_do_ecn != 0 && (thflags & (TcpFlags.TH_ECE | TcpFlags.TH_CWR)) == (TcpFlags.TH_ECE | TcpFlags.TH_CWR);

    /// <summary>tcp_ecn_syncache_socket: the connection the syncache completes keeps the negotiated ECN.</summary>
    internal static void EcnSyncacheSocket(Tcpcb tp, bool ecn)
    {
        if (ecn)
        {
            tp.t_flags2 |= TcpCbFlags2.TF2_ECN_PERMIT;
            Stat(TcpStat.tcps_ecn_shs);
        }
    }

    /// <summary>
    /// tcp_ecn_input_segment (RFC 3168 part): counts the IP ECN codepoint, a CWR stops our ECE echo, a CE mark starts
    /// it. Returns true for an ECE the sender must react to (cc_cong_signal CC_ECN).
    /// </summary>
    internal static bool EcnInputSegment(Tcpcb tp, TcpFlags thflags, byte iptos)
    {
        if ((tp.t_flags2 & TcpCbFlags2.TF2_ECN_PERMIT) == 0)
        {
            return false;
        }

        switch (iptos & IPTOS_ECN_MASK)
        {
            case IPTOS_ECN_CE:
                Stat(TcpStat.tcps_ecn_ce);
                break;
            case IPTOS_ECN_ECT0:
                Stat(TcpStat.tcps_ecn_ect0);
                break;
            case IPTOS_ECN_ECT1:
                Stat(TcpStat.tcps_ecn_ect1);
                break;
        }

        if ((thflags & TcpFlags.TH_CWR) != 0)
        {
            tp.t_flags2 &= ~TcpCbFlags2.TF2_ECN_SND_ECE;
            tp.t_flags |= TcpCbFlags.TF_ACKNOW;
        }

        if ((iptos & IPTOS_ECN_MASK) == IPTOS_ECN_CE)
        {
            tp.t_flags2 |= TcpCbFlags2.TF2_ECN_SND_ECE;
        }

        return (thflags & (TcpFlags.TH_SYN | TcpFlags.TH_ECE)) == TcpFlags.TH_ECE;
    }

    /// <summary>
    /// tcp_ecn_output_established: ECT(0) on new data (no retransmission, no window probe), CWR on the first new data
    /// after a reduction, ECE while echoing a CE mark. Returns the IP ECN codepoint.
    /// </summary>
    internal static byte EcnOutputEstablished(Tcpcb tp, ref TcpFlags flags, int len, bool rxmit)
    {
        bool newdata = len > 0 && TcpSeq.Geq(tp.snd_nxt, tp.snd_max) && !rxmit
            && !((tp.t_flags & TcpCbFlags.TF_FORCEDATA) != 0 && len == 1);
        byte ipecn = 0;
        if (newdata)
        {
            ipecn = IPTOS_ECN_ECT0;
            Stat(TcpStat.tcps_ecn_sndect0);
            if ((tp.t_flags2 & TcpCbFlags2.TF2_ECN_SND_CWR) != 0)
            {
                flags |= TcpFlags.TH_CWR;
                tp.t_flags2 &= ~TcpCbFlags2.TF2_ECN_SND_CWR;
            }
        }

        if ((tp.t_flags2 & TcpCbFlags2.TF2_ECN_SND_ECE) != 0)
        {
            flags |= TcpFlags.TH_ECE;
        }

        return ipecn;
    }
}
