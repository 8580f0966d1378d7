using System.Globalization;

namespace Vimage.Net.Iflib;

/// <summary>
/// The consumer state of an <see cref="MpRing{T}"/> (mp_ring.c's anonymous enum; the numeric values are the
/// kernel's, and index iflib's <c>ring_states[]</c> names).
/// </summary>
public enum MpRingFlags : ushort
{
    /// <summary>IDLE: the consumer ran to completion; nothing more to do.</summary>
    Idle = 0,

    /// <summary>BUSY: a consumer is running already, or will be shortly.</summary>
    Busy = 1,

    /// <summary>STALLED: the consumer stopped because the drain callback found no resources (returned 0).</summary>
    Stalled = 2,

    /// <summary>ABDICATED: the consumer stopped with work left so that another thread takes over.</summary>
    Abdicated = 3,
}

/// <summary>
/// A snapshot of mp_ring's <c>union ring_state</c>: four 16-bit fields packed into one 64-bit word, in the order of
/// the C union on a little-endian machine (pidx_head in bits 0-15, pidx_tail 16-31, cidx 32-47, flags 48-63).
/// </summary>
/// <param name="PidxHead">Producers reserve slots up to (not including) this index.</param>
/// <param name="PidxTail">Producers have published items up to (not including) this index.</param>
/// <param name="Cidx">The consumer has consumed items up to (not including) this index (as last published).</param>
/// <param name="Flags">IDLE, BUSY, STALLED or ABDICATED.</param>
public readonly record struct RingState(int PidxHead, int PidxTail, int Cidx, MpRingFlags Flags)
{
    private static readonly string[] Names = ["IDLE", "BUSY", "STALLED", "ABDICATED"];

    /// <summary>The packed 64-bit word, as <c>ring_state.state</c>.</summary>
    public ulong Raw => (ushort)PidxHead | ((ulong)(ushort)PidxTail << 16) | ((ulong)(ushort)Cidx << 32) | ((ulong)Flags << 48);

    /// <summary>Unpacks a <c>ring_state.state</c> word.</summary>
    public static RingState FromRaw(ulong raw)
        => new((ushort)raw, (ushort)(raw >> 16), (ushort)(raw >> 32), (MpRingFlags)(ushort)(raw >> 48));

    /// <summary>
    /// iflib's <c>ring_state</c> sysctl text:
    /// <c>"pidx_head: %04hd pidx_tail: %04hd cidx: %04hd state: %s"</c>. <c>%04hd</c> prints the 16-bit index as a
    /// signed short, zero-padded to a width of four including the sign, so (as in the kernel) an index of 32768 or
    /// more prints negative; iflib's rings (2048 slots by default) never get there.
    /// </summary>
    public override string ToString()
    {
        string state = (ushort)Flags < Names.Length ? Names[(ushort)Flags] : ((ushort)Flags).ToString(CultureInfo.InvariantCulture);
        return $"pidx_head: {Hd04(PidxHead)} pidx_tail: {Hd04(PidxTail)} cidx: {Hd04(Cidx)} state: {state}";
    }

    /// <summary>printf's <c>%04hd</c>.</summary>
    private static string Hd04(int value)
    {
        short s = unchecked((short)value);
        return s >= 0
            ? s.ToString("D4", CultureInfo.InvariantCulture)
            : "-" + (-(int)s).ToString("D3", CultureInfo.InvariantCulture);
    }
}
