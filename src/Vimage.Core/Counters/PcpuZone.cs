using System.Runtime.InteropServices;
using Vimage.Core.Linker;

namespace Vimage.Core;

/// <summary>
/// UMA's pcpu_zone_8: 64-bit slots that exist once per CPU. A slab is one page per CPU; slot k of CPU n is at
/// slab + n * <see cref="CpuStride"/> + k * 8, so every CPU's slots of one counter are a page apart (never a shared
/// cache line) and a counter is just the address of its CPU-0 slot. Runs of slots for counter arrays are carved
/// with the module-space allocator, one per slab. Slabs are never returned to the OS; freed slots are reused.
/// </summary>
internal static unsafe class PcpuZone
{
    public const int CpuStride = 4096;
    public const int CpuShift = 12;
    private static readonly object Lock = new();

    // UMA keeps partly free slabs on a list of their own (uk_partial) and finds a slab from an item's address:
    // the same here, so allocation and free cost O(1) however many counters (vnets) exist.
    private static readonly Stack<Slab> Partial = new();
    private static readonly Dictionary<nint, Slab> ByBase = [];
    private static long s_probes;

    /// <summary>Slabs tried by <see cref="Alloc"/> so far (a test checks it stays O(1) per allocation).</summary>
    internal static long Probes => Interlocked.Read(ref s_probes);

    /// <summary>Slabs made so far.</summary>
    internal static int SlabCount
    {
        get
        {
            lock (Lock)
            {
                return ByBase.Count;
            }
        }
    }

    public static nint Alloc(int count)
    {
        if (count <= 0 || count * sizeof(long) > CpuStride)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"a counter array holds 1 to {CpuStride / sizeof(long)} counters, not {count}");
        }

        lock (Lock)
        {
            // A slab that cannot fit the request leaves the partial list until one of its slots is freed, so every
            // failed probe removes a slab: amortized O(1).
            while (Partial.TryPeek(out Slab? slab))
            {
                s_probes++;
                if (slab.Space.TryAlloc(count * sizeof(long), out long offset))
                {
                    return slab.Base + (nint)offset;
                }

                Partial.Pop();
                slab.OnPartialList = false;
            }

            var fresh = new Slab();
            ByBase.Add(fresh.Base, fresh);
            Partial.Push(fresh);
            fresh.OnPartialList = true;
            s_probes++;
            return fresh.Base + (nint)fresh.Space.Alloc(count * sizeof(long));
        }
    }

    public static void Free(nint slot, int count)
    {
        lock (Lock)
        {
            if (ByBase.TryGetValue(slot & ~(nint)(CpuStride - 1), out Slab? slab))
            {
                long offset = slot - slab.Base;
                slab.Space.Free(offset, count * sizeof(long)); // throws on double free
                for (int cpu = 0; cpu < CpuId.Count; cpu++)
                {
                    NativeMemory.Clear((byte*)(slot + (cpu << CpuShift)), (nuint)(count * sizeof(long)));
                }

                if (!slab.OnPartialList)
                {
                    Partial.Push(slab);
                    slab.OnPartialList = true;
                }

                return;
            }
        }

        throw new InvalidOperationException($"counter at 0x{slot:x} was not allocated by counter_u64_alloc");
    }

    private sealed class Slab
    {
        public Slab()
        {
            nuint bytes = (nuint)CpuStride * (nuint)CpuId.Count;
            Base = (nint)NativeMemory.AlignedAlloc(bytes, CpuStride);
            NativeMemory.Clear((void*)Base, bytes);
            Space = new ModSpaceAllocator("pcpu_zone_8", 0, CpuStride);
        }

        public nint Base { get; }

        public ModSpaceAllocator Space { get; }

        /// <summary>On <see cref="Partial"/> (guarded by <see cref="Lock"/>).</summary>
        public bool OnPartialList { get; set; }
    }
}
