using System.Runtime.InteropServices;

namespace Vimage.Net.Iflib;

/// <summary>Constants shared by every <see cref="MpRing{T}"/> (sys/net/mp_ring.h, sys/errno.h).</summary>
public static class MpRing
{
    /// <summary>ENOBUFS, what <see cref="MpRing{T}.Enqueue(ReadOnlySpan{T}, int, bool)"/> returns when the ring is full.</summary>
    public const int ENOBUFS = 55;

    /// <summary>The smallest ring ifmp_ring_alloc accepts.</summary>
    public const int MinSize = 2;

    /// <summary>The largest ring: every index is 16 bits wide.</summary>
    public const int MaxSize = 65536;

    /// <summary>
    /// The consumer publishes its cidx at least this often (mp_ring.c's <c>pending &lt; 64</c>), so producers see
    /// space come back while a long drain is still running.
    /// </summary>
    public const int CidxPublishInterval = 64;
}

/// <summary>
/// mp_ring's state word, padded so it sits alone on its cache line (every producer CASes it). Not nested in
/// <see cref="MpRing{T}"/>: a struct nested in a generic type is generic, and generic types cannot have explicit layout.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct MpRingPaddedWord
{
    [FieldOffset(64)]
    public ulong Value;
}
