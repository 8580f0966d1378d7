using System.Collections.Concurrent;
using Vimage.Core;

namespace Vimage.Net.Ipfw;

/// <summary>
/// One lookup table of type addr (ip_fw_table.c with the radix algorithm): prefixes with a 32-bit value, longest
/// prefix wins. One lock-free dictionary per prefix length, so a lookup allocates nothing and probes at most the
/// lengths in use, longest first.
/// </summary>
public sealed class IpFwTable
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<uint, uint>?[] _byLength = new ConcurrentDictionary<uint, uint>?[33];
    private int[] _lengths = []; // in use, longest first
    private int _count;

    public IpFwTable(int number) => Number = number;

    public int Number { get; }

    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds prefix/len with <paramref name="value"/>; false when it exists (EEXIST) or the table is full.</summary>
    public bool Add(uint address, int length, uint value, int max)
    {
        lock (_gate)
        {
            uint key = address & MaskOf(length);
            if (_count >= max)
            {
                return false;
            }

            ConcurrentDictionary<uint, uint> d = _byLength[length] ??= new ConcurrentDictionary<uint, uint>();
            if (!d.TryAdd(key, value))
            {
                return false;
            }

            _count++;
            if (Array.IndexOf(_lengths, length) < 0)
            {
                int[] next = [.. _lengths, length];
                Array.Sort(next, (a, b) => b.CompareTo(a));
                Volatile.Write(ref _lengths, next);
            }

            return true;
        }
    }

    /// <summary>Deletes prefix/len; false when absent (ESRCH).</summary>
    public bool Delete(uint address, int length)
    {
        lock (_gate)
        {
            if (_byLength[length] is not { } d || !d.TryRemove(address & MaskOf(length), out _))
            {
                return false;
            }

            _count--;
            return true;
        }
    }

    public void Flush()
    {
        lock (_gate)
        {
            Volatile.Write(ref _lengths, []);
            for (int i = 0; i < _byLength.Length; i++)
            {
                _byLength[i]?.Clear();
            }

            _count = 0;
        }
    }

    /// <summary>ipfw_lookup_table: the longest matching prefix's value.</summary>
    public bool Lookup(uint address, out uint value)
    {
        int[] lengths = Volatile.Read(ref _lengths);
        for (int i = 0; i < lengths.Length; i++)
        {
            int len = lengths[i];
            if (_byLength[len] is { } d && d.TryGetValue(address & MaskOf(len), out value))
            {
                return true;
            }
        }

        value = 0;
        return false;
    }

    /// <summary>The entries, sorted by address then length (ipfw table N list).</summary>
    public List<(uint Address, int Length, uint Value)> Entries()
    {
        var all = new List<(uint, int, uint)>();
        lock (_gate)
        {
            for (int len = 0; len <= 32; len++)
            {
                if (_byLength[len] is { } d)
                {
                    foreach (KeyValuePair<uint, uint> e in d)
                    {
                        all.Add((e.Key, len, e.Value));
                    }
                }
            }
        }

        all.Sort();
        return all;
    }

    public static uint MaskOf(int length) => length <= 0 ? 0 : 0xffffffffu << (32 - length);
}

/// <summary>
/// The current vnet's tables (V_ipfw_tables: ch->tblcfg). Tables are created by <c>ipfw table N create</c>, or on
/// first use by <c>add</c> or a rule naming <c>table(N)</c> (FreeBSD's auto-creation of addr tables).
/// </summary>
public static partial class IpFwTables
{
    /// <summary>net.inet.ip.fw.tables_max.</summary>
    [Sysctl("net.inet.ip.fw.tables_max", SysctlFlags.RD | SysctlFlags.TUN, "Max number of tables")]
    internal static int s_tables_max = 128;

    /// <summary>Entries per table (a Vimage bound; FreeBSD's limit is memory).</summary>
    public const int MaxEntries = 1 << 20;

    [Vnet]
    private static ConcurrentDictionary<int, IpFwTable>? s_ipfw_tables;

    private static ConcurrentDictionary<int, IpFwTable> All => V_ipfw_tables ??= new ConcurrentDictionary<int, IpFwTable>();

    public static int Max => s_tables_max;

    public static IpFwTable? Find(int number) => V_ipfw_tables is { } t && t.TryGetValue(number, out IpFwTable? table) ? table : null;

    /// <summary>Creates table <paramref name="number"/>; false when it exists.</summary>
    public static bool Create(int number) => All.TryAdd(number, new IpFwTable(number));

    /// <summary>The table, created when absent.</summary>
    public static IpFwTable GetOrCreate(int number) => All.GetOrAdd(number, static n => new IpFwTable(n));

    public static bool Destroy(int number) => V_ipfw_tables is { } t && t.TryRemove(number, out _);

    public static IReadOnlyList<IpFwTable> List() => V_ipfw_tables is { } t ? [.. t.Values.OrderBy(x => x.Number)] : [];

    internal static void Clear() => V_ipfw_tables = null;
}
