using System.Runtime.InteropServices;

namespace Vimage.Bench.Net;

/// <summary>What one measured window produced.</summary>
internal sealed record RunResult(
    long Delivered,
    long Offered,
    long Drops,
    double Seconds,
    long AllocatedBytes,
    long AllocatedBytesExcludingReconfig,
    string Details)
{
    public double Fps => Delivered / Seconds;

    public double AllocPerFrame => Delivered == 0 ? double.NaN : (double)AllocatedBytes / Delivered;

    public double AllocPerFrameExcludingReconfig
        => Delivered == 0 ? double.NaN : (double)AllocatedBytesExcludingReconfig / Delivered;
}

/// <summary>A long alone on its cache line (per-CPU or per-thread counters).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedLong
{
    [FieldOffset(64)]
    public long Value;
}
