using System.Runtime.CompilerServices;

namespace Vimage.Core;

/// <summary>
/// counter(9)'s counter_u64_t: a 64-bit statistic with one slot per CPU. <see cref="Add"/> touches only the current
/// CPU's slot, with an atomic add, so no update is lost even if the thread migrates between reading the CPU id and
/// adding (it then lands in another CPU's slot; the sum is unchanged). <see cref="Fetch"/> sums the slots; it is
/// not a snapshot across CPUs and <see cref="Zero"/> is not atomic against concurrent adds, as in FreeBSD.
/// </summary>
public readonly unsafe struct Counter64 : IEquatable<Counter64>
{
    private readonly nint _slot; // CPU 0's slot

    private Counter64(nint slot) => _slot = slot;

    public bool IsAllocated => _slot != 0;

    /// <summary>counter_u64_alloc.</summary>
    public static Counter64 Alloc() => new(PcpuZone.Alloc(1));

    /// <summary>counter_u64_free: the caller's copy is cleared; freeing twice is refused.</summary>
    public static void Free(ref Counter64 counter)
    {
        counter.EnsureAllocated();
        PcpuZone.Free(counter._slot, 1);
        counter = default;
    }

    /// <summary>counter_u64_add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(long value)
    {
        EnsureAllocated();
        Interlocked.Add(ref *(long*)(_slot + (CpuId.Current << PcpuZone.CpuShift)), value);
    }

    /// <summary>counter_u64_fetch: the sum over every CPU.</summary>
    public long Fetch()
    {
        EnsureAllocated();
        long sum = 0;
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            sum += Volatile.Read(ref *(long*)(_slot + (cpu << PcpuZone.CpuShift)));
        }

        return sum;
    }

    /// <summary>counter_u64_zero.</summary>
    public void Zero()
    {
        EnsureAllocated();
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            Interlocked.Exchange(ref *(long*)(_slot + (cpu << PcpuZone.CpuShift)), 0);
        }
    }

    /// <summary>One CPU's slot, for tests and tools.</summary>
    public long FetchCpu(int cpu)
    {
        EnsureAllocated();
        ArgumentOutOfRangeException.ThrowIfNegative(cpu);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cpu, CpuId.Count);
        return Volatile.Read(ref *(long*)(_slot + (cpu << PcpuZone.CpuShift)));
    }

    internal static Counter64 At(nint slot) => new(slot);

    public bool Equals(Counter64 other) => _slot == other._slot;

    public override bool Equals(object? obj) => obj is Counter64 other && Equals(other);

    public override int GetHashCode() => _slot.GetHashCode();

    public static bool operator ==(Counter64 left, Counter64 right) => left.Equals(right);

    public static bool operator !=(Counter64 left, Counter64 right) => !left.Equals(right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EnsureAllocated()
    {
        if (_slot == 0)
        {
            ThrowUnallocated();
        }
    }

    private static void ThrowUnallocated()
        => throw new InvalidOperationException("counter is not allocated (counter_u64_alloc was not called, or it was freed)");
}
