using System.Buffers.Binary;

namespace Vimage.Net.Ipfw;

/// <summary>
/// What ipfw_chk pulls out of a packet once (struct ip_fw_args + its locals): protocol, addresses, ports when the
/// protocol carries them at the start of its header (udp, tcp, sctp; not in a non-first fragment), ICMP type, TCP
/// flags (read from the raw header: ipfw sits below Tcp), fragment fields for the log.
/// </summary>
public readonly struct IpFwPacket
{
    public byte Protocol { get; init; }

    public uint Source { get; init; }

    public uint Destination { get; init; }

    public bool HasPorts { get; init; }

    public int SourcePort { get; init; }

    public int DestinationPort { get; init; }

    /// <summary>ICMP type and code, -1 when not ICMP or not available.</summary>
    public int IcmpType { get; init; }

    public int IcmpCode { get; init; }

    public int Length { get; init; }

    /// <summary>Fragment offset in 8-byte units (ipfw_chk's offset), 0 for a first or whole packet.</summary>
    public int Offset { get; init; }

    public bool MoreFragments { get; init; }

    public ushort Id { get; init; }

    public int HeaderLength { get; init; }

    /// <summary>TCP flags (th_flags, low 8 bits) of a first fragment carrying at least 14 bytes of TCP header, else 0.</summary>
    public byte TcpFlags { get; init; }

    /// <summary>A first fragment of TCP carrying the whole fixed header (20 bytes): the TCP options can be tested.</summary>
    public bool HasTcpHeader { get; init; }

    public byte Ttl { get; init; }

    public byte Tos { get; init; }

    /// <summary>is_icmp_query: echo, router solicitation/advertisement, timestamp, info, address mask requests/replies.</summary>
    public bool IsIcmpQuery => IcmpType is 0 or 8 or 9 or 10 or 13 or 14 or 15 or 16 or 17 or 18;

    /// <summary>Protocols whose header starts with 16-bit source and destination ports.</summary>
    public static bool CarriesPorts(byte protocol) => protocol is 6 or 17 or 132 or 136; // tcp, udp, sctp, udplite

    public static bool TryParse(ReadOnlySpan<byte> ip, out IpFwPacket pkt)
    {
        pkt = default;
        if (ip.Length < 20)
        {
            return false;
        }

        int hlen = (ip[0] & 0x0f) * 4;
        if (hlen < 20 || hlen > ip.Length)
        {
            return false;
        }

        byte proto = ip[9];
        int offset = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1fff;
        ReadOnlySpan<byte> l4 = ip[hlen..];
        bool ports = offset == 0 && CarriesPorts(proto) && l4.Length >= 4;
        bool icmp = offset == 0 && proto == 1 && l4.Length >= 2;
        pkt = new IpFwPacket
        {
            Protocol = proto,
            Source = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]),
            Destination = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]),
            HasPorts = ports,
            SourcePort = ports ? BinaryPrimitives.ReadUInt16BigEndian(l4) : 0,
            DestinationPort = ports ? BinaryPrimitives.ReadUInt16BigEndian(l4[2..]) : 0,
            IcmpType = icmp ? l4[0] : -1,
            IcmpCode = icmp ? l4[1] : -1,
            Length = Math.Min(ip.Length, BinaryPrimitives.ReadUInt16BigEndian(ip[2..])),
            Offset = offset,
            MoreFragments = (ip[6] & 0x20) != 0,
            Id = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]),
            HeaderLength = hlen,
            TcpFlags = offset == 0 && proto == 6 && l4.Length >= 14 ? l4[13] : (byte)0,
            HasTcpHeader = offset == 0 && proto == 6 && l4.Length >= 20,
            Ttl = ip[8],
            Tos = ip[1],
        };
        return true;
    }
}
