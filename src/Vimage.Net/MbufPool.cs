using Vimage.Core;

namespace Vimage.Net;

/// <summary>
/// The cluster zone: pooled <see cref="Mbuf"/>s of one size with a hard limit (kern.ipc.nmbclusters), so hostile
/// traffic cannot grow memory without bound: when the limit is reached <see cref="Get"/> returns null and the
/// caller counts a drop. Free buffers sit in per-CPU stacks, each behind its own lock (uncontended in the common
/// case), with one shared stack as overflow.
/// </summary>
public sealed class MbufPool
{
    private const int PerCpuCapacity = 1024;
    private readonly Bucket[] _buckets;
    private readonly Bucket _shared = new(int.MaxValue);
    private long _created;
    private long _outstanding;
    private long _failures;

    public MbufPool(int bufferSize, long limit)
        : this(bufferSize, limit, zone: -1)
    {
    }

    private MbufPool(int bufferSize, long limit, int zone)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, Mbuf.Headroom + 64);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        BufferSize = bufferSize;
        Limit = limit;
        Zone = zone;
        _buckets = Enumerable.Range(0, CpuId.Count).Select(_ => new Bucket(PerCpuCapacity)).ToArray();
    }

    /// <summary>2 KiB clusters for frames up to a 1500-byte MTU plus headroom.</summary>
    public static MbufPool Clusters { get; } = new(2048, 256 * 1024, zone: 0);

    /// <summary>64 KiB buffers for jumbo frames and reassembled datagrams; fewer of them.</summary>
    public static MbufPool Jumbo { get; } = new(65_536 + Mbuf.Headroom, 2048, zone: 1);

    public int BufferSize { get; }

    /// <summary>Which of the shared zones this is (a vnet's share is counted per zone); -1 for a private pool.</summary>
    internal int Zone { get; }

    /// <summary>Most buffers that may exist at once.</summary>
    public long Limit { get; }

    /// <summary>Buffers handed out and not yet freed (a leak check for tests).</summary>
    public long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>Buffers ever created (grows only until the working set is pooled).</summary>
    public long Created => Interlocked.Read(ref _created);

    /// <summary>Requests refused because the limit was reached.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>A buffer big enough for <paramref name="size"/> bytes after the headroom, or null when exhausted.</summary>
    public static Mbuf? GetFor(int size)
        => size + Mbuf.Headroom <= Clusters.BufferSize ? Clusters.Get() : size + Mbuf.Headroom <= Jumbo.BufferSize ? Jumbo.Get() : null;

    /// <summary>
    /// m_getcl: an empty packet with headroom, or null when the zone is exhausted or the current vnet holds its
    /// whole share of it (<see cref="MbufShare"/>). The buffer is charged to the current vnet.
    /// </summary>
    public Mbuf? Get()
    {
        MbufAccount? account = Zone >= 0 ? MbufShare.Current : null;
        if (account is not null && !account.TryCharge(Zone, MbufShare.Cap(this)))
        {
            Interlocked.Increment(ref _failures);
            return null;
        }

        // A thread that migrates frees on another CPU than it allocated on, so free buffers pile up in the other
        // CPUs' caches: take those before creating one (UMA's zone bucket cache serves the same purpose), or the
        // working set would be created again once per CPU and steady state would keep allocating.
        Mbuf? m = _buckets[CpuId.Current].TryPop() ?? _shared.TryPop() ?? Steal();
        if (m is null)
        {
            if (Interlocked.Increment(ref _created) <= Limit)
            {
                m = new Mbuf(BufferSize, this);
            }
            else
            {
                Interlocked.Decrement(ref _created);
                account?.Uncharge(Zone);
                Interlocked.Increment(ref _failures);
                return null;
            }
        }

        Interlocked.Increment(ref _outstanding);
        m.Account = account;
        m.MarkOwned();
        m.Reset();
        return m;
    }

    private Mbuf? Steal()
    {
        foreach (Bucket bucket in _buckets)
        {
            if (bucket.TryPop() is { } m)
            {
                return m;
            }
        }

        return null;
    }

    internal void Return(Mbuf m)
    {
        if (m.Account is { } account)
        {
            account.Uncharge(Zone);
            m.Account = null;
        }

        Interlocked.Decrement(ref _outstanding);
        if (!_buckets[CpuId.Current].TryPush(m))
        {
            _shared.TryPush(m);
        }
    }

    private sealed class Bucket(int capacity)
    {
        private readonly object _lock = new();
        private Mbuf[] _items = new Mbuf[Math.Min(capacity, 64)];
        private int _count;

        public Mbuf? TryPop()
        {
            lock (_lock)
            {
                if (_count == 0)
                {
                    return null;
                }

                Mbuf m = _items[--_count];
                _items[_count] = null!;
                return m;
            }
        }

        public bool TryPush(Mbuf m)
        {
            lock (_lock)
            {
                if (_count == _items.Length)
                {
                    if (_items.Length >= capacity)
                    {
                        return false;
                    }

                    Array.Resize(ref _items, Math.Min(capacity, _items.Length * 2));
                }

                _items[_count++] = m;
                return true;
            }
        }
    }
}
