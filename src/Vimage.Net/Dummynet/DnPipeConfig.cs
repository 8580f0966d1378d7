namespace Vimage.Net.Dummynet;

/// <summary>Jitter distributions (netem's uniform and normal).</summary>
public enum DnJitter
{
    Uniform,
    Normal,
}

/// <summary>
/// A pipe's settings (ipfw pipe N config ...; struct dn_link + dn_fs of its queue): bandwidth in bit/s (0 =
/// unlimited), delay in microseconds, plr, queue size in slots or bytes, and the netem extras.
/// </summary>
public sealed record DnPipeConfig
{
    public long Bandwidth { get; init; }

    public long DelayUs { get; init; }

    /// <summary>Packet loss rate in [0, 1].</summary>
    public double Plr { get; init; }

    /// <summary>Queue size in slots (when <see cref="QueueBytes"/> is 0).</summary>
    public int QueueSlots { get; init; } = 50;

    /// <summary>Queue size in bytes, 0 for slots.</summary>
    public int QueueBytes { get; init; }

    public long JitterUs { get; init; }

    public DnJitter JitterDistribution { get; init; }

    /// <summary>Gilbert-Elliott: P(good→bad), P(bad→good), loss in bad, loss in good; all 0 = off.</summary>
    public double GeP { get; init; }

    public double GeR { get; init; }

    public double GeLossBad { get; init; } = 1;

    public double GeLossGood { get; init; }

    public double Dup { get; init; }

    /// <summary>netem reorder: this fraction of packets skips the delay line.</summary>
    public double Reorder { get; init; }

    public double Corrupt { get; init; }

    /// <summary>The random stream's seed; null draws one.</summary>
    public ulong? Seed { get; init; }

    public bool HasGilbert => GeP > 0 || GeR > 0;

    /// <summary>mask ...: per-flow instances (null: one instance).</summary>
    public DnFlowMask? Mask { get; init; }

    /// <summary>buckets N: the flow hash size (0: net.inet.ip.dummynet.hash_size).</summary>
    public int Buckets { get; init; }
}

/// <summary>
/// A flow mask (struct ipfw_flow_id as dummynet uses it): the packet's fields ANDed with it name the flow, and each
/// flow of a masked pipe or queue gets its own instance (a link of its own, or a queue of its own in the
/// scheduler).
/// </summary>
public sealed record DnFlowMask(uint SrcIp, uint DstIp, ushort SrcPort, ushort DstPort, byte Proto)
{
    public bool IsEmpty => SrcIp == 0 && DstIp == 0 && SrcPort == 0 && DstPort == 0 && Proto == 0;
}

/// <summary>A masked flow id, read from the raw IPv4 header (dummynet sits below Inet).</summary>
public readonly record struct DnFlowKey(uint SrcIp, uint DstIp, ushort SrcPort, ushort DstPort, byte Proto)
{
    public static DnFlowKey Of(ReadOnlySpan<byte> ip, DnFlowMask mask)
    {
        if (ip.Length < 20)
        {
            return default;
        }

        int hlen = (ip[0] & 0x0f) * 4;
        byte proto = ip[9];
        uint src = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        uint dst = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);
        bool first = (System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x1fff) == 0;
        ushort sport = 0, dport = 0;
        if (first && proto is 6 or 17 or 132 or 136 && hlen >= 20 && ip.Length >= hlen + 4)
        {
            sport = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(ip[hlen..]);
            dport = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(ip[(hlen + 2)..]);
        }

        return new DnFlowKey(src & mask.SrcIp, dst & mask.DstIp, (ushort)(sport & mask.SrcPort), (ushort)(dport & mask.DstPort), (byte)(proto & mask.Proto));
    }
}
