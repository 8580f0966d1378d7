using System.Buffers.Binary;
using Vimage.Net.Iflib;
using Vimage.Net.Inet;

namespace Vimage.Bench.Net;

/// <summary>Ethernet/IPv4/UDP frames like the tests' Frames.Udp: the flow picks the UDP source port.</summary>
internal static class BenchFrames
{
    public static byte[] Udp(ReadOnlySpan<byte> dst, ReadOnlySpan<byte> src, int flow, int size)
    {
        size = Math.Max(size, 14 + 20 + 8 + 12);
        byte[] f = new byte[size];
        dst.CopyTo(f);
        src.CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(size - 14));
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0xc0000201); // 192.0.2.1
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xc0000202); // 192.0.2.2

        // A valid header checksum, so both receivers' IP input gets past the header check to the routing decision.
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..20]));
        Span<byte> udp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)(10000 + flow));
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(size - 34));
        BinaryPrimitives.WriteInt32BigEndian(udp[8..], flow);
        return f;
    }

    /// <summary>
    /// <paramref name="count"/> frames per sender. With several senders, sender t gets only flows whose RSS bucket maps
    /// to queue t of a <paramref name="senders"/>-queue set (iflib's indirection table is bucket % queues, bucket =
    /// hash &amp; 63), so with that many queues each sender owns one TX ring and one peer RX ring.
    /// </summary>
    public static byte[][][] PerSender(ReadOnlySpan<byte> dst, ReadOnlySpan<byte> src, int senders, int count, int size)
    {
        var result = new byte[senders][][];
        var lists = Enumerable.Range(0, senders).Select(_ => new List<byte[]>()).ToArray();
        for (int flow = 0; lists.Any(l => l.Count < count); flow++)
        {
            byte[] frame = Udp(dst, src, flow, size);
            int owner = (int)(FlowHash.Compute(frame) & 63) % senders;
            if (lists[owner].Count < count)
            {
                lists[owner].Add(frame);
            }
        }

        for (int t = 0; t < senders; t++)
        {
            result[t] = lists[t].ToArray();
        }

        return result;
    }
}
