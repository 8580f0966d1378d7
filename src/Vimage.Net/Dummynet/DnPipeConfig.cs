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
}
