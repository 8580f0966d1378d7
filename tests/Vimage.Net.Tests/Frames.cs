using System.Buffers.Binary;
using System.Collections.Concurrent;
using Vimage.Core;

namespace Vimage.Net.Tests;

/// <summary>Hand-built test frames and a receiver that records what arrives.</summary>
internal static class Frames
{
    public static readonly byte[] Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    /// <summary>An Ethernet/IPv4/UDP frame whose payload carries (flow, sequence); the flow picks the source port.</summary>
    public static byte[] Udp(byte[] dst, byte[] src, int flow, long sequence, int size = 64)
    {
        size = Math.Max(size, 14 + 20 + 8 + 12);
        byte[] f = new byte[size];
        dst.CopyTo(f, 0);
        src.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(size - 14));
        ip[8] = 64;
        ip[9] = 17;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0xc0000201); // 192.0.2.1
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0xc0000202); // 192.0.2.2
        Span<byte> udp = ip[20..];
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)(10000 + flow));
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 7);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(size - 34));
        BinaryPrimitives.WriteInt32BigEndian(udp[8..], flow);
        BinaryPrimitives.WriteInt64BigEndian(udp[12..], sequence);
        return f;
    }

    public static (int Flow, long Sequence) Decode(ReadOnlySpan<byte> frame)
        => (BinaryPrimitives.ReadInt32BigEndian(frame[42..]), BinaryPrimitives.ReadInt64BigEndian(frame[46..]));

    /// <summary>Sends a frame out of <paramref name="ifp"/> as the stack would (pooled buffer, if_transmit).</summary>
    public static bool Send(Ifnet ifp, ReadOnlySpan<byte> frame)
    {
        Mbuf? m = MbufPool.Clusters.Get();
        if (m is null)
        {
            return false;
        }

        m.SetData(frame);
        ifp.Transmit(m);
        return true;
    }

    public static bool WaitFor(Func<bool> condition, int timeoutMs = 10_000)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.ElapsedMilliseconds > timeoutMs)
            {
                return false;
            }

            Thread.Sleep(2);
        }

        return true;
    }
}

/// <summary>An if_input that records (flow, sequence) and the vnet it ran in, then frees the buffer.</summary>
internal sealed class Recorder
{
    private long _count;

    public ConcurrentQueue<(int Flow, long Sequence, Vnet? Vnet, int Length)> Received { get; } = new();

    public long Count => Interlocked.Read(ref _count);

    public void Attach(Ifnet ifp) => ifp.InputHandler = Handle;

    private void Handle(Ifnet ifp, Mbuf m)
    {
        (int flow, long sequence) = m.Length >= 54 ? Frames.Decode(m.Data) : (-1, -1);
        Received.Enqueue((flow, sequence, Curvnet.Current, m.Length));
        Interlocked.Increment(ref _count);
        m.Free();
    }
}
