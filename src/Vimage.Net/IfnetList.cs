namespace Vimage.Net;

/// <summary>One vnet's V_ifnet: its interfaces by name and index, and its clone units.</summary>
public sealed class IfnetList
{
    private readonly object _lock = new();
    private readonly List<Ifnet> _byIndex = [];
    private readonly Dictionary<string, SortedSet<int>> _units = new(StringComparer.Ordinal);

    // Interfaces born here that are on loan to another vnet: the dying home finds them without visiting every vnet.
    private readonly HashSet<Ifnet> _lent = [];

    public IReadOnlyList<Ifnet> Snapshot()
    {
        lock (_lock)
        {
            return _byIndex.Where(i => i is not null).OrderBy(i => i.Index).ToArray();
        }
    }

    public Ifnet? Find(string name)
    {
        lock (_lock)
        {
            return _byIndex.FirstOrDefault(i => i is not null && i.Name == name);
        }
    }

    public Ifnet? ByIndex(int index)
    {
        lock (_lock)
        {
            return index >= 1 && index <= _byIndex.Count ? _byIndex[index - 1] : null;
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byIndex.Count(i => i is not null);
            }
        }
    }

    /// <summary>Links the interface in under its name at the lowest free index.</summary>
    internal void Add(Ifnet ifp)
    {
        lock (_lock)
        {
            if (_byIndex.Any(i => i is not null && i.Name == ifp.Name))
            {
                throw new IfException(IfError.Exists, $"ifconfig: interface {ifp.Name} already exists");
            }

            int slot = _byIndex.IndexOf(null!);
            if (slot < 0)
            {
                _byIndex.Add(ifp);
                slot = _byIndex.Count - 1;
            }
            else
            {
                _byIndex[slot] = ifp;
            }

            ifp.Index = slot + 1;
        }
    }

    internal bool Remove(Ifnet ifp)
    {
        lock (_lock)
        {
            int slot = _byIndex.IndexOf(ifp);
            if (slot < 0)
            {
                return false;
            }

            _byIndex[slot] = null!;
            while (_byIndex.Count > 0 && _byIndex[^1] is null)
            {
                _byIndex.RemoveAt(_byIndex.Count - 1);
            }

            return true;
        }
    }

    internal void Rename(Ifnet ifp, string name)
    {
        lock (_lock)
        {
            if (_byIndex.Any(i => i is not null && i != ifp && i.Name == name))
            {
                throw new IfException(IfError.Exists, $"ifconfig: interface {name} already exists");
            }

            ifp.Name = name;
        }
    }

    /// <summary>Records that <paramref name="ifp"/>, born in this list's vnet, is (<paramref name="away"/>) or is no longer away.</summary>
    internal void SetLent(Ifnet ifp, bool away)
    {
        lock (_lock)
        {
            if (away)
            {
                _lent.Add(ifp);
            }
            else
            {
                _lent.Remove(ifp);
            }
        }
    }

    /// <summary>The interfaces born here and now in other vnets.</summary>
    internal Ifnet[] LentSnapshot()
    {
        lock (_lock)
        {
            return [.. _lent];
        }
    }

    /// <summary>ifc_alloc_unit: the requested unit if free, else the lowest free one (-1 = any).</summary>
    internal int AllocUnit(string cloner, int wanted, Func<int, IEnumerable<string>> namesFor)
    {
        lock (_lock)
        {
            SortedSet<int> used = _units.TryGetValue(cloner, out SortedSet<int>? set) ? set : _units[cloner] = [];
            if (wanted >= 0)
            {
                if (namesFor(wanted).Any(n => _byIndex.Any(i => i is not null && i.Name == n)) || !used.Add(wanted))
                {
                    throw new IfException(IfError.Exists, $"ifconfig: SIOCIFCREATE2 ({cloner}{wanted}): File exists");
                }

                return wanted;
            }

            // ifc_alloc_unit_next: skip units whose names are taken, e.g. by an interface loaned from another vnet.
            int unit = 0;
            while (used.Contains(unit) || namesFor(unit).Any(n => _byIndex.Any(i => i is not null && i.Name == n)))
            {
                unit++;
            }

            used.Add(unit);
            return unit;
        }
    }

    internal void FreeUnit(string cloner, int unit)
    {
        lock (_lock)
        {
            if (_units.TryGetValue(cloner, out SortedSet<int>? used))
            {
                used.Remove(unit);
            }
        }
    }
}
