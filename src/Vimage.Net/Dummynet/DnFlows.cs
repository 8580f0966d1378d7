using System.Collections.Concurrent;
using System.Diagnostics;

namespace Vimage.Net.Dummynet;

/// <summary>
/// Per-flow instances of a masked pipe or queue (dummynet's dn_ht of sched instances / queues, keyed by the masked
/// flow id). A masked pipe gives each flow a link of its own (bandwidth, delay, queue); a masked queue gives each
/// flow a queue of its own in the pipe's scheduler, with the queue's weight. Instances are bounded by buckets x
/// net.inet.ip.dummynet.max_chain_len: past it idle instances are reclaimed, and when none is idle the packet is
/// dropped (counted on the configured pipe or queue).
/// </summary>
public sealed partial class DnPipe
{
    private readonly DnPipe? _root;
    private ConcurrentDictionary<DnFlowKey, DnPipe>? _flows;

    /// <summary>The configured pipe or queue this is an instance of (itself when not an instance).</summary>
    public DnPipe Root
    {
        get => _root ?? this;
        init => _root = value;
    }

    /// <summary>Flow instances now (ipfw pipe show's "N flows").</summary>
    public int FlowCount => _flows?.Count ?? 0;

    /// <summary>The flow instances, for show.</summary>
    public IEnumerable<KeyValuePair<DnFlowKey, DnPipe>> Flows => _flows ?? Enumerable.Empty<KeyValuePair<DnFlowKey, DnPipe>>();

    /// <summary>The instance for the packet's flow (this when unmasked); null when the flow table is full.</summary>
    internal DnPipe? InstanceFor(ReadOnlySpan<byte> ip, int maxFlows)
    {
        if (Config.Mask is not { } mask)
        {
            return this;
        }

        DnFlowKey key = DnFlowKey.Of(ip, mask);
        ConcurrentDictionary<DnFlowKey, DnPipe> flows = _flows ?? CreateFlows();
        if (flows.TryGetValue(key, out DnPipe? instance))
        {
            return instance;
        }

        lock (_gate)
        {
            if (flows.TryGetValue(key, out instance))
            {
                return instance;
            }

            if (flows.Count >= maxFlows && !Reclaim(flows))
            {
                Drops++;
                return null;
            }

            instance = new DnPipe(Number, Config with { Mask = null }, _departures.Length) { Parent = Parent, Weight = Weight, Root = this, _flowKey = key };
            instance._schedType = _schedType;
            flows[key] = instance;
            Parent?.Attach(instance);
            return instance;
        }
    }

    private DnFlowKey _flowKey;

    /// <summary>The masked flow id of an instance.</summary>
    public DnFlowKey FlowKey => _flowKey;

    private ConcurrentDictionary<DnFlowKey, DnPipe> CreateFlows()
    {
        lock (_gate)
        {
            return _flows ??= new ConcurrentDictionary<DnFlowKey, DnPipe>();
        }
    }

    /// <summary>net.inet.ip.dummynet.expire: drops one idle instance (nothing queued, link not busy); false when none is.</summary>
    private bool Reclaim(ConcurrentDictionary<DnFlowKey, DnPipe> flows)
    {
        long now = Stopwatch.GetTimestamp();
        foreach (KeyValuePair<DnFlowKey, DnPipe> e in flows)
        {
            DnPipe i = e.Value;
            DnPipe link = i.Parent ?? i;
            bool idle;
            lock (link._gate)
            {
                idle = i._qLen == 0 && (i.Parent is not null || (i._busyUntil <= now && !i.Scheduled));
            }

            if (idle && flows.TryRemove(e.Key, out _))
            {
                i.Parent?.Detach(i);
                return true;
            }
        }

        return false;
    }
}
