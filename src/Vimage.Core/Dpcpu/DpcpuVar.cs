using System.Numerics;
using System.Runtime.CompilerServices;

namespace Vimage.Core;

/// <summary>
/// A handle on one DPCPU variable (its offset in every CPU's region), as returned by the generated
/// <c>DPCPU_VAR_&lt;name&gt;</c> property or by <see cref="Dpcpu.Alloc"/>.
/// </summary>
public readonly struct DpcpuVar<T>(nint offset) where T : unmanaged
{
    public nint Offset { get; } = offset;

    /// <summary>DPCPU_PTR: this CPU's copy.</summary>
    public ref T Ptr
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref Linker.DpcpuAccess.Ptr<T>(Offset);
    }

    /// <summary>DPCPU_ID_PTR: CPU <paramref name="cpu"/>'s copy.</summary>
    public ref T IdPtr(int cpu) => ref Linker.DpcpuAccess.IdPtr<T>(cpu, Offset);

    /// <summary>DPCPU_GET.</summary>
    public T Get() => Ptr;

    /// <summary>DPCPU_SET.</summary>
    public void Set(T value) => Ptr = value;

    /// <summary>DPCPU_ZERO: clears every CPU's copy (not atomic against concurrent writers, as in FreeBSD).</summary>
    public void Zero()
    {
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            IdPtr(cpu) = default;
        }
    }

    /// <summary>DPCPU_VARSUM: sums one member (chosen by <paramref name="member"/>) over every CPU's copy.</summary>
    public long VarSum(Func<T, long> member)
    {
        ArgumentNullException.ThrowIfNull(member);
        long sum = 0;
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            sum += member(IdPtr(cpu));
        }

        return sum;
    }
}

public static class DpcpuVarExtensions
{
    /// <summary>DPCPU_SUM: the variable summed over every CPU's copy.</summary>
    public static T Sum<T>(this DpcpuVar<T> variable) where T : unmanaged, INumber<T>
    {
        T sum = T.Zero;
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            sum += variable.IdPtr(cpu);
        }

        return sum;
    }

    /// <summary>Adds atomically to this CPU's copy: exact even if the thread migrates meanwhile.</summary>
    public static void AtomicAdd(this DpcpuVar<long> variable, long value)
        => Interlocked.Add(ref variable.Ptr, value);
}
