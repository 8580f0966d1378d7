using System.Buffers.Binary;
using System.Diagnostics;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;

namespace Vimage.Net.Udp;

/// <summary>
/// UDP (netinet/udp_usrreq.c): udp_input with its checks and PCB lookup, udp_multi_input for broadcast and
/// multicast, udp_output, and udp_common_ctlinput turning ICMP errors into socket errors. Each vnet has its own
/// PCB table (V_udbinfo), statistics and knobs.
/// </summary>
public static partial class Udp
{
    [Vnet]
    private static InPcbInfo s_udbinfo = new();

    /// <summary>inetsw's UDP entry (udp_usrreqs with udp_input and udp_ctlinput).</summary>
    public static readonly UdpProtosw Protosw = new();

    /// <summary>in_proto.c's UDP line: UDP registers itself with the inet domain, as TCP does.</summary>
    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAININIT, SiOrder.SI_ORDER_SECOND)]
    private static void udp_proto_init() => InetDomain.Register(Protosw);

    internal static readonly IpProtocolInput InputHandler = Input;
    internal static readonly IcmpHandler CtlInputHandler = CtlInput;

    /// <summary>The current vnet's PCB table.</summary>
    internal static InPcbInfo Table => V_udbinfo;

    /// <summary>UDP sockets open in <paramref name="vnet"/> (netstat -p udp would list them).</summary>
    public static int SocketCount(Vnet vnet) => V_udbinfo_In(vnet).Count;

    /// <summary>udp_destroy: sockets still open in the dying vnet are closed, so later use of them fails cleanly.</summary>
    [VnetSysuninit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_FOURTH)]
    private static void udp_vnet_destroy()
    {
        foreach (InPcb pcb in V_udbinfo.DetachAll())
        {
            pcb.Socket.Abort("its vnet was destroyed");
        }
    }

    /// <summary>udp_input: the mbuf's data starts at the IP header of <paramref name="hlen"/> bytes.</summary>
    internal static void Input(Mbuf m, int hlen)
    {
        Stat(UdpStat.udps_ipackets);
        Span<byte> p = m.Data;
        if (p.Length < hlen + HeaderLength)
        {
            Drop(m, UdpStat.udps_hdrops);
            return;
        }

        int ipLength = p.Length - hlen;
        int length = BinaryPrimitives.ReadUInt16BigEndian(p[(hlen + 4)..]);
        if (length != ipLength)
        {
            if (length > ipLength || length < HeaderLength)
            {
                Drop(m, UdpStat.udps_badlen);
                return;
            }

            m.Truncate(hlen + length); // the IP datagram carries more than the UDP datagram: trim
            p = m.Data;
        }

        InAddr src = InAddr.Read(p[12..]);
        InAddr dst = InAddr.Read(p[16..]);
        Span<byte> uh = p[hlen..];
        ushort sport = BinaryPrimitives.ReadUInt16BigEndian(uh);
        ushort dport = BinaryPrimitives.ReadUInt16BigEndian(uh[2..]);
        bool verified = (m.CsumFlags & (CsumFlags.CSUM_DATA_VALID | CsumFlags.CSUM_PSEUDO_HDR)) == (CsumFlags.CSUM_DATA_VALID | CsumFlags.CSUM_PSEUDO_HDR);
        if (uh[6] == 0 && uh[7] == 0)
        {
            Stat(UdpStat.udps_nosum);
        }
        else if (!verified && Checksum.Finish(Checksum.Sum(uh, Checksum.PseudoHeader(src, dst, IpProto.Udp, length))) != 0)
        {
            Drop(m, UdpStat.udps_badsum);
            return;
        }

        InPcbInfo table = V_udbinfo;
        if (dst.IsMulticast || InAddrs.IsBroadcast(dst))
        {
            MultiInput(table, m, hlen, src, sport, dst, dport);
            return;
        }

        InPcb? pcb = table.Lookup(src, sport, dst, dport);
        if (pcb is null)
        {
            if (V_udp_log_in_vain != 0)
            {
                Trace.TraceInformation($"Connection attempt to UDP {dst}:{dport} from {src}:{sport}");
            }

            Stat(UdpStat.udps_noport);
            if ((m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0)
            {
                Drop(m, UdpStat.udps_noportbcast);
                return;
            }

            if (V_udp_blackhole != 0)
            {
                m.Free();
                return;
            }

            Icmp.Error(m, IcmpType.Unreach, IcmpCode.UnreachPort);
            return;
        }

        Append(pcb.Socket, m, hlen, src, sport);
    }

    /// <summary>
    /// udp_multi_input: a broadcast or multicast datagram goes to every socket bound to its port whose local address
    /// is the wildcard or the destination and whose foreign end (if connected) is the sender; each but the last gets
    /// a copy. There is no IP_ADD_MEMBERSHIP yet, so multicast is not filtered by group (udps_filtermcast stays 0).
    /// </summary>
    private static void MultiInput(InPcbInfo table, Mbuf m, int hlen, InAddr src, ushort sport, InAddr dst, ushort dport)
    {
        Socket? last = null;
        foreach (InPcb pcb in table.Bucket(dport))
        {
            PcbEnds e = pcb.Ends;
            if (e.LocalPort != dport || (!e.Local.IsAny && e.Local != dst)
                || (e.IsConnected && (e.Foreign != src || e.ForeignPort != sport)))
            {
                continue;
            }

            if (last is not null && MbufDup.Dup(m) is Mbuf copy)
            {
                Append(last, copy, hlen, src, sport);
            }

            last = pcb.Socket;
        }

        if (last is null)
        {
            Stat(UdpStat.udps_noport);
            Drop(m, dst.IsMulticast ? UdpStat.udps_noportmcast : UdpStat.udps_noportbcast);
            return;
        }

        Append(last, m, hlen, src, sport);
    }

    /// <summary>udp_append: the datagram's data (headers stripped) goes on the socket from its sender, or udps_fullsock.</summary>
    private static void Append(Socket so, Mbuf m, int hlen, InAddr src, ushort sport)
    {
        m.Adjust(hlen + HeaderLength);
        switch (so.AppendAddr(m, src.ToSockaddr(sport)))
        {
            case SbAppendResult.Queued:
                return;
            case SbAppendResult.Full:
                Drop(m, UdpStat.udps_fullsock);
                return;
            default:
                m.Free(); // closed meanwhile
                return;
        }
    }

    private static void Drop(Mbuf m, UdpStat reason)
    {
        Stat(reason);
        m.Free();
    }

    /// <summary>
    /// in_pcbconnect_setup's address rules for a destination: INADDR_ANY means our first address and
    /// INADDR_BROADCAST the first broadcast-capable interface's subnet broadcast (when there is no route for it).
    /// </summary>
    internal static InAddr RewriteDestination(InAddr dst, int fib)
    {
        IReadOnlyList<InIfaddr> all = InAddrs.All;
        if (all.Count == 0)
        {
            return dst;
        }

        if (dst.IsAny)
        {
            return all[0].Address;
        }

        if (dst.IsBroadcast && Routes.Lookup(fib, dst) is null)
        {
            foreach (InIfaddr ia in all)
            {
                if (ia.Interface.Type != IfType.IFT_LOOP && ia.PrefixLength < 31)
                {
                    return ia.BroadcastAddress;
                }
            }
        }

        return dst;
    }

    /// <summary>
    /// udp_output: header, checksum over the pseudo-header (net.inet.udp.checksum), ip_output. Returns 0 or an errno;
    /// <paramref name="src"/> is the socket's bound address or Any to choose one.
    /// </summary>
    internal static int Output(ReadOnlySpan<byte> data, InAddr src, ushort sport, InAddr dst, ushort dport, IpOutputOptions options)
    {
        if (src.IsAny || src.IsBroadcast || src.IsMulticast || InAddrs.IsBroadcast(src))
        {
            int error = InPcbInfo.SelectSource(dst, options.Fib, out src);
            if (error != 0)
            {
                return error;
            }
        }

        int length = HeaderLength + data.Length;
        Mbuf? m = MbufPool.GetFor(length);
        if (m is null)
        {
            return Errno.ENOBUFS;
        }

        Span<byte> uh = m.Append(length);
        BinaryPrimitives.WriteUInt16BigEndian(uh, sport);
        BinaryPrimitives.WriteUInt16BigEndian(uh[2..], dport);
        BinaryPrimitives.WriteUInt16BigEndian(uh[4..], (ushort)length);
        uh[6] = 0;
        uh[7] = 0;
        data.CopyTo(uh[HeaderLength..]);
        if (V_udp_cksum != 0)
        {
            // udp_output: CSUM_UDP with the pseudo-header sum in uh_sum; ip_output or the interface completes it.
            InOffload.WritePseudo(uh[InOffload.UdpSumOffset..], src, dst, IpProto.Udp, length);
            m.CsumFlags = CsumFlags.CSUM_UDP;
            m.CsumData = InOffload.UdpSumOffset;
        }

        Stat(UdpStat.udps_opackets);
        return IpOutput.Send(m, src, dst, IpProto.Udp, options);
    }

    /// <summary>
    /// udp_common_ctlinput: an ICMP error quoting one of our datagrams becomes so_error on the connected socket of
    /// that 4-tuple, as icmp_errmap maps it (port, protocol and administratively prohibited → ECONNREFUSED; net,
    /// host, TTL exceeded in transit → EHOSTUNREACH; need-frag → EMSGSIZE; parameter problem → ENOPROTOOPT).
    /// Unconnected sockets never hear of it, as in BSD.
    /// </summary>
    private static bool CtlInput(Mbuf m, int hlen)
    {
        ReadOnlySpan<byte> icmp = m.Data[hlen..];
        if (icmp.Length < Icmp.HeaderLength + IpHeader.MinLength + HeaderLength)
        {
            return false;
        }

        int errno = Icmp.ErrMap(icmp[0], icmp[1]);
        ReadOnlySpan<byte> quoted = icmp[Icmp.HeaderLength..];
        int qhlen = (quoted[0] & 0x0f) * 4;
        if (errno == 0 || quoted[9] != IpProto.Udp || qhlen < IpHeader.MinLength || quoted.Length < qhlen + HeaderLength)
        {
            return false;
        }

        InAddr local = InAddr.Read(quoted[12..]);
        InAddr foreign = InAddr.Read(quoted[16..]);
        ushort lport = BinaryPrimitives.ReadUInt16BigEndian(quoted[qhlen..]);
        ushort fport = BinaryPrimitives.ReadUInt16BigEndian(quoted[(qhlen + 2)..]);
        InPcb? pcb = V_udbinfo.LookupConnected(foreign, fport, local, lport);
        if (pcb is null)
        {
            return false;
        }

        pcb.Socket.SetError(errno);
        m.Free();
        return true;
    }
}
