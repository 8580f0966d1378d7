using Vimage.Core;
using Vimage.Net.Pfil;

namespace Vimage.Net.Inet;

/// <summary>ip_output: routing, source selection, header, fragmentation and hand-off to the link layer.</summary>
public static partial class IpOutput
{
    [Vnet]
    private static int s_ip_id;

    /// <summary>
    /// Sends the payload in <paramref name="m"/> (data = transport header + payload, with headroom) to
    /// <paramref name="dst"/>. A zero <paramref name="src"/> is chosen from the outgoing interface. Returns 0 or an
    /// errno (ENETUNREACH, EHOSTUNREACH, EACCES for broadcast without permission, EMSGSIZE with DF, ENOBUFS);
    /// the mbuf is consumed either way.
    /// </summary>
    public static int Send(Mbuf m, InAddr src, InAddr dst, byte protocol, IpOutputOptions options = default)
        => Send(m, src, dst, protocol, options, default);

    /// <summary>
    /// ip_output with IP options (ip_insertoptions): as <see cref="Send(Mbuf, InAddr, InAddr, byte, IpOutputOptions)"/>,
    /// the header followed by <paramref name="ipOptions"/> (a multiple of 4 bytes, at most 40).
    /// </summary>
    public static int Send(Mbuf m, InAddr src, InAddr dst, byte protocol, IpOutputOptions options, ReadOnlySpan<byte> ipOptions)
    {
        int hlen = IpHeader.MinLength + ipOptions.Length;
        int length = m.Length + hlen;
        if (length > IpHeader.MaxPacket)
        {
            Ip.Stat(IpStat.ips_odropped);
            m.Free();
            return Errno.EMSGSIZE;
        }

        uint flow = m.HasFlowId ? m.FlowId : Routes.FlowHash(src, dst, protocol, PortsOf(m.Data, protocol));
        if (!TryRoute(m, dst, options, flow, out bool broadcast, out Rtentry? route, out int error))
        {
            return error;
        }

        Ifnet ifp = route.Interface;
        if (src.IsAny)
        {
            src = SourceFor(ifp, dst);
        }

        if (m.LeadingSpace < hlen + Mbuf.MaxLinkHdr)
        {
            Ip.Stat(IpStat.ips_odropped);
            m.Free();
            return Errno.ENOBUFS;
        }

        byte ttl = options.Ttl != 0 ? options.Ttl : (byte)Ip.DefaultTtl;
        ushort id = (ushort)Interlocked.Increment(ref V_ip_id);
        Span<byte> header = m.Prepend(hlen);
        IpHeader.Write(header, length, id, options.DontFragment ? IpHeader.FlagDontFragment : (ushort)0, ttl, protocol, src, dst, options.Tos);
        if (!ipOptions.IsEmpty)
        {
            header[0] = (byte)(0x40 | (hlen >> 2));
            ipOptions.CopyTo(header[IpHeader.MinLength..]);
            new IpHeader(header).UpdateChecksum();
        }
        m.CsumFlags |= ifp.HwAssist & CsumFlags.CSUM_IP; // the header sum is written anyway (20 bytes); the flag spares the receiver
        Ip.Stat(IpStat.ips_localout);
        error = Transmit(m, ifp, route.NextHop(dst), broadcast, route.RouteMtu);
        if (error == Errno.ENETDOWN)
        {
            Ip.Stat(IpStat.ips_odropped); // counted here, not in Transmit: forwarding counts its own (ip_tryforward)
        }

        return error;
    }

    /// <summary>TCP and UDP ports (the transport header's first word) for the flow hash; 0 for other protocols.</summary>
    internal static uint PortsOf(ReadOnlySpan<byte> transport, byte protocol)
        => (protocol == IpProto.Tcp || protocol == IpProto.Udp) && transport.Length >= 4
            ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(transport)
            : 0;

    /// <summary>The source for a datagram leaving <paramref name="ifp"/>: its address for <paramref name="dst"/>, else our first.</summary>
    private static InAddr SourceFor(Ifnet ifp, InAddr dst)
    {
        if (ifp.Type == IfType.IFT_LOOP && !InAddrs.IsBroadcast(dst) && InAddrs.IsLocal(dst))
        {
            return dst; // the loopback route of one of our addresses: its nh_ifa is that address, as in_pcbladdr picks
        }

        InAddr src = InAddrs.SourceFor(ifp, dst);
        return src.IsAny ? InAddrs.All.FirstOrDefault()?.Address ?? InAddr.Any : src;
    }

    /// <summary>
    /// The route to <paramref name="dst"/>; false (the mbuf freed) for a broadcast without SO_BROADCAST (EACCES),
    /// without a route (ENETUNREACH, ips_noroute), for a blackhole (0: silently discarded, as RTF_BLACKHOLE says)
    /// or a reject route (EHOSTUNREACH).
    /// </summary>
    private static bool TryRoute(Mbuf m, InAddr dst, IpOutputOptions options, uint flow, out bool broadcast,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Rtentry? route, out int error)
    {
        broadcast = InAddrs.IsBroadcast(dst);
        m.Fib = options.Fib; // ip_output: M_SETFIB(m, fibnum)
        route = null;
        error = 0;
        if (broadcast && !options.AllowBroadcast)
        {
            error = Errno.EACCES;
        }
        else if ((route = Routes.Lookup(options.Fib, dst, flow)) is null)
        {
            Ip.Stat(IpStat.ips_noroute);
            error = Errno.ENETUNREACH;
        }
        else if (route.IsReject)
        {
            error = Errno.EHOSTUNREACH;
        }
        else if (!route.IsBlackhole)
        {
            return true;
        }

        m.Free();
        return false;
    }

    /// <summary>
    /// Sends a complete IP packet (header included) out of <paramref name="ifp"/> towards <paramref name="nextHop"/>,
    /// fragmenting it to the interface MTU when allowed (EMSGSIZE with DF). Used by local output and forwarding.
    /// </summary>
    /// <remarks>
    /// <paramref name="routeMtu"/> is the route's own MTU (route add -mtu; 0: none): ip_output fragments to the
    /// nexthop's MTU, the smaller of it and the interface's. A packet dummynet held and reinjects later is cut to
    /// the interface MTU.
    /// </remarks>
    public static int Transmit(Mbuf m, Ifnet ifp, InAddr nextHop, bool broadcast, int routeMtu = 0)
    {
        if (!ifp.IsUp)
        {
            m.Free();
            return Errno.ENETDOWN;
        }

        if ((m.CsumFlags & CsumFlags.CSUM_TSO) != 0 && InOffload.MustSegment(m, ifp, NhMtu(ifp, routeMtu), PfilHeads.InetOut is not null))
        {
            return TransmitSegments(m, ifp, nextHop, broadcast, routeMtu);
        }

        // if_output with an AF_INET next hop; any broadcast goes as 255.255.255.255 so the link layer needs no
        // subnet knowledge (ether_output's M_BCAST).
        InAddr hop = broadcast ? InAddr.Broadcast : nextHop;
        if (PfilHeads.InetOut is { } hooks)
        {
            PfilResult verdict = PfilHeads.Run(hooks, m, ifp, PfilDir.Out, hop.Value);
            if (verdict != PfilResult.Pass)
            {
                return verdict == PfilResult.Dropped ? Errno.EACCES : 0; // ip_output_pfil
            }
        }

        return OutputToLink(m, ifp, hop, routeMtu);
    }

    /// <summary>
    /// A CSUM_TSO packet <paramref name="ifp"/> cannot take (or that filters must see as on the wire), cut in
    /// software and sent segment by segment; the first error is returned.
    /// </summary>
    private static int TransmitSegments(Mbuf m, Ifnet ifp, InAddr nextHop, bool broadcast, int routeMtu)
    {
        Mbuf? s = InOffload.Segment(m);
        if (s is null)
        {
            Ip.Stat(IpStat.ips_odropped);
            return Errno.ENOBUFS;
        }

        int error = 0;
        while (s is not null)
        {
            Mbuf? next = s.NextPacket;
            s.NextPacket = null;
            int e = Transmit(s, ifp, nextHop, broadcast, routeMtu);
            error = error != 0 ? error : e;
            s = next;
        }

        return error;
    }

    private static int NhMtu(Ifnet ifp, int routeMtu) => routeMtu > 0 && routeMtu < ifp.Mtu ? routeMtu : ifp.Mtu;

    /// <summary>
    /// ip_output past pfil for a packet dummynet held: the interface may have gone down meanwhile, so it is checked
    /// again (Transmit checked it before the filter) before <see cref="OutputToLink"/>.
    /// </summary>
    public static int AfterFilter(Mbuf m, Ifnet ifp, InAddr hop)
    {
        if (!ifp.IsUp)
        {
            m.Free();
            return Errno.ENETDOWN;
        }

        return OutputToLink(m, ifp, hop, 0);
    }

    /// <summary>MTU check, fragmentation and if_output, on an interface known to be up.</summary>
    private static int OutputToLink(Mbuf m, Ifnet ifp, InAddr hop, int routeMtu)
    {
        var dst = hop.ToSockaddr();
        int mtu = NhMtu(ifp, routeMtu);

        // ip_output: what the interface does not offload is done here (in_delayed_cksum); a datagram to fragment
        // has its transport checksum computed first, fragments cannot be offloaded.
        bool fits = m.Length <= mtu || (m.CsumFlags & ifp.HwAssist & CsumFlags.CSUM_TSO) != 0;
        if ((m.CsumFlags & CsumFlags.CSUM_DELAY_DATA & (fits ? ~ifp.HwAssist : ~CsumFlags.None)) != 0)
        {
            InOffload.DelayedCksum(m);
            m.CsumFlags &= ~CsumFlags.CSUM_DELAY_DATA;
        }

        m.CsumFlags &= ~(CsumFlags.CSUM_IP & ~ifp.HwAssist);
        if (fits)
        {
            return ifp.Output(m, in dst);
        }

        var ip = new IpHeader(m.Data);
        if (ip.DontFragment)
        {
            Ip.Stat(IpStat.ips_cantfrag);
            m.Free();
            return Errno.EMSGSIZE;
        }

        return Fragment(m, ifp, dst, mtu);
    }

    /// <summary>
    /// The fragmenting path, apart so that its closure is allocated only when a datagram is fragmented (a lambda
    /// capturing Transmit's parameters would cost an allocation on every packet).
    /// </summary>
    private static int Fragment(Mbuf m, Ifnet ifp, Sockaddr dst, int mtu) => IpFragment.Output(m, mtu, fragment => ifp.Output(fragment, in dst));
}
