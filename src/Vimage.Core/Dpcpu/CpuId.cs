using System.Runtime.CompilerServices;

namespace Vimage.Core;

/// <summary>
/// The CPU a thread runs on, mapped into [0, <see cref="Count"/>). <see cref="Thread.GetCurrentProcessorId"/> is
/// a hint: the thread may migrate right after reading it. Per-CPU data is therefore only ever updated with atomic
/// operations on the slot that was chosen (see <see cref="Counter64"/>), which keeps totals exact whichever slot
/// an update lands in.
/// </summary>
public static class CpuId
{
    /// <summary>Number of per-CPU copies (MAXCPU for this process): the logical processor count.</summary>
    public static readonly int Count = Math.Max(1, Environment.ProcessorCount);

    /// <summary>The current CPU's index, always within range even when the OS numbers CPUs sparsely.</summary>
    public static int Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            uint id = (uint)Thread.GetCurrentProcessorId();
            uint count = (uint)Count;
            return (int)(id < count ? id : id % count);
        }
    }
}
