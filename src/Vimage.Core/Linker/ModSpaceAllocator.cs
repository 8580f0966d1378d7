namespace Vimage.Core.Linker;

/// <summary>
/// The module-reserve allocator shared by DPCPU and VNET (FreeBSD's dpcpu_alloc/dpcpu_free and
/// vnet_data_alloc/vnet_data_free): first fit, cutting from the front of an address-sorted free list that
/// coalesces on free, sizes rounded up to pointer size. Unlike FreeBSD it refuses double frees, frees outside
/// the reserve and overlapping frees, and never dereferences a missing neighbour (the NULL-next bug in
/// FreeBSD's merge step). Offsets are relative to the start of the region the reserve lives in. Thread-safe.
/// </summary>
public sealed class ModSpaceAllocator
{
    private readonly object _lock = new();
    private readonly List<Extent> _free = []; // sorted by Start, never adjacent, never overlapping
    private readonly SortedDictionary<long, long> _allocated = []; // start -> rounded length

    public ModSpaceAllocator(string name, long start, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Name = name;
        Start = start;
        Length = length;
        if (length > 0)
        {
            _free.Add(new Extent(start, length));
        }
    }

    /// <summary>Which reserve this is, for error messages ("pcpu", "vnet").</summary>
    public string Name { get; }

    public long Start { get; }

    public long Length { get; }

    public long End => Start + Length;

    /// <summary>Bytes not allocated (possibly fragmented).</summary>
    public long FreeBytes
    {
        get
        {
            lock (_lock)
            {
                long total = 0;
                foreach (Extent e in _free)
                {
                    total += e.Length;
                }

                return total;
            }
        }
    }

    /// <summary>The largest single request that can succeed now.</summary>
    public long LargestFree
    {
        get
        {
            lock (_lock)
            {
                long max = 0;
                foreach (Extent e in _free)
                {
                    max = Math.Max(max, e.Length);
                }

                return max;
            }
        }
    }

    /// <summary>A snapshot of the free list, in address order.</summary>
    public IReadOnlyList<(long Start, long Length)> FreeList
    {
        get
        {
            lock (_lock)
            {
                return _free.Select(e => (e.Start, e.Length)).ToArray();
            }
        }
    }

    public static long RoundSize(long size) => (size + IntPtr.Size - 1) & ~(long)(IntPtr.Size - 1);

    /// <summary>Allocates <paramref name="size"/> bytes or throws <see cref="ModSpaceExhaustedException"/>.</summary>
    public long Alloc(long size, string requester = "allocation")
    {
        if (!TryAlloc(size, out long start))
        {
            throw new ModSpaceExhaustedException(Name, requester, RoundSize(size), FreeBytes, LargestFree);
        }

        return start;
    }

    public bool TryAlloc(long size, out long start)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        long rounded = RoundSize(size);
        lock (_lock)
        {
            for (int i = 0; i < _free.Count; i++)
            {
                Extent e = _free[i];
                if (e.Length < rounded)
                {
                    continue;
                }

                start = e.Start;
                if (e.Length == rounded)
                {
                    _free.RemoveAt(i);
                }
                else
                {
                    _free[i] = new Extent(e.Start + rounded, e.Length - rounded);
                }

                _allocated.Add(start, rounded);
                return true;
            }
        }

        start = -1;
        return false;
    }

    /// <summary>Returns a block to the reserve, merging it with free neighbours.</summary>
    public void Free(long start, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        long rounded = RoundSize(size);
        long end = start + rounded;
        lock (_lock)
        {
            if (start < Start || end > End)
            {
                throw new ArgumentOutOfRangeException(nameof(start),
                    $"{Name} module space: free of [{start:#,0}, {end:#,0}) lies outside the reserve [{Start:#,0}, {End:#,0})");
            }

            if (!_allocated.TryGetValue(start, out long allocated))
            {
                throw new InvalidOperationException(
                    $"{Name} module space: free of {rounded} bytes at {start:#,0} which is not allocated (double free or bad pointer)");
            }

            if (allocated != rounded)
            {
                throw new ArgumentException(
                    $"{Name} module space: free of {rounded} bytes at {start:#,0} but {allocated} bytes were allocated there",
                    nameof(size));
            }

            _allocated.Remove(start);
            InsertAndCoalesce(start, rounded);
        }
    }

    /// <summary>True when [start, start+size) is a live allocation of exactly that size.</summary>
    public bool IsAllocated(long start, long size)
    {
        lock (_lock)
        {
            return _allocated.TryGetValue(start, out long len) && len == RoundSize(size);
        }
    }

    private void InsertAndCoalesce(long start, long length)
    {
        int i = 0;
        while (i < _free.Count && _free[i].Start < start)
        {
            i++;
        }

        // i is the first extent after the freed block; i-1 (if any) the one before it.
        bool mergePrev = i > 0 && _free[i - 1].End == start;
        bool mergeNext = i < _free.Count && _free[i].Start == start + length;
        if (mergePrev && mergeNext)
        {
            Extent prev = _free[i - 1];
            _free[i - 1] = new Extent(prev.Start, prev.Length + length + _free[i].Length);
            _free.RemoveAt(i);
        }
        else if (mergePrev)
        {
            Extent prev = _free[i - 1];
            _free[i - 1] = new Extent(prev.Start, prev.Length + length);
        }
        else if (mergeNext)
        {
            Extent next = _free[i];
            _free[i] = new Extent(start, next.Length + length);
        }
        else
        {
            _free.Insert(i, new Extent(start, length));
        }
    }

    private readonly record struct Extent(long Start, long Length)
    {
        public long End => Start + Length;
    }
}

/// <summary>FreeBSD's "module space is out of space" (ENOSPC from the kernel linker).</summary>
public sealed class ModSpaceExhaustedException(string space, string requester, long requested, long free, long largest)
    : InvalidOperationException(
        $"{space} module space is out of space; cannot allocate {requested} bytes for {requester} " +
        $"({free} bytes free, largest free block {largest} bytes)")
{
    public string Space { get; } = space;
    public string Requester { get; } = requester;
    public long Requested { get; } = requested;
    public long FreeBytes { get; } = free;
}
