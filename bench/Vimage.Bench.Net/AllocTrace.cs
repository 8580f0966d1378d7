using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Vimage.Bench.Net;

/// <summary>
/// --alloc-trace: samples the runtime's GCAllocationTick events (one per ~100 KB allocated) by type during the
/// measured windows, to find what allocates. The listener allocates itself, so it is off unless asked for.
/// </summary>
internal sealed class AllocTrace : EventListener
{
    private readonly ConcurrentDictionary<string, long> _byType = new(StringComparer.Ordinal);
    private volatile bool _active;

    public bool Active
    {
        get => _active;
        set => _active = value;
    }

    public IReadOnlyList<KeyValuePair<string, long>> Top(int n)
        => _byType.OrderByDescending(kv => kv.Value).Take(n).ToArray();

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_active || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null)
        {
            return;
        }

        int typeIndex = e.PayloadNames.IndexOf("TypeName");
        int amountIndex = e.PayloadNames.IndexOf("AllocationAmount64");
        string type = typeIndex >= 0 ? e.Payload![typeIndex] as string ?? "?" : "?";
        long amount = amountIndex >= 0 ? Convert.ToInt64(e.Payload![amountIndex], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        _byType.AddOrUpdate(type, amount, (_, v) => v + amount);
    }
}
