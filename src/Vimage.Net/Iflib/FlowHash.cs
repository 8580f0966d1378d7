using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Vimage.Net.Iflib;

/// <summary>
/// A software flow hash over an Ethernet frame's IPv4 addresses and TCP/UDP ports (what FreeBSD's epair does
/// with rss_soft_m2cpuid when the stack gave no flowid): one flow always maps to one queue, so per-flow order
/// is kept while different flows spread over queues. Frames that are not IPv4 hash by their MAC addresses.
/// </summary>
public static class FlowHash
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Compute(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14)
        {
            return 0;
        }

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (etherType != 0x0800 || frame.Length < 34)
        {
            return Mix(BinaryPrimitives.ReadUInt32LittleEndian(frame), BinaryPrimitives.ReadUInt32LittleEndian(frame[6..]), etherType);
        }

        ReadOnlySpan<byte> ip = frame[14..];
        int headerLength = (ip[0] & 0x0f) * 4;
        uint src = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        uint dst = BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        uint ports = 0;
        byte protocol = ip[9];
        bool firstFragment = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1fff) == 0;
        if ((protocol == 6 || protocol == 17) && firstFragment && headerLength >= 20 && ip.Length >= headerLength + 4)
        {
            ports = BinaryPrimitives.ReadUInt32BigEndian(ip[headerLength..]);
        }

        return Mix(src, dst, ports ^ protocol);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Mix(uint a, uint b, uint c)
    {
        // Bob Jenkins' final mix (lookup3): cheap and spreads every input bit.
        c ^= b; c -= uint.RotateLeft(b, 14);
        a ^= c; a -= uint.RotateLeft(c, 11);
        b ^= a; b -= uint.RotateLeft(a, 25);
        c ^= b; c -= uint.RotateLeft(b, 16);
        a ^= c; a -= uint.RotateLeft(c, 4);
        b ^= a; b -= uint.RotateLeft(a, 14);
        c ^= b; c -= uint.RotateLeft(b, 24);
        return c;
    }
}
