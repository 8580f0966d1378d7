using System.Buffers.Binary;
using Vimage.Net.Inet;

namespace Vimage.Net.Tcp;

/// <summary>
/// tcp_ctlinput (netinet/tcp_subr.c): an ICMP error quoting one of our segments reaches its connection, if the quoted
/// sequence number is one we have outstanding (snd_una ≤ seq &lt; snd_max: a forged error must guess it). Port or
/// protocol unreachable drops a connection still in SYN_SENT with ECONNREFUSED (tcp_drop_syn_sent,
/// net.inet.icmp.icmp_may_rst); net or host unreachable is a soft error (tcp_notify: remembered in t_softerror and
/// reported if the connection times out; ignored once established); fragmentation needed lowers t_maxseg to the
/// next hop's MTU and resends at once (tcp_mtudisc, tcps_mturesent).
/// </summary>
public static partial class Tcp
{
    internal static readonly IcmpHandler CtlInputHandler = CtlInput;

    private static bool CtlInput(Mbuf m, int hlen)
    {
        try
        {
            return CtlInputLocked(m, hlen);
        }
        finally
        {
            FlushOutput();
        }
    }

    private static bool CtlInputLocked(Mbuf m, int hlen)
    {
        ReadOnlySpan<byte> icmp = m.Data[hlen..];
        if (icmp.Length < Icmp.HeaderLength + IpHeader.MinLength + 8 || icmp[0] != IcmpType.Unreach)
        {
            return false;
        }

        byte code = icmp[1];
        ReadOnlySpan<byte> quoted = icmp[Icmp.HeaderLength..];
        int qhlen = (quoted[0] & 0x0f) * 4;
        if (quoted[9] != IpProto.Tcp || qhlen < IpHeader.MinLength || quoted.Length < qhlen + 8)
        {
            return false;
        }

        InAddr local = InAddr.Read(quoted[12..]);
        InAddr foreign = InAddr.Read(quoted[16..]);
        ushort lport = BinaryPrimitives.ReadUInt16BigEndian(quoted[qhlen..]);
        ushort fport = BinaryPrimitives.ReadUInt16BigEndian(quoted[(qhlen + 2)..]);
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(quoted[(qhlen + 4)..]);
        if (V_tcbinfo.LookupExact(foreign, fport, local, lport)?.Ppcb is not Tcpcb tp)
        {
            return false;
        }

        lock (tp.Lock)
        {
            if ((tp.t_flags & TcpCbFlags.TF_CLOSED) != 0 || TcpSeq.Lt(seq, tp.snd_una) || TcpSeq.Geq(seq, tp.snd_max))
            {
                return false;
            }

            switch (code)
            {
                case IcmpCode.UnreachPort or IcmpCode.UnreachProtocol:
                    if (tp.t_state == TcpState.TCPS_SYN_SENT)
                    {
                        TcpDrop(tp, Errno.ECONNREFUSED);
                    }

                    break;
                case IcmpCode.UnreachNet or IcmpCode.UnreachHost or IcmpCode.UnreachSourceRouteFailed:
                    if (tp.t_state < TcpState.TCPS_ESTABLISHED)
                    {
                        tp.t_softerror = Errno.EHOSTUNREACH;
                    }

                    break;
                case IcmpCode.UnreachNeedFrag:
                    int mtu = BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]);
                    int mss = Math.Max(mtu - IpHeader.MinLength - TcpHeader.MinLength, Math.Max(V_tcp_minmss, 64));
                    if (mtu >= 68 && mss < tp.maxseg)
                    {
                        tp.maxseg = mss;
                        Stat(TcpStat.tcps_mturesent);
                        tp.snd_nxt = tp.snd_una;
                        tp.t_rtttime = 0;
                        Output(tp);
                    }

                    break;
            }
        }

        m.Free();
        return true;
    }
}
