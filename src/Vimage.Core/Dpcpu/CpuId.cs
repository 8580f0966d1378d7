using System.Runtime.CompilerServices;

namespace Vimage.Core;

/// <summary>
/// The CPU a thread runs on (curcpu / PCPU_GET(cpuid)), mapped into [0, <see cref="Count"/>). On Linux x64 with
/// glibc ≥ 2.35 it is one load from the thread's rseq area, which the kernel rewrites whenever the thread migrates
/// (<see cref="Rseq"/>); elsewhere a per-thread cached id refreshed every <see cref="RefreshEvery"/> reads, as the
/// runtime's own processor-id cache does. Either way it is a hint: the thread may migrate right after reading it.
/// Per-CPU data is therefore only ever updated with atomic operations on the slot that was chosen (see
/// <see cref="Counter64"/>), which keeps totals exact whichever slot an update lands in.
/// </summary>
public static unsafe class CpuId
{
    /// <summary>Reads between two refreshes of the cached id (the fallback without rseq).</summary>
    public const int RefreshEvery = 64;

    /// <summary>Number of per-CPU copies (MAXCPU for this process): the logical processor count.</summary>
    public static readonly int Count = Math.Max(1, Environment.ProcessorCount);

    // This thread's rseq cpu_id (kernel-maintained), or null: not looked up yet, or no rseq (cached id instead).
    [ThreadStatic]
    private static int* t_rseqCpu;

    [ThreadStatic]
    private static bool t_probed;

    [ThreadStatic]
    private static int t_cached;

    [ThreadStatic]
    private static int t_countdown;

    /// <summary>The current CPU's index, always within range even when the OS numbers CPUs sparsely.</summary>
    public static int Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            // Volatile: the kernel rewrites it on migration, so a loop must not hoist the load (a plain mov on x64).
            int* cpu = t_rseqCpu;
            return cpu != null ? Map((uint)Volatile.Read(ref *cpu)) : Slow();
        }
    }

    /// <summary>Where <see cref="Current"/> comes from on the calling thread: "rseq" or "cached".</summary>
    public static string Source
    {
        get
        {
            _ = Current;
            return t_rseqCpu != null ? "rseq" : "cached";
        }
    }

    /// <summary>The fallback alone (a cached id refreshed every <see cref="RefreshEvery"/> reads), for tests and benches.</summary>
    public static int Cached
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        get
        {
            if (--t_countdown < 0)
            {
                t_cached = Map((uint)Thread.GetCurrentProcessorId());
                t_countdown = RefreshEvery - 1;
            }

            return t_cached;
        }
    }

    /// <summary>For tests: makes the calling thread use the cached id (as on a system without rseq).</summary>
    internal static void UseCachedOnThisThread()
    {
        t_probed = true;
        t_rseqCpu = null;
        t_countdown = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Map(uint id)
    {
        uint count = (uint)Count;
        return (int)(id < count ? id : id % count);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int Slow()
    {
        if (!t_probed)
        {
            t_probed = true;
            t_rseqCpu = Rseq.CpuIdOfThisThread();
            if (t_rseqCpu != null)
            {
                return Map((uint)*t_rseqCpu);
            }
        }

        return Cached;
    }
}
