using System.Runtime.InteropServices;
using Vimage.Core.Linker;

namespace Vimage.Core;

/// <summary>
/// Dynamic per-CPU data (FreeBSD's DPCPU). Every <c>[PerCpu]</c> variable of the assemblies linked at boot forms
/// the static set; its bytes are the reference copy. Boot gives each CPU one contiguous, cache-line-aligned
/// copy of it followed by a reserve of <see cref="ModMin"/> bytes (DPCPU_MODMIN) that serves sets registered
/// later (modules) and <see cref="Alloc"/>. Offsets are the same in every CPU's region, so one base per CPU is
/// enough (dpcpu_off[]).
/// </summary>
public static unsafe class Dpcpu
{
    /// <summary>FreeBSD's DPCPU_MODMIN default.</summary>
    public const int DefaultModMin = 2048;

    private const int CacheLine = 64;
    private static readonly object Lock = KernelLink.SyncRoot;
    private static readonly List<DpcpuLinkerSet> Sets = [];
    private static int s_modMin = Tunables.GetInt("VIMAGE_DPCPU_MODMIN", DefaultModMin, 0, 1 << 30);
    private static long s_staticSize;
    private static bool s_booting;
    private static bool s_booted;
    private static byte* s_master;
    private static nint* s_bases;
    private static ModSpaceAllocator? s_reserve;

    /// <summary>Bytes of the module reserve (set with <see cref="Configure"/> or VIMAGE_DPCPU_MODMIN before boot).</summary>
    public static int ModMin => s_modMin;

    /// <summary>Bytes of the static set (the kernel's DPCPU_BYTES without the reserve).</summary>
    public static long StaticSize => s_staticSize;

    /// <summary>Bytes of each CPU's region: static set plus reserve, page-rounded (DPCPU_SIZE).</summary>
    public static long RegionSize { get; private set; }

    public static bool IsBooted => Volatile.Read(ref s_booted);

    /// <summary>The module reserve's allocator (for inspection: free bytes, free list).</summary>
    public static ModSpaceAllocator Reserve
    {
        get
        {
            Boot();
            return s_reserve!;
        }
    }

    /// <summary>Every registered set, static ones first.</summary>
    public static IReadOnlyList<DpcpuLinkerSet> LinkedSets
    {
        get
        {
            lock (Lock)
            {
                return Sets.ToArray();
            }
        }
    }

    /// <summary>Sets DPCPU_MODMIN; only before boot, like a loader tunable.</summary>
    public static void Configure(int modMin)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(modMin);
        lock (Lock)
        {
            if (s_booted || s_booting)
            {
                throw new InvalidOperationException("DPCPU_MODMIN can only be set before DPCPU boots");
            }

            s_modMin = modMin;
        }
    }

    /// <summary>
    /// Links the static sets and gives every CPU its region (dpcpu_init: copy of the reference copy).
    /// Called implicitly by the first access; idempotent.
    /// </summary>
    public static void Boot()
    {
        if (Volatile.Read(ref s_booted))
        {
            return;
        }

        lock (Lock)
        {
            if (s_booted || s_booting)
            {
                return;
            }

            s_booting = true;
            try
            {
                KernelLink.RegisterStaticAssemblies();
                long reserveStart = Layout.RoundUp((nint)s_staticSize, CacheLine);
                long bytes = reserveStart + s_modMin;
                RegionSize = Math.Max(CacheLine, (bytes + Environment.SystemPageSize - 1) & ~(long)(Environment.SystemPageSize - 1));

                s_master = (byte*)NativeMemory.AlignedAlloc((nuint)RegionSize, CacheLine);
                NativeMemory.Clear(s_master, (nuint)RegionSize);
                foreach (DpcpuLinkerSet set in Sets)
                {
                    set.WriteInitialValues(s_master);
                }

                s_bases = (nint*)NativeMemory.AllocZeroed((nuint)CpuId.Count, (nuint)sizeof(nint));
                for (int cpu = 0; cpu < CpuId.Count; cpu++)
                {
                    byte* region = (byte*)NativeMemory.AlignedAlloc((nuint)RegionSize, CacheLine);
                    Buffer.MemoryCopy(s_master, region, RegionSize, RegionSize);
                    s_bases[cpu] = (nint)region;
                }

                s_reserve = new ModSpaceAllocator("pcpu", reserveStart, s_modMin);
                Volatile.Write(ref s_booted, true);
            }
            finally
            {
                s_booting = false;
            }
        }
    }

    /// <summary>dpcpu_off[cpu]: the base of CPU <paramref name="cpu"/>'s region.</summary>
    public static nint Base(int cpu)
    {
        Boot();
        ArgumentOutOfRangeException.ThrowIfNegative(cpu);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cpu, CpuId.Count);
        return s_bases[cpu];
    }

    /// <summary>The reference copy's bytes at <paramref name="offset"/> (DPCPU_START + offset).</summary>
    public static nint ReferencePtr(nint offset)
    {
        Boot();
        CheckRange(offset, 1);
        return (nint)(s_master + offset);
    }

    /// <summary>dpcpu_alloc: takes <paramref name="size"/> bytes from the module reserve of every CPU.</summary>
    public static nint Alloc(int size, string requester = "dpcpu_alloc")
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        Boot();
        return (nint)s_reserve!.Alloc(size, requester);
    }

    /// <summary>dpcpu_free: returns a block to the reserve. Double frees and foreign pointers are refused.</summary>
    public static void Free(nint offset, int size)
    {
        Boot();
        s_reserve!.Free(offset, size);
    }

    /// <summary>dpcpu_copy: copies the reference copy's bytes at <paramref name="offset"/> into every CPU.</summary>
    public static void Copy(nint offset, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        Boot();
        CheckRange(offset, size);
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            Buffer.MemoryCopy(s_master + offset, (byte*)s_bases[cpu] + offset, size, size);
        }
    }

    internal static nint* Bases
    {
        get
        {
            Boot();
            return s_bases;
        }
    }

    internal static DpcpuLinkerSet Register(System.Reflection.Assembly assembly, SetVariable[] variables)
    {
        if (KernelLink.IsModuleContext(assembly))
        {
            Boot(); // a module never joins the static set
        }

        lock (Lock)
        {
            var set = new DpcpuLinkerSet(assembly, variables);
            if (!s_booted)
            {
                long start = Layout.RoundUp((nint)s_staticSize, set.Layout.Alignment);
                set.Place(start, isModule: false);
                s_staticSize = start + set.Layout.Size;
                Sets.Add(set);
                return set;
            }

            long block = s_reserve!.Alloc(Math.Max(1, set.Layout.ReserveSize), $"{assembly.GetName().Name} (pcpu set of {variables.Length} variables)");
            set.Place(Layout.RoundUp((nint)block, set.Layout.Alignment), isModule: true, reserveBlock: block);
            set.WriteInitialValues(s_master);
            if (set.Layout.Size > 0)
            {
                Copy((nint)set.Start, (int)set.Layout.Size);
            }

            Sets.Add(set);
            ModuleUnload.OnUnload(assembly, () => Unregister(set));
            return set;
        }
    }

    private static void Unregister(DpcpuLinkerSet set)
    {
        lock (Lock)
        {
            if (!Sets.Remove(set))
            {
                return;
            }

            s_reserve!.Free(set.ReserveBlock, Math.Max(1, set.Layout.ReserveSize));
        }
    }

    private static void CheckRange(nint offset, int size)
    {
        if (offset < 0 || offset + size > RegionSize)
        {
            throw new ArgumentOutOfRangeException(nameof(offset),
                $"[{offset}, {offset + size}) is outside the {RegionSize}-byte DPCPU region");
        }
    }
}
