using System.Collections.Concurrent;
using Vimage.Core;

namespace Vimage.Net.Ipfw;

#pragma warning disable CA1707 // FreeBSD's names

/// <summary>
/// Dynamic rules (ip_fw_dynamic.c) for keep-state: one entry per flow, found from either direction, bounded by
/// net.inet.ip.fw.dyn_max and expired by the slow timer after dyn_udp_lifetime (udp) or dyn_short_lifetime
/// (others) seconds without a packet. Lookups are lock-free.
/// </summary>
public static partial class IpFwDyn
{
    [Sysctl("net.inet.ip.fw.dyn_max", SysctlFlags.RW, "Max number of dynamic states.", Min = 0, Max = 1 << 24)]
    internal static int s_dyn_max = 16384;

    [Vnet]
    [Sysctl("net.inet.ip.fw.dyn_udp_lifetime", SysctlFlags.RW | SysctlFlags.VNET, "Lifetime of dynamic states for UDP.", Min = 1, Max = 86400)]
    internal static int s_dyn_udp_lifetime = 10;

    [Vnet]
    [Sysctl("net.inet.ip.fw.dyn_short_lifetime", SysctlFlags.RW | SysctlFlags.VNET, "Lifetime of dynamic states for other situations.", Min = 1, Max = 86400)]
    internal static int s_dyn_short_lifetime = 5;

    [Vnet]
    [Sysctl("net.inet.ip.fw.dyn_count", SysctlFlags.RD | SysctlFlags.VNET, "Current number of dynamic states.")]
    internal static int s_dyn_count;

    [Vnet]
    private static ConcurrentDictionary<FlowKey, State>? s_dyn_table;

    /// <summary>A flow, the same from either end (the lower address/port pair first).</summary>
    internal readonly record struct FlowKey(byte Protocol, ulong Low, ulong High)
    {
        public static FlowKey Of(in IpFwPacket p)
        {
            ulong a = ((ulong)p.Source << 16) | (uint)p.SourcePort, b = ((ulong)p.Destination << 16) | (uint)p.DestinationPort;
            return a <= b ? new(p.Protocol, a, b) : new(p.Protocol, b, a);
        }
    }

    internal sealed class State(IpFwRule parent, long expire)
    {
        public IpFwRule Parent { get; } = parent;

        public long Expire = expire;
    }

    public static int Count => V_dyn_count;

    private static ConcurrentDictionary<FlowKey, State> Table => V_dyn_table ??= new ConcurrentDictionary<FlowKey, State>();

    /// <summary>The flow's parent rule when a live state exists (refreshing its lifetime).</summary>
    internal static IpFwRule? Lookup(in IpFwPacket pkt)
    {
        if (V_dyn_count == 0 || V_dyn_table is not { } table || !table.TryGetValue(FlowKey.Of(in pkt), out State? state))
        {
            return null;
        }

        long now = NetTimers.NowMs;
        if (Volatile.Read(ref state.Expire) < now)
        {
            return null;
        }

        Volatile.Write(ref state.Expire, now + Lifetime(pkt.Protocol));
        return state.Parent;
    }

    /// <summary>install_state: false when the table is full (dyn_max), which denies the packet.</summary>
    internal static bool Install(in IpFwPacket pkt, IpFwRule rule)
    {
        ConcurrentDictionary<FlowKey, State> table = Table;
        FlowKey key = FlowKey.Of(in pkt);
        long expire = NetTimers.NowMs + Lifetime(pkt.Protocol);
        if (table.TryGetValue(key, out State? existing))
        {
            Volatile.Write(ref existing.Expire, expire);
            return true;
        }

        if (Interlocked.Increment(ref V_dyn_count) > s_dyn_max)
        {
            Interlocked.Decrement(ref V_dyn_count);
            IpFw.Emit("ipfw: install_state: Too many dynamic rules");
            return false;
        }

        if (!table.TryAdd(key, new State(rule, expire)))
        {
            Interlocked.Decrement(ref V_dyn_count); // a racing packet of the same flow installed it
        }

        return true;
    }

    /// <summary>The slow timer: removes expired states and those whose rule is gone (ipfw_expire_dyn_states).</summary>
    internal static void Tick()
    {
        if (V_dyn_table is not { } table || table.IsEmpty)
        {
            return;
        }

        long now = NetTimers.NowMs;
        IpFwRule[] map = IpFw.Chain.Map;
        foreach (KeyValuePair<FlowKey, State> entry in table)
        {
            if ((Volatile.Read(ref entry.Value.Expire) < now || Array.IndexOf(map, entry.Value.Parent) < 0) && table.TryRemove(entry))
            {
                Interlocked.Decrement(ref V_dyn_count);
            }
        }
    }

    /// <summary>Drops every state (ipfw flush, vnet destroy).</summary>
    internal static void Flush()
    {
        if (V_dyn_table is { } table)
        {
            foreach (KeyValuePair<FlowKey, State> entry in table)
            {
                if (table.TryRemove(entry))
                {
                    Interlocked.Decrement(ref V_dyn_count);
                }
            }
        }
    }

    private static long Lifetime(byte protocol) => 1000L * (protocol == 17 ? V_dyn_udp_lifetime : V_dyn_short_lifetime);
}
