using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Vimage.Core.Linker;

/// <summary>What the generated DPCPU_&lt;name&gt; accessors compile to: base of a CPU's region plus offset.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class DpcpuAccess
{
    /// <summary>DPCPU_PTR: the current CPU's copy. See <see cref="CpuId"/> for the migration rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref T Ptr<T>(nint offset) where T : unmanaged
        => ref Unsafe.AsRef<T>((byte*)Regions.Bases[CpuId.Current] + offset);

    /// <summary>DPCPU_ID_PTR: CPU <paramref name="cpu"/>'s copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref T IdPtr<T>(int cpu, nint offset) where T : unmanaged
    {
        if ((uint)cpu >= (uint)CpuId.Count)
        {
            ThrowBadCpu(cpu);
        }

        return ref Unsafe.AsRef<T>((byte*)Regions.Bases[cpu] + offset);
    }

    private static void ThrowBadCpu(int cpu)
        => throw new ArgumentOutOfRangeException(nameof(cpu), $"cpu {cpu} is not in [0, {CpuId.Count})");

    // A static readonly pointer in an initialized class is a constant to the tiered JIT: no boot check per access.
    private static class Regions
    {
        public static readonly nint* Bases = Dpcpu.Bases;
    }
}
