using System.Buffers.Binary;
using Vimage.Net.Route;

namespace Vimage.Net.Inet;

/// <summary>ICMP (netinet/ip_icmp.c): echo, errors with their suppression rules, redirects, the rate limit.</summary>
public static partial class Icmp
{
    public const int HeaderLength = 8;

    /// <summary>ICMP_TSLEN: header, id and sequence, three timestamps.</summary>
    public const int TimestampLength = 20;

    /// <summary>ICMP_MASKLEN: header, id and sequence, the mask.</summary>
    public const int MaskLength = 12;

    /// <summary>icmp_input: the datagram's data starts at its IP header.</summary>
    internal static void Input(Mbuf m, int hlen)
    {
        Span<byte> packet = m.Data;
        int icmpLength = packet.Length - hlen;
        if (icmpLength < HeaderLength)
        {
            Drop(m, IcmpStat.icps_tooshort);
            return;
        }

        Span<byte> icmp = packet[hlen..];
        if (!Checksum.IsValid(icmp))
        {
            Drop(m, IcmpStat.icps_checksum);
            return;
        }

        byte type = icmp[0];
        Stat(InHist(type));
        switch (type)
        {
            case IcmpType.Echo:
                if ((m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0 && V_icmpbmcastecho == 0)
                {
                    Drop(m, IcmpStat.icps_bmcastecho);
                    return;
                }

                if (!RateAllows(BandLim.IcmpEcho))
                {
                    m.Free(); // icmp_input: over icmplim, the request is freed unanswered (counted in Limited)
                    return;
                }

                icmp[0] = IcmpType.EchoReply;
                Reflect(m, hlen);
                return;
            case IcmpType.Timestamp when V_icmptstamprepl != 0:
                AnswerTimestamp(m, hlen, icmpLength);
                return;
            case IcmpType.MaskRequest when V_icmpmaskrepl != 0 && icmpLength >= MaskLength:
                AnswerMask(m, hlen);
                return;
            case IcmpType.Redirect:
                if (!Redirect(m, hlen))
                {
                    m.Free();
                    return;
                }

                IcmpListeners.Deliver(m, hlen);
                return;
            default:
                IcmpListeners.Deliver(m, hlen); // rip_input: ping, transport control input, raw ICMP sockets
                return;
        }
    }

    /// <summary>icmp_input's ICMP_TSTAMP: receive and transmit times (ms since midnight UTC), then reflected.</summary>
    private static void AnswerTimestamp(Mbuf m, int hlen, int icmpLength)
    {
        if ((m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0 && V_icmpbmcastecho == 0)
        {
            Drop(m, IcmpStat.icps_bmcasttstamp);
            return;
        }

        if (icmpLength < TimestampLength)
        {
            Drop(m, IcmpStat.icps_badlen);
            return;
        }

        if (!RateAllows(BandLim.IcmpTstamp))
        {
            m.Free();
            return;
        }

        Span<byte> icmp = m.Data[hlen..];
        icmp[0] = IcmpType.TimestampReply;
        uint now = IpOptions.IpTime();
        BinaryPrimitives.WriteUInt32BigEndian(icmp[12..], now); // icmp_rtime
        BinaryPrimitives.WriteUInt32BigEndian(icmp[16..], now); // icmp_ttime: "bogus, do later!" as in FreeBSD
        Reflect(m, hlen);
    }

    /// <summary>
    /// icmp_input's ICMP_MASKREQ (net.inet.icmp.maskrepl): the mask of the receiving interface's address for the
    /// destination (or for the source, when sent to 0 or 255.255.255.255), or net.inet.icmp.maskfake.
    /// </summary>
    private static void AnswerMask(Mbuf m, int hlen)
    {
        var ip = new IpHeader(m.Data);
        InAddr about = ip.Destination.IsAny || ip.Destination.IsBroadcast ? ip.Source : ip.Destination;
        InIfaddr? ia = m.ReceiveInterface is Ifnet rcvif ? InAddrs.ForPeer(rcvif, about) : null;
        if (ia is null)
        {
            IcmpListeners.Deliver(m, hlen);
            return;
        }

        Span<byte> icmp = m.Data[hlen..];
        icmp[0] = IcmpType.MaskReply;
        uint mask = V_icmpmaskfake != 0 ? (uint)V_icmpmaskfake : InAddr.MaskOf(ia.PrefixLength);
        BinaryPrimitives.WriteUInt32BigEndian(icmp[8..], mask);
        Reflect(m, hlen);
    }

    /// <summary>
    /// icmp_error: answers <paramref name="m"/> (data at its IP header) with an error quoting it, unless rules
    /// forbid (an error about an error, a non-first fragment, broadcast or multicast, an unusable source) or the
    /// rate limit is exceeded. Consumes <paramref name="m"/>.
    /// </summary>
    public static void Error(Mbuf m, byte type, byte code, uint extra = 0)
    {
        Stat(IcmpStat.icps_error);
        var ip = new IpHeader(m.Data);
        int hlen = ip.HeaderLength;
        if (ip.FragmentOffset != 0)
        {
            m.Free();
            return;
        }

        if (ip.Protocol == IpProto.Icmp && type != IcmpType.Redirect)
        {
            if (m.Length < hlen + 1)
            {
                Drop(m, IcmpStat.icps_oldshort);
                return;
            }

            if (IcmpType.IsError(m.Data[hlen]))
            {
                Drop(m, IcmpStat.icps_oldicmp);
                return;
            }
        }

        InAddr src = ip.Source;
        if ((m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0 || src.IsAny || src.IsBroadcast || src.IsMulticast
            || InAddrs.IsBroadcast(src) || ip.Destination.IsMulticast || InAddrs.IsBroadcast(ip.Destination) && type != IcmpType.Redirect)
        {
            m.Free();
            return;
        }

        if (!RateAllows(BandLim.IcmpUnreach))
        {
            m.Free();
            return;
        }

        int quote = Math.Min(m.Length, hlen + V_icmp_quotelen);
        Mbuf? reply = MbufPool.Clusters.Get();
        if (reply is null)
        {
            m.Free();
            return;
        }

        Span<byte> body = reply.Append(HeaderLength + quote);
        body[0] = type;
        body[1] = code;
        body[2] = 0;
        body[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(body[4..], extra);
        m.Data[..quote].CopyTo(body[HeaderLength..]);
        BinaryPrimitives.WriteUInt16BigEndian(body[2..], Checksum.Compute(body));
        Stat(OutHist(type));

        InAddr from = ReplySource(ip.Destination, m);
        int fib = Fibs.GetFib(m); // icmp_error: the error goes out in the offending packet's fib
        m.Free();
        int error = IpOutput.Send(reply, from, src, IpProto.Icmp, new IpOutputOptions { Fib = fib });
        if (error == Errno.ENETUNREACH)
        {
            Stat(IcmpStat.icps_noroute);
        }
    }

    /// <summary>A copy of the packet's head (header + quote) for an error sent after the original is gone.</summary>
    internal static Mbuf? CopyForError(Mbuf m)
    {
        Mbuf? copy = MbufPool.Clusters.Get();
        if (copy is null)
        {
            return null;
        }

        int length = Math.Min(m.Length, copy.TrailingSpace - 64);
        m.Data[..length].CopyTo(copy.Append(length));
        copy.ReceiveInterface = m.ReceiveInterface;
        copy.Fib = m.Fib;
        copy.Flags = m.Flags;
        return copy;
    }

    /// <summary>
    /// icmp_reflect: sends the (already rewritten) message back to its source from our address, with the request's
    /// Record Route, Timestamp and Security options (icmp_send hands them to ip_output, which inserts them).
    /// </summary>
    private static void Reflect(Mbuf m, int hlen)
    {
        var ip = new IpHeader(m.Data);
        InAddr dst = ip.Source;
        InAddr src = ReplySource(ip.Destination, m);
        if (dst.IsAny || dst.IsMulticast || InAddrs.IsBroadcast(dst))
        {
            Drop(m, IcmpStat.icps_badaddr);
            return;
        }

        Span<byte> icmp = m.Data[hlen..];
        icmp[2] = 0;
        icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
        Stat(IcmpStat.icps_reflect);
        Stat(OutHist(icmp[0]));
        byte tos = ip.Tos;
        Span<byte> options = stackalloc byte[IpOptions.MaxLength];
        int optlen = hlen > IpHeader.MinLength ? IpOptions.CopyReflected(m.Data[IpHeader.MinLength..hlen], options) : 0;
        m.Adjust(hlen); // ip_stripoptions, then the reply's own header from ip_output
        m.Flags &= ~(MbufFlags.Broadcast | MbufFlags.Multicast);
        int error = IpOutput.Send(m, src, dst, IpProto.Icmp, new IpOutputOptions(Tos: tos) { Fib = Fibs.GetFib(m) }, options[..optlen]);
        if (error == Errno.ENETUNREACH)
        {
            Stat(IcmpStat.icps_noroute);
        }
    }

    /// <summary>
    /// icmp_reflect's choice of source: the address the packet was sent to when that is ours (and not a broadcast),
    /// otherwise (net.inet.icmp.reply_from_interface) or for a broadcast an address of the interface it arrived on,
    /// otherwise the one ip_output picks on the way back.
    /// </summary>
    private static InAddr ReplySource(InAddr destination, Mbuf m)
    {
        if (InAddrs.IsAddress(destination))
        {
            return destination;
        }

        if (m.ReceiveInterface is Ifnet rcvif && (V_icmp_rfi != 0 || InAddrs.IsLocal(destination, rcvif)))
        {
            InAddr first = InAddrs.First(rcvif);
            if (!first.IsAny)
            {
                return first;
            }
        }

        return InAddr.Any;
    }

    private static void Drop(Mbuf m, IcmpStat reason)
    {
        Stat(reason);
        m.Free();
    }
    /// <summary>
    /// icmp_errmap: the errno an ICMP error means to the socket whose datagram it quotes, or 0 for one that says
    /// nothing to it (unknown codes, reassembly timeouts, redirects).
    /// </summary>
    public static int ErrMap(byte type, byte code) => type switch
    {
        IcmpType.Unreach => code switch
        {
            IcmpCode.UnreachNet or IcmpCode.UnreachHost or IcmpCode.UnreachSourceRouteFailed or IcmpCode.UnreachNetUnknown
                or IcmpCode.UnreachHostUnknown or IcmpCode.UnreachIsolated or IcmpCode.UnreachTosNet or IcmpCode.UnreachTosHost
                or IcmpCode.UnreachHostPrecedence or IcmpCode.UnreachPrecedenceCutoff => Errno.EHOSTUNREACH,
            IcmpCode.UnreachNeedFrag => Errno.EMSGSIZE,
            IcmpCode.UnreachProtocol or IcmpCode.UnreachPort or IcmpCode.UnreachNetProhibited
                or IcmpCode.UnreachHostProhibited or IcmpCode.UnreachFilterProhibited => Errno.ECONNREFUSED,
            _ => 0,
        },
        IcmpType.TimeExceeded => code == IcmpCode.TimeExceededInTransit ? Errno.EHOSTUNREACH : 0,
        IcmpType.ParameterProblem => code is IcmpCode.ParameterProblemAtPointer or IcmpCode.ParameterProblemOptionAbsent ? Errno.ENOPROTOOPT : 0,
        _ => 0,
    };
}
