using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Vimage.Net.Pfil;

namespace Vimage.Net.Inet;

/// <summary>
/// The software half of checksum and segmentation offload for IPv4 (in_delayed_cksum, and the segmentation a
/// NIC does for CSUM_TSO). ip_output asks an interface for what its if_hwassist has and does the rest here, so a
/// partial checksum or a large segment never leaves on a link that cannot carry it: TAP, an epair end with
/// -txcsum/-tso (or whose peer has -rxcsum/-lro), a link with a smaller MTU than the segment size. FreeBSD's
/// ip_output refuses a CSUM_TSO packet such an interface cannot take (EMSGSIZE); segmenting it instead is what
/// Linux's GSO does, and what makes a router jail between epairs and a TAP correct.
/// </summary>
public static class InOffload
{
    private const int TcpFlagsOffset = 13;
    private const byte TH_FIN = 0x01, TH_PUSH = 0x08, TH_CWR = 0x80;

    /// <summary>th_sum's offset in the TCP header (csum_data for CSUM_TCP).</summary>
    public const int TcpSumOffset = 16;

    /// <summary>uh_sum's offset in the UDP header (csum_data for CSUM_UDP).</summary>
    public const int UdpSumOffset = 6;

    /// <summary>
    /// in_pseudo as tcp_output stores it in th_sum with CSUM_TCP: the pseudo-header sum folded but not
    /// complemented (what tcpdump shows as an "incorrect" checksum on the sending interface, as on FreeBSD).
    /// </summary>
    public static void WritePseudo(Span<byte> sumField, InAddr src, InAddr dst, byte protocol, int length)
    {
        ulong sum = Checksum.PseudoHeader(src, dst, protocol, length);
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        MemoryMarshal.Write(sumField, (ushort)sum);
    }

    /// <summary>
    /// in_delayed_cksum: computes the transport checksum of the IP packet in <paramref name="m"/> at
    /// csum_data from the transport header (the field's partial sum is replaced, not trusted).
    /// </summary>
    public static void DelayedCksum(Mbuf m)
    {
        Span<byte> p = m.Data;
        if (p.Length < IpHeader.MinLength)
        {
            return;
        }

        var ip = new IpHeader(p);
        int hlen = ip.HeaderLength;
        int end = Math.Min(ip.TotalLength, p.Length);
        int at = hlen + m.CsumData;
        if (end - at < 2 || hlen < IpHeader.MinLength)
        {
            return;
        }

        Span<byte> l4 = p[hlen..end];
        l4[m.CsumData] = 0;
        l4[m.CsumData + 1] = 0;
        ushort sum = Checksum.Finish(Checksum.Sum(l4, Checksum.PseudoHeader(ip.Source, ip.Destination, ip.Protocol, l4.Length)));
        if (sum == 0 && ip.Protocol == IpProto.Udp)
        {
            sum = 0xffff; // RFC 768: a computed zero goes as all ones
        }

        BinaryPrimitives.WriteUInt16BigEndian(l4[m.CsumData..], sum);
    }

    /// <summary>The size of the largest packet <paramref name="m"/> puts on a wire: a CSUM_TSO packet's segments, else itself.</summary>
    public static int WireLength(Mbuf m)
    {
        if ((m.CsumFlags & CsumFlags.CSUM_TSO) == 0 || !TryHeaders(m.Data, out int hlen, out int thlen))
        {
            return m.Length;
        }

        return Math.Min(m.Length, hlen + thlen + m.TsoSegsz);
    }

    /// <summary>
    /// True when a CSUM_TSO packet must be cut here rather than handed to <paramref name="ifp"/>: the interface
    /// does not take CSUM_TSO, its segments would not fit the MTU (they then meet the usual MTU check one by
    /// one), or packet filters are attached (they, and dummynet, see packets as they are on the wire).
    /// </summary>
    public static bool MustSegment(Mbuf m, Ifnet ifp, int mtu, bool filtered)
        => filtered || (ifp.HwAssist & CsumFlags.CSUM_TSO) == 0 || WireLength(m) > mtu;

    /// <summary>
    /// The TSO engine in software: cuts the CSUM_TSO packet <paramref name="m"/> (consumed) into segments of at most
    /// tso_segsz payload bytes, each with its own IP header (ip_len, ip_id counting up, checksum) and TCP header
    /// (th_seq advanced; CWR only on the first, FIN and PSH only on the last). The transport checksum stays delayed
    /// (CSUM_TCP) for <see cref="IpOutput"/> or the interface to finish; receive flags are kept (a segment cut on
    /// input is as checked as the packet was). Returns the chain (linked by NextPacket), or null when buffers ran
    /// out (everything freed).
    /// </summary>
    public static Mbuf? Segment(Mbuf m)
    {
        ReadOnlySpan<byte> p = m.Data;
        int segsz = m.TsoSegsz;
        if (!TryHeaders(p, out int hlen, out int thlen) || segsz <= 0)
        {
            m.CsumFlags &= ~CsumFlags.CSUM_TSO;
            return m; // not TCP over IPv4 as tcp_output builds it: left whole (the MTU check decides)
        }

        int hdrs = hlen + thlen;
        int payload = Math.Min(new IpHeader(m.Data).TotalLength, p.Length) - hdrs;
        if (payload <= segsz)
        {
            m.CsumFlags &= ~CsumFlags.CSUM_TSO;
            return m;
        }

        uint seq = BinaryPrimitives.ReadUInt32BigEndian(p[(hlen + 4)..]);
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(p[4..]);
        byte thflags = p[hlen + TcpFlagsOffset];
        Mbuf? head = null, tail = null;
        for (int off = 0; off < payload; off += segsz)
        {
            int n = Math.Min(segsz, payload - off);
            Mbuf? s = MbufPool.GetFor(hdrs + n);
            if (s is null)
            {
                Mbuf.FreeChain(head);
                m.Free();
                return null;
            }

            Span<byte> d = s.Append(hdrs + n);
            p[..hdrs].CopyTo(d);
            p.Slice(hdrs + off, n).CopyTo(d[hdrs..]);
            var ip = new IpHeader(d);
            ip.TotalLength = hdrs + n;
            ip.Id = (ushort)(id + off / segsz);
            ip.UpdateChecksum();
            BinaryPrimitives.WriteUInt32BigEndian(d[(hlen + 4)..], seq + (uint)off);
            byte f = thflags;
            if (off > 0)
            {
                f &= unchecked((byte)~TH_CWR);
            }

            if (off + n < payload)
            {
                f &= unchecked((byte)~(TH_FIN | TH_PUSH));
            }

            d[hlen + TcpFlagsOffset] = f;
            WritePseudo(d[(hlen + TcpSumOffset)..], ip.Source, ip.Destination, IpProto.Tcp, thlen + n);
            s.CsumFlags = (m.CsumFlags & ~CsumFlags.CSUM_TSO) | CsumFlags.CSUM_TCP;
            s.CsumData = TcpSumOffset;
            s.Flags = m.Flags;
            s.ReceiveInterface = m.ReceiveInterface;
            s.FlowId = m.FlowId;
            s.HasFlowId = m.HasFlowId;
            if (tail is null)
            {
                head = s;
            }
            else
            {
                tail.NextPacket = s;
            }

            tail = s;
        }

        m.Free();
        return head;
    }

    /// <summary>ip_input's side: a CSUM_TSO packet that filters will see is cut first (null: nothing to cut).</summary>
    internal static bool SegmentOnInput(Mbuf m)
        => (m.CsumFlags & CsumFlags.CSUM_TSO) != 0 && PfilHeads.InetIn is not null;

    private static bool TryHeaders(ReadOnlySpan<byte> p, out int hlen, out int thlen)
    {
        hlen = 0;
        thlen = 0;
        if (p.Length < IpHeader.MinLength || p[9] != IpProto.Tcp)
        {
            return false;
        }

        hlen = (p[0] & 0x0f) * 4;
        if (hlen < IpHeader.MinLength || p.Length < hlen + 20)
        {
            return false;
        }

        thlen = (p[hlen + 12] >> 4) * 4;
        return thlen >= 20 && p.Length >= hlen + thlen;
    }
}
