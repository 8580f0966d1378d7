using System.Buffers.Binary;

namespace Vimage.Net.Inet;

/// <summary>struct ip: field access over a span holding an IPv4 header (RFC 791), network byte order.</summary>
public readonly ref struct IpHeader(Span<byte> bytes)
{
    public const int MinLength = 20;
    public const int MaxPacket = 65535;
    public const ushort FlagDontFragment = 0x4000;
    public const ushort FlagMoreFragments = 0x2000;
    public const ushort OffsetMask = 0x1fff;

    public Span<byte> Bytes { get; } = bytes;

    public int Version => Bytes[0] >> 4;

    /// <summary>ip_hl * 4.</summary>
    public int HeaderLength => (Bytes[0] & 0x0f) * 4;

    public byte Tos => Bytes[1];

    /// <summary>ip_len.</summary>
    public int TotalLength
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[2..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[2..], (ushort)value);
    }

    public ushort Id
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[4..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[4..], value);
    }

    /// <summary>ip_off: flags and fragment offset (in 8-byte units).</summary>
    public ushort FragmentField
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[6..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[6..], value);
    }

    public bool DontFragment => (FragmentField & FlagDontFragment) != 0;

    public bool MoreFragments => (FragmentField & FlagMoreFragments) != 0;

    /// <summary>Fragment offset in bytes.</summary>
    public int FragmentOffset => (FragmentField & OffsetMask) * 8;

    public bool IsFragment => (FragmentField & (FlagMoreFragments | OffsetMask)) != 0;

    public byte Ttl
    {
        get => Bytes[8];
        set => Bytes[8] = value;
    }

    public byte Protocol => Bytes[9];

    public ushort HeaderChecksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(Bytes[10..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(Bytes[10..], value);
    }

    public InAddr Source
    {
        get => InAddr.Read(Bytes[12..]);
        set => value.Write(Bytes[12..]);
    }

    public InAddr Destination
    {
        get => InAddr.Read(Bytes[16..]);
        set => value.Write(Bytes[16..]);
    }

    /// <summary>Writes a 20-byte header without options and its checksum.</summary>
    public static void Write(Span<byte> header, int totalLength, ushort id, ushort fragmentField, byte ttl, byte protocol,
        InAddr source, InAddr destination, byte tos = 0)
    {
        header[0] = 0x45;
        header[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)totalLength);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(header[6..], fragmentField);
        header[8] = ttl;
        header[9] = protocol;
        header[10] = 0;
        header[11] = 0;
        source.Write(header[12..]);
        destination.Write(header[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], Checksum.Compute(header[..20]));
    }

    /// <summary>Recomputes the header checksum (after options or fields changed).</summary>
    public void UpdateChecksum()
    {
        HeaderChecksum = 0;
        HeaderChecksum = Checksum.Compute(Bytes[..HeaderLength]);
    }
}

/// <summary>IPPROTO_* numbers.</summary>
public static class IpProto
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
}
