using System.Buffers.Binary;
using Vimage.Net.Inet;

namespace Vimage.Net.Tcp;

#pragma warning disable CA1707 // FreeBSD's flag names (netinet/tcp.h).

/// <summary>th_flags (netinet/tcp.h).</summary>
[Flags]
public enum TcpFlags : byte
{
    None = 0,
    TH_FIN = 0x01,
    TH_SYN = 0x02,
    TH_RST = 0x04,
    TH_PUSH = 0x08,
    TH_ACK = 0x10,
    TH_URG = 0x20,
    TH_ECE = 0x40,
    TH_CWR = 0x80,
}

#pragma warning restore CA1707

/// <summary>
/// struct tcphdr (netinet/tcp.h) read from or written to the wire: ports, sequence and acknowledgment numbers, data
/// offset (th_off, in 32-bit words), flags, window, checksum and urgent pointer; options follow up to th_off.
/// </summary>
public readonly record struct TcpHeader(
    ushort SourcePort,
    ushort DestinationPort,
    uint Seq,
    uint Ack,
    int DataOffset,
    TcpFlags Flags,
    ushort Window,
    ushort UrgentPointer)
{
    /// <summary>sizeof(struct tcphdr).</summary>
    public const int MinLength = 20;

    /// <summary>TCP_MAXOLEN: the most option bytes th_off can describe.</summary>
    public const int MaxOptionLength = 40;

    /// <summary>Reads the fixed header (the caller checked the length); th_off is returned in bytes.</summary>
    public static TcpHeader Read(ReadOnlySpan<byte> th) => new(
        BinaryPrimitives.ReadUInt16BigEndian(th),
        BinaryPrimitives.ReadUInt16BigEndian(th[2..]),
        BinaryPrimitives.ReadUInt32BigEndian(th[4..]),
        BinaryPrimitives.ReadUInt32BigEndian(th[8..]),
        (th[12] >> 4) * 4,
        (TcpFlags)th[13],
        BinaryPrimitives.ReadUInt16BigEndian(th[14..]),
        BinaryPrimitives.ReadUInt16BigEndian(th[18..]));

    /// <summary>Writes the fixed header with a zero checksum; <see cref="DataOffset"/> is in bytes (a multiple of 4).</summary>
    public void Write(Span<byte> th)
    {
        BinaryPrimitives.WriteUInt16BigEndian(th, SourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(th[2..], DestinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(th[4..], Seq);
        BinaryPrimitives.WriteUInt32BigEndian(th[8..], Ack);
        th[12] = (byte)((DataOffset / 4) << 4);
        th[13] = (byte)Flags;
        BinaryPrimitives.WriteUInt16BigEndian(th[14..], Window);
        th[16] = 0;
        th[17] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(th[18..], UrgentPointer);
    }

    /// <summary>Fills th_sum of <paramref name="segment"/> (header, options and data) over the IPv4 pseudo-header.</summary>
    public static void SetChecksum(Span<byte> segment, InAddr src, InAddr dst)
    {
        segment[16] = 0;
        segment[17] = 0;
        ushort sum = Checksum.Finish(Checksum.Sum(segment, Checksum.PseudoHeader(src, dst, IpProto.Tcp, segment.Length)));
        BinaryPrimitives.WriteUInt16BigEndian(segment[16..], sum);
    }

    /// <summary>True when <paramref name="segment"/>'s checksum (pseudo-header included) verifies, as tcp_input checks it.</summary>
    public static bool ChecksumValid(ReadOnlySpan<byte> segment, InAddr src, InAddr dst)
        => Checksum.Finish(Checksum.Sum(segment, Checksum.PseudoHeader(src, dst, IpProto.Tcp, segment.Length))) == 0;
}
