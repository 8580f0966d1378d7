using Vimage.Core.Linker;

namespace Vimage.Core;

/// <summary>
/// vnet_constructors / vnet_destructors: VNET_SYSINIT and VNET_SYSUNINIT records sorted by (subsystem, order),
/// ties in registration order. Constructors run forward, destructors in reverse.
/// </summary>
internal sealed class SysinitList
{
    private readonly List<(SysinitEntry Entry, long Sequence)> _entries = [];
    private long _sequence;

    public int Count => _entries.Count;

    public void Insert(SysinitEntry entry)
    {
        var item = (entry, _sequence++);
        int i = _entries.Count;
        while (i > 0 && Compare(_entries[i - 1].Entry, entry) > 0)
        {
            i--;
        }

        _entries.Insert(i, item);
    }

    public bool Remove(SysinitEntry entry) => _entries.RemoveAll(e => ReferenceEquals(e.Entry, entry)) > 0;

    public SysinitEntry[] Forward() => _entries.Select(e => e.Entry).ToArray();

    public SysinitEntry[] Reverse()
    {
        SysinitEntry[] all = Forward();
        Array.Reverse(all);
        return all;
    }

    private static int Compare(SysinitEntry a, SysinitEntry b)
    {
        int bySubsystem = a.Subsystem.CompareTo(b.Subsystem);
        return bySubsystem != 0 ? bySubsystem : a.Order.CompareTo(b.Order);
    }
}

/// <summary>A constructor or destructor that threw, with the vnet and record it ran for.</summary>
public sealed class VnetSysinitException(string message, Exception inner) : Exception(message, inner);
