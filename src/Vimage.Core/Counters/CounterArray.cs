namespace Vimage.Core;

/// <summary>
/// COUNTER_ARRAY_ALLOC/FREE/COPY/ZERO: <see cref="Length"/> counters whose per-CPU slots are contiguous, so
/// counter i is base + 8 i (how VNET_PCPUSTAT indexes a stats struct by field offset).
/// </summary>
public readonly unsafe struct CounterArray
{
    private readonly nint _base;

    private CounterArray(nint @base, int length)
    {
        _base = @base;
        Length = length;
    }

    public int Length { get; }

    public bool IsAllocated => _base != 0;

    /// <summary>The largest array one allocation can hold (one page per CPU).</summary>
    public static int MaxLength => PcpuZone.CpuStride / sizeof(long);

    public Counter64 this[int index]
    {
        get
        {
            if (_base == 0)
            {
                throw new InvalidOperationException("counter array is not allocated");
            }

            if ((uint)index >= (uint)Length)
            {
                throw new ArgumentOutOfRangeException(nameof(index), $"counter {index} is not in [0, {Length})");
            }

            return Counter64.At(_base + index * sizeof(long));
        }
    }

    /// <summary>COUNTER_ARRAY_ALLOC.</summary>
    public static CounterArray Alloc(int length) => new(PcpuZone.Alloc(length), length);

    /// <summary>COUNTER_ARRAY_FREE: the caller's copy is cleared; freeing twice is refused.</summary>
    public static void Free(ref CounterArray array)
    {
        if (array._base == 0)
        {
            throw new InvalidOperationException("counter array is not allocated (or already freed)");
        }

        PcpuZone.Free(array._base, array.Length);
        array = default;
    }

    public void Add(int index, long value) => this[index].Add(value);

    /// <summary>COUNTER_ARRAY_COPY: fetches every counter into <paramref name="destination"/>.</summary>
    public void CopyTo(Span<long> destination)
    {
        if (destination.Length < Length)
        {
            throw new ArgumentException($"destination holds {destination.Length} values, the array has {Length}", nameof(destination));
        }

        for (int i = 0; i < Length; i++)
        {
            destination[i] = this[i].Fetch();
        }
    }

    /// <summary>COUNTER_ARRAY_ZERO.</summary>
    public void Zero()
    {
        for (int i = 0; i < Length; i++)
        {
            this[i].Zero();
        }
    }
}
