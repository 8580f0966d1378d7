using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Vimage.Net.Inet;

/// <summary>The Internet checksum (RFC 1071), with the pseudo-header sums UDP and TCP need and RFC 1624 updates.</summary>
public static class Checksum
{
    /// <summary>One's-complement sum of <paramref name="data"/> added to <paramref name="initial"/> (not folded).</summary>
    public static ulong Sum(ReadOnlySpan<byte> data, ulong initial = 0)
    {
        ulong sum = initial;
        while (data.Length >= 8)
        {
            ulong word = MemoryMarshal.Read<ulong>(data);
            sum += word >> 32;
            sum += word & 0xffffffff;
            data = data[8..];
        }

        while (data.Length >= 2)
        {
            sum += MemoryMarshal.Read<ushort>(data);
            data = data[2..];
        }

        if (data.Length == 1)
        {
            sum += BitConverter.IsLittleEndian ? data[0] : (ulong)data[0] << 8;
        }

        return sum;
    }

    /// <summary>Folds a sum and complements it: the value to store in a header (network order).</summary>
    public static ushort Finish(ulong sum)
    {
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        ushort folded = (ushort)~sum;
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(folded) : folded;
    }

    /// <summary>in_cksum over a whole buffer.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => Finish(Sum(data));

    /// <summary>True when the buffer, checksum field included, sums to all ones.</summary>
    public static bool IsValid(ReadOnlySpan<byte> data) => Compute(data) == 0;

    /// <summary>The pseudo-header sum for UDP/TCP over IPv4 (in_pseudo).</summary>
    public static ulong PseudoHeader(InAddr src, InAddr dst, byte protocol, int length)
    {
        Span<byte> pseudo = stackalloc byte[12];
        src.Write(pseudo);
        dst.Write(pseudo[4..]);
        pseudo[8] = 0;
        pseudo[9] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(pseudo[10..], (ushort)length);
        return Sum(pseudo);
    }

    /// <summary>RFC 1624: the new checksum after one 16-bit header word changed from <paramref name="old"/> to <paramref name="updated"/>.</summary>
    public static ushort Update(ushort checksum, ushort old, ushort updated)
    {
        uint sum = (ushort)~checksum + (uint)(ushort)~old + updated;
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
