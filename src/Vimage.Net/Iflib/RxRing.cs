namespace Vimage.Net.Iflib;

/// <summary>
/// A receive descriptor ring of a virtual NIC: the "hardware" side (the peer of an epair, a TAP reader,
/// loopback) posts packets, the RX queue's task takes them. Bounded: one slot always stays empty, as iflib's
/// free lists, and a full ring refuses the packet so the sender's TX ring stalls instead of memory growing.
/// The slots are made on demand: none until the first packet, then <see cref="InitialSlots"/>, doubled whenever
/// they are all in use, up to <see cref="Size"/> (a lab's thousands of idle links cost no descriptors; a busy
/// one reaches its full ring once and keeps it).
/// </summary>
public sealed class RxRing
{
    /// <summary>Slots made by the first post.</summary>
    public const int InitialSlots = 16;

    private readonly object _lock = new();
    private readonly int _size;
    private Mbuf?[]? _slots;
    private int _cidx; // index of the oldest packet in _slots
    private int _count;

    public RxRing(int size)
    {
        if (size < 2 || (size & (size - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), $"ring size {size} must be a power of two >= 2");
        }

        _size = size;
    }

    /// <summary>Descriptors (isc_nrxd): the ring holds at most Size − 1 packets.</summary>
    public int Size => _size;

    /// <summary>Slots made so far (0 to <see cref="Size"/>).</summary>
    public int Allocated
    {
        get
        {
            lock (_lock)
            {
                return _slots?.Length ?? 0;
            }
        }
    }

    /// <summary>get_inuse.</summary>
    public int InUse
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    public int Space => Size - 1 - InUse;

    /// <summary>Posts a received packet; false when the ring is full (the caller keeps ownership).</summary>
    public bool Post(Mbuf m) => Post(m, out _);

    /// <summary>Posts a received packet, telling how many were queued before it; false when full.</summary>
    public bool Post(Mbuf m, out int before)
    {
        lock (_lock)
        {
            before = _count;
            if (_count >= _size - 1)
            {
                return false;
            }

            Mbuf?[] slots = _slots is { } s && _count < s.Length ? s : Grow();
            slots[(_cidx + _count) & (slots.Length - 1)] = m;
            _count++;
            return true;
        }
    }

    public Mbuf? Take()
    {
        lock (_lock)
        {
            if (_count == 0)
            {
                return null;
            }

            Mbuf?[] slots = _slots!;
            Mbuf m = slots[_cidx]!;
            slots[_cidx] = null;
            _cidx = (_cidx + 1) & (slots.Length - 1);
            _count--;
            return m;
        }
    }

    /// <summary>Takes everything left (for quiescing and teardown).</summary>
    public int DrainTo(List<Mbuf> sink)
    {
        int n = 0;
        while (Take() is { } m)
        {
            sink.Add(m);
            n++;
        }

        return n;
    }

    /// <summary>Doubles the slots (the first post makes <see cref="InitialSlots"/>), keeping packets in ring order. Under the lock.</summary>
    private Mbuf?[] Grow()
    {
        int length = _slots is null ? Math.Min(InitialSlots, _size) : Math.Min(_slots.Length * 2, _size);
        var grown = new Mbuf?[length];
        for (int i = 0; i < _count; i++)
        {
            grown[i] = _slots![(_cidx + i) & (_slots.Length - 1)];
        }

        _slots = grown;
        _cidx = 0;
        return grown;
    }
}
