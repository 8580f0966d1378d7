using System.Collections.Concurrent;
using Vimage.Net.Inet;

namespace Vimage.Net.Arp;

/// <summary>One vnet's ARP table (lltable): lock-free lookups for the output path, entries locked individually.</summary>
public sealed class ArpTable
{
    private readonly ConcurrentDictionary<(Ifnet, uint), LlEntry> _entries = new();

    public IReadOnlyList<LlEntry> Entries => _entries.Values.OrderBy(e => e.Interface.Index).ThenBy(e => e.Address.Value).ToArray();

    public int Count => _entries.Count;

    public LlEntry? Find(Ifnet ifp, InAddr address) => _entries.TryGetValue((ifp, address.Value), out LlEntry? e) ? e : null;

    /// <summary>The entry for <paramref name="address"/> on any interface (arp -a lookups by address).</summary>
    public LlEntry? FindAny(InAddr address) => _entries.Values.FirstOrDefault(e => e.Address == address);

    internal LlEntry GetOrAdd(Ifnet ifp, InAddr address, Func<LlEntry> create)
        => _entries.GetOrAdd((ifp, address.Value), _ => create());

    internal bool Remove(LlEntry entry) => _entries.TryRemove(new KeyValuePair<(Ifnet, uint), LlEntry>((entry.Interface, entry.Address.Value), entry));

    internal IEnumerable<LlEntry> OnInterface(Ifnet ifp) => _entries.Values.Where(e => e.Interface == ifp).ToArray();

    internal IEnumerable<LlEntry> Snapshot() => _entries.Values.ToArray();
}
