using Vimage.Net.Pfil;

namespace Vimage.Net.Inet;

/// <summary>
/// ip_input: validates the header (each failure counted under its ipstat field and dropped), handles options,
/// reassembles fragments addressed to us, delivers to the protocol, or forwards.
/// </summary>
public static class IpInput
{
    public static void Input(Ifnet ifp, Mbuf m)
    {
        Ip.Stat(IpStat.ips_total);
        Span<byte> data = m.Data;
        if (data.Length < IpHeader.MinLength)
        {
            Drop(m, IpStat.ips_toosmall);
            return;
        }

        var ip = new IpHeader(data);
        if (ip.Version != 4)
        {
            Drop(m, IpStat.ips_badvers);
            return;
        }

        int hlen = ip.HeaderLength;
        if (hlen < IpHeader.MinLength || hlen > data.Length)
        {
            Drop(m, IpStat.ips_badhlen);
            return;
        }

        if ((m.CsumFlags & (CsumFlags.CSUM_L3_CALC | CsumFlags.CSUM_L3_VALID)) != (CsumFlags.CSUM_L3_CALC | CsumFlags.CSUM_L3_VALID)
            && !Checksum.IsValid(data[..hlen]))
        {
            Drop(m, IpStat.ips_badsum);
            return;
        }

        int length = ip.TotalLength;
        if (length < hlen)
        {
            Drop(m, IpStat.ips_badlen);
            return;
        }

        if (data.Length < length)
        {
            Drop(m, IpStat.ips_tooshort);
            return;
        }

        m.Truncate(length); // Ethernet padding
        if (InOffload.SegmentOnInput(m))
        {
            InputSegments(ifp, m);
            return;
        }

        InAddr src = ip.Source, dst = ip.Destination;
        if (src.IsBroadcast || src.IsMulticast || (src.IsLoopback && ifp.Type != IfType.IFT_LOOP) || (dst.IsLoopback && ifp.Type != IfType.IFT_LOOP))
        {
            Drop(m, IpStat.ips_badaddr); // martians (RFC 1122 3.2.1.3)
            return;
        }

        if (PfilHeads.InetIn is { } hooks && PfilHeads.Run(hooks, m, ifp, PfilDir.In, 0) != PfilResult.Pass)
        {
            return; // consumed by a filter (dropped or queued by dummynet, which comes back through AfterFilter)
        }

        AfterFilter(ifp, m);
    }

    /// <summary>A large segment (LRO-style, from an epair peer) cut before filters see it, each piece through ip_input again.</summary>
    private static void InputSegments(Ifnet ifp, Mbuf m)
    {
        Mbuf? s = InOffload.Segment(m);
        if (s is null)
        {
            ifp.Count(IfCounter.IFCOUNTER_IQDROPS); // no buffers for the pieces: dropped as a full input queue drops
            return;
        }

        while (s is not null)
        {
            Mbuf? next = s.NextPacket;
            s.NextPacket = null;
            Input(ifp, s);
            s = next;
        }
    }

    /// <summary>ip_input past pfil: options, then local delivery or forwarding (dummynet's reinjection point).</summary>
    public static void AfterFilter(Ifnet ifp, Mbuf m)
    {
        var ip = new IpHeader(m.Data);
        int hlen = ip.HeaderLength;
        InAddr dst = ip.Destination;
        bool hasOptions = hlen > IpHeader.MinLength;
        if (hasOptions && !IpOptions.Process(ifp, m, hlen))
        {
            return; // dropped and counted (ips_badoptions) or answered with an ICMP error
        }

        if (InAddrs.IsLocal(dst, ifp) || dst.IsMulticast)
        {
            Deliver(m);
            return;
        }

        IpForward.Forward(ifp, m, hasOptions);
    }

    /// <summary>Local delivery: reassembly, then the protocol's input.</summary>
    internal static void Deliver(Mbuf m)
    {
        // Delivered here: the output requests a peer left on it are moot (a protocol answering in this mbuf
        // starts clean); what the interface verified (the L3/L4 results) stays for the protocol's input.
        m.CsumFlags &= ~CsumFlags.TxMask;
        var ip = new IpHeader(m.Data);
        if (ip.IsFragment)
        {
            Mbuf? whole = IpReass.Input(m, ip.HeaderLength);
            if (whole is null)
            {
                return; // held for the rest, or dropped and counted
            }

            m = whole;
            ip = new IpHeader(m.Data);
        }

        IpProtocolInput? input = IpProtocols.For(ip.Protocol);
        if (input is null)
        {
            Ip.Stat(IpStat.ips_noproto);
            Icmp.Error(m, IcmpType.Unreach, IcmpCode.UnreachProtocol);
            return;
        }

        Ip.Stat(IpStat.ips_delivered);
        input(m, ip.HeaderLength);
    }

    internal static void Drop(Mbuf m, IpStat reason)
    {
        Ip.Stat(reason);
        m.Free();
    }
}

/// <summary>ip_forward and ip_tryforward: the router's path, counted as FreeBSD counts it.</summary>
public static class IpForward
{
    private const int IPTTLDEC = 1;

    public static void Forward(Ifnet arrival, Mbuf m, bool slowPath)
    {
        var ip = new IpHeader(m.Data);
        InAddr dst = ip.Destination;
        if (!Ip.Forwarding || InAddrs.IsBroadcast(dst) || dst.IsMulticast || ip.Source.IsAny || ip.Source.IsReservedSource
            || (m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0)
        {
            IpInput.Drop(m, IpStat.ips_cantforward);
            return;
        }

        if (ip.Ttl <= IPTTLDEC)
        {
            Icmp.Error(m, IcmpType.TimeExceeded, IcmpCode.TimeExceededInTransit);
            return;
        }

        // ip_tryforward/ip_forward: M_GETFIB(m), the receiving interface's; a multipath route's path by the flow.
        uint flow = m.HasFlowId ? m.FlowId : Routes.FlowHash(ip.Source, dst, ip.Protocol, IpOutput.PortsOf(m.Data[Math.Min(ip.HeaderLength, m.Length)..], ip.Protocol));
        Rtentry? route = Routes.Lookup(m.Fib, dst, flow);
        if (route is null)
        {
            Ip.Stat(IpStat.ips_noroute);
            Ip.Stat(IpStat.ips_cantforward);
            Icmp.Error(m, IcmpType.Unreach, IcmpCode.UnreachHost);
            return;
        }

        if (route.IsBlackhole)
        {
            IpInput.Drop(m, IpStat.ips_cantforward);
            return;
        }

        if (route.IsReject)
        {
            Ip.Stat(IpStat.ips_cantforward);
            Icmp.Error(m, IcmpType.Unreach, IcmpCode.UnreachHost);
            return;
        }

        // Decrement the TTL and patch the checksum (RFC 1624) instead of recomputing it.
        ushort oldWord = (ushort)((ip.Ttl << 8) | ip.Protocol);
        ip.Ttl -= IPTTLDEC;
        ushort newWord = (ushort)((ip.Ttl << 8) | ip.Protocol);
        ip.HeaderChecksum = Checksum.Update(ip.HeaderChecksum, oldWord, newWord);

        InAddr nextHop = route.NextHop(dst);
        InAddr source = ip.Source;
        bool redirect = route.Interface == arrival && Ip.SendRedirects && InAddrs.IsOnLink(arrival, source);
        if (redirect)
        {
            // ip_tryforward leaves this case to ip_forward: the sender has a better first hop on its own link.
            slowPath = true;
        }

        if (slowPath)
        {
            IpOptions.RecordRoute(m, InAddrs.SourceFor(route.Interface, nextHop));
        }

        int length = InOffload.WireLength(m); // a large segment is cut to its segments on the way out
        bool dontFragment = ip.DontFragment;
        bool fragmenting = length > route.EffectiveMtu; // nh_mtu: the route's MTU when it has one

        // ip_forward's mcopy: the head of the packet, for the redirect or the "need frag" error sent afterwards.
        Mbuf? quote = redirect || (fragmenting && dontFragment) ? Icmp.CopyForError(m) : null;
        int error = IpOutput.Transmit(m, route.Interface, nextHop, broadcast: false, route.RouteMtu);
        if (error == 0)
        {
            Ip.Stat(IpStat.ips_forward);
            if (!slowPath)
            {
                Ip.Stat(IpStat.ips_fastforward);
            }

            if (redirect && quote is not null)
            {
                // ip_forward counts and sends the redirect only once the packet itself went out.
                Ip.Stat(IpStat.ips_redirectsent);
                Icmp.Error(quote, IcmpType.Redirect, IcmpCode.RedirectHost, nextHop.Value);
            }
            else
            {
                quote?.Free();
            }

            return;
        }

        if (slowPath)
        {
            Ip.Stat(IpStat.ips_cantforward); // ip_forward
        }
        else if (!fragmenting)
        {
            // ip_tryforward: an if_output error is ips_odropped. Too big with DF is ips_cantfrag (IpOutput.Transmit
            // counts it) and a failed fragmentation is counted by ip_fragment.
            Ip.Stat(IpStat.ips_odropped);
        }

        if (error == Errno.EMSGSIZE && dontFragment && quote is not null)
        {
            Icmp.Error(quote, IcmpType.Unreach, IcmpCode.UnreachNeedFrag, (uint)route.EffectiveMtu);
        }
        else
        {
            quote?.Free();
        }
    }
}
