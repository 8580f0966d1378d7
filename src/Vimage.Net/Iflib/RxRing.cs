namespace Vimage.Net.Iflib;

/// <summary>
/// A receive descriptor ring of a virtual NIC: the "hardware" side (the peer of an epair, a TAP reader,
/// loopback) posts packets, the RX queue's task takes them. Bounded: one slot always stays empty, as iflib's
/// free lists, and a full ring refuses the packet so the sender's TX ring stalls instead of memory growing.
/// </summary>
public sealed class RxRing
{
    private readonly object _lock = new();
    private Mbuf?[]? _slots; // made by the first post: an idle interface's ring costs no slots
    private readonly int _mask;
    private int _pidx;
    private int _cidx;

    public RxRing(int size)
    {
        if (size < 2 || (size & (size - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), $"ring size {size} must be a power of two >= 2");
        }

        _mask = size - 1;
    }

    public int Size => _mask + 1;

    /// <summary>get_inuse.</summary>
    public int InUse
    {
        get
        {
            lock (_lock)
            {
                return (_pidx - _cidx) & _mask;
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
            before = (_pidx - _cidx) & _mask;
            if (((_pidx + 1) & _mask) == _cidx)
            {
                return false;
            }

            _slots ??= new Mbuf?[Size];
            _slots[_pidx] = m;
            _pidx = (_pidx + 1) & _mask;
            return true;
        }
    }

    public Mbuf? Take()
    {
        lock (_lock)
        {
            if (_cidx == _pidx)
            {
                return null;
            }

            Mbuf m = _slots![_cidx]!;
            _slots[_cidx] = null;
            _cidx = (_cidx + 1) & _mask;
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
}
