using Vimage.Core;

namespace Vimage.Net.Inet;

/// <summary>
/// ip_reass (netinet/ip_reass.c): reassembly of fragments addressed to us, one table per vnet.
/// <para>
/// Queues are keyed by (source, destination, id, protocol). Each queue holds its fragments' own buffers, sorted by
/// offset, until the datagram is complete; it is then copied into one buffer (a jumbo buffer when it exceeds a
/// cluster) with a fresh header: the first fragment's header and options, the total length updated, MF and the
/// offset cleared (DF kept), the checksum recomputed.
/// </para>
/// <para>
/// Policy, chosen over FreeBSD's trimming because overlaps are how hostile fragments sneak past filters
/// (RFC 5722 takes the same line for IPv6): an exact duplicate of a fragment already queued (same offset, length
/// and MF) is dropped alone; any other overlap, a second last fragment with another end, or a fragment beyond the
/// known end drops the whole datagram. Every fragment dropped is counted in ips_fragdropped. A fragment whose
/// end passes 65535 bytes (20-byte header assumed; checked again with the real header at completion) is counted
/// in ips_toolong and ips_fragdropped, as FreeBSD does; an empty fragment or a non-last one whose length is not a
/// multiple of 8 in ips_toosmall and ips_fragdropped.
/// </para>
/// <para>
/// Bounds (hostile traffic cannot grow memory without limit): at most net.inet.ip.maxfrags fragments in all vnets'
/// queues together (global, not settable from a jail; a fragment beyond it is dropped and counted in
/// ips_fragdropped), at most net.inet.ip.maxfragpackets queues per vnet
/// (a fragment that would open one more is dropped; lowering the knob trims the oldest queues at the next tick),
/// and a queue with more than net.inet.ip.maxfragsperpacket fragments is dropped whole. A fragment that arrived
/// in a jumbo buffer but fits a cluster is copied into a cluster before it is queued, so the most a vnet holds is
/// maxfragpackets × maxfragsperpacket buffers (1024 × 16 clusters of 2 KiB = 32 MiB by default; only fragments
/// longer than a cluster, possible with an MTU above ~1900, pin 64 KiB jumbo buffers, and that pool has its own
/// hard limit). Queues expire after IPFRAGTTL (30 s): each fragment is counted in ips_fragtimeout and, if the first
/// fragment was received, an ICMP time exceeded (reassembly) quoting it goes back to the sender. The table is
/// freed when the vnet is destroyed.
/// </para>
/// </summary>
public static partial class IpReass
{
    /// <summary>IPFRAGTTL: 60 slow-timer ticks of 500 ms.</summary>
    public const int TimeToLiveMs = 30_000;

    [Vnet]
    private static ReassTable s_ipq = new();

    /// <summary>
    /// maxfrags: fragments all vnets' queues may hold together; IP_MAXFRAGS (nmbclusters / 32) by default, -1
    /// for no limit. Global, as in FreeBSD: a vnet jail raising its own maxfragpackets cannot raise this.
    /// </summary>
    [Sysctl("net.inet.ip.maxfrags", SysctlFlags.RW, "Maximum number of IPv4 fragments allowed across all reassembly queues", Min = -1, Max = int.MaxValue)]
    internal static int s_maxfrags = (int)(MbufPool.Clusters.Limit / 32);

    /// <summary>nfrags: fragments held now in all vnets' queues.</summary>
    [Sysctl("net.inet.ip.curfrags", SysctlFlags.RD, "Current number of IPv4 fragments across all reassembly queues")]
    internal static int s_nfrags;

    /// <summary>Tests move time forward without waiting 30 s; null means <see cref="NetTimers.NowMs"/>.</summary>
    internal static Func<long>? ClockOverride { get; set; }

    private static long Now => ClockOverride?.Invoke() ?? NetTimers.NowMs;

    /// <summary>Reassembly queues of the current vnet (netstat's view; tests check the bound).</summary>
    public static int QueueCount
    {
        get
        {
            ReassTable table = V_ipq;
            lock (table)
            {
                return table.Queues.Count;
            }
        }
    }

    /// <summary>Fragments held in the current vnet's queues.</summary>
    public static int FragmentCount
    {
        get
        {
            ReassTable table = V_ipq;
            lock (table)
            {
                return table.Queues.Values.Sum(q => q.Fragments.Count);
            }
        }
    }

    /// <summary>
    /// Takes a fragment (data at its IP header of <paramref name="hlen"/> bytes) and owns it; returns the whole
    /// datagram once complete, else null (held, or dropped and counted). A packet that is not a fragment is
    /// returned as is.
    /// </summary>
    public static Mbuf? Input(Mbuf m, int hlen)
    {
        ArgumentNullException.ThrowIfNull(m);
        Ip.Stat(IpStat.ips_fragments);
        Span<byte> data = m.Data;
        if (data.Length < IpHeader.MinLength || hlen < IpHeader.MinLength || hlen > data.Length)
        {
            return DropFragment(m, IpStat.ips_badhlen);
        }

        var ip = new IpHeader(data);
        int total = ip.TotalLength;
        if (total < hlen)
        {
            return DropFragment(m, IpStat.ips_badlen);
        }

        if (total > data.Length)
        {
            return DropFragment(m, IpStat.ips_tooshort); // truncated
        }

        m.Truncate(total);
        int offset = ip.FragmentOffset;
        bool more = ip.MoreFragments;
        int length = total - hlen;
        if (offset == 0 && !more)
        {
            return m; // not a fragment after all
        }

        int maxfrags = Volatile.Read(ref s_maxfrags);
        if (maxfrags >= 0 && Volatile.Read(ref s_nfrags) >= maxfrags)
        {
            Ip.Stat(IpStat.ips_fragdropped); // ip_reass: all vnets together hold maxfrags already
            m.Free();
            return null;
        }

        if (length == 0 || (more && (length & 7) != 0))
        {
            return DropFragment(m, IpStat.ips_toosmall);
        }

        if (IpHeader.MinLength + offset + length > IpHeader.MaxPacket)
        {
            return DropFragment(m, IpStat.ips_toolong);
        }

        var key = new ReassKey(ip.Source, ip.Destination, ip.Id, ip.Protocol);
        m = Compact(m);
        var fragment = new Fragment(offset, length, more, hlen, m);
        ReassQueue? complete = null;
        List<Fragment>? dropped = null;
        ReassTable table = V_ipq;
        lock (table)
        {
            if (!table.Queues.TryGetValue(key, out ReassQueue? q))
            {
                if (table.Queues.Count >= Ip.MaxFragPackets)
                {
                    dropped = [fragment];
                }
                else
                {
                    q = new ReassQueue(Now);
                    table.Queues.Add(key, q);
                }
            }

            if (q is not null)
            {
                switch (Insert(q, fragment))
                {
                    case InsertResult.Queued:
                        Interlocked.Increment(ref s_nfrags);
                        if (q.Fragments.Count > Ip.MaxFragsPerPacket)
                        {
                            Unlink(table, key, q);
                            dropped = q.Fragments;
                        }
                        else if (q.IsComplete)
                        {
                            Unlink(table, key, q);
                            complete = q;
                        }

                        break;
                    case InsertResult.Duplicate:
                        dropped = [fragment];
                        break;
                    default:
                        Unlink(table, key, q);
                        dropped = [.. q.Fragments, fragment];
                        break;
                }
            }
        }

        if (dropped is not null)
        {
            Ip.Stat(IpStat.ips_fragdropped, dropped.Count);
            Free(dropped);
            return null;
        }

        return complete is null ? null : Assemble(complete);
    }

    /// <summary>ip_slowtimo's share: expires queues older than IPFRAGTTL and trims the table to maxfragpackets.</summary>
    internal static void Tick()
    {
        ReassTable table = V_ipq;
        long now = Now;
        List<ReassQueue>? expired = null, trimmed = null;
        lock (table)
        {
            if (table.Queues.Count == 0)
            {
                return;
            }

            foreach ((ReassKey key, ReassQueue q) in table.Queues)
            {
                if (now - q.CreatedMs >= TimeToLiveMs)
                {
                    (expired ??= []).Add(q);
                    table.RemoveLater.Add(key);
                }
            }

            foreach (ReassKey key in table.RemoveLater)
            {
                Unlink(table, key, table.Queues[key]);
            }

            table.RemoveLater.Clear();
            int excess = table.Queues.Count - Ip.MaxFragPackets;
            if (excess > 0)
            {
                foreach ((ReassKey key, ReassQueue q) in table.Queues.OrderBy(p => p.Value.CreatedMs).Take(excess).ToList())
                {
                    Unlink(table, key, q);
                    (trimmed ??= []).Add(q);
                }
            }
        }

        foreach (ReassQueue q in expired ?? [])
        {
            Ip.Stat(IpStat.ips_fragtimeout, q.Fragments.Count);
            Fragment? first = null;
            foreach (Fragment f in q.Fragments)
            {
                if (f.Offset == 0 && first is null)
                {
                    first = f;
                }
                else
                {
                    f.Buffer.Free();
                }
            }

            if (first is { } head)
            {
                Icmp.Error(head.Buffer, IcmpType.TimeExceeded, IcmpCode.TimeExceededReassembly);
            }
        }

        foreach (ReassQueue q in trimmed ?? [])
        {
            Ip.Stat(IpStat.ips_fragdropped, q.Fragments.Count);
            Free(q.Fragments);
        }
    }

    /// <summary>ip_drain: frees every queue of the current vnet (counted as dropped fragments).</summary>
    public static void Drain()
    {
        foreach (ReassQueue q in TakeAll())
        {
            Ip.Stat(IpStat.ips_fragdropped, q.Fragments.Count);
            Free(q.Fragments);
        }
    }

    [VnetSysuninit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_SECOND)]
    private static void ipreass_vnet_destroy()
    {
        foreach (ReassQueue q in TakeAll())
        {
            Free(q.Fragments); // the vnet is going away: nothing left to count in
        }
    }

    /// <summary>Empties the current vnet's table, returning what it held.</summary>
    private static List<ReassQueue> TakeAll()
    {
        ReassTable table = V_ipq;
        lock (table)
        {
            List<ReassQueue> all = [.. table.Queues.Values];
            table.Queues.Clear();
            foreach (ReassQueue q in all)
            {
                Interlocked.Add(ref s_nfrags, -q.Fragments.Count);
            }

            return all;
        }
    }

    /// <summary>Takes a queue out of the table (under its lock); its fragments no longer count in nfrags.</summary>
    private static void Unlink(ReassTable table, ReassKey key, ReassQueue q)
    {
        table.Queues.Remove(key);
        Interlocked.Add(ref s_nfrags, -q.Fragments.Count);
    }

    private static InsertResult Insert(ReassQueue q, Fragment f)
    {
        int end = f.Offset + f.Length;
        if (!f.More)
        {
            if (q.End >= 0 && q.End != end)
            {
                return InsertResult.Inconsistent; // a second last fragment with another end
            }

            foreach (Fragment other in q.Fragments)
            {
                if (other.Offset + other.Length > end)
                {
                    return InsertResult.Inconsistent; // data beyond the end
                }
            }
        }
        else if (q.End >= 0 && end > q.End)
        {
            return InsertResult.Inconsistent;
        }

        int position = q.Fragments.Count;
        for (int i = 0; i < q.Fragments.Count; i++)
        {
            Fragment other = q.Fragments[i];
            if (other.Offset < end && f.Offset < other.Offset + other.Length)
            {
                return other.Offset == f.Offset && other.Length == f.Length && other.More == f.More
                    ? InsertResult.Duplicate
                    : InsertResult.Inconsistent;
            }

            if (other.Offset > f.Offset && position == q.Fragments.Count)
            {
                position = i;
            }
        }

        q.Fragments.Insert(position, f);
        if (!f.More)
        {
            q.End = end;
        }

        return InsertResult.Queued;
    }

    private static Mbuf? Assemble(ReassQueue q)
    {
        Fragment first = q.Fragments[0];
        int size = first.Hlen + q.End;
        if (size > IpHeader.MaxPacket)
        {
            Ip.Stat(IpStat.ips_toolong);
            Ip.Stat(IpStat.ips_fragdropped, q.Fragments.Count);
            Free(q.Fragments);
            return null;
        }

        Mbuf? whole = MbufPool.GetFor(size);
        if (whole is null)
        {
            Ip.Stat(IpStat.ips_fragdropped, q.Fragments.Count);
            Free(q.Fragments);
            return null;
        }

        Span<byte> bytes = whole.Append(size);
        first.Buffer.Data[..first.Hlen].CopyTo(bytes);
        foreach (Fragment f in q.Fragments)
        {
            f.Buffer.Data.Slice(f.Hlen, f.Length).CopyTo(bytes[(first.Hlen + f.Offset)..]);
        }

        var ip = new IpHeader(bytes)
        {
            TotalLength = size,
        };
        ip.FragmentField &= unchecked((ushort)~(IpHeader.FlagMoreFragments | IpHeader.OffsetMask));
        ip.UpdateChecksum();
        whole.ReceiveInterface = first.Buffer.ReceiveInterface;
        whole.Fib = first.Buffer.Fib;
        whole.Flags = first.Buffer.Flags;
        Free(q.Fragments);
        Ip.Stat(IpStat.ips_reassembled);
        return whole;
    }

    /// <summary>Copies a fragment out of a jumbo buffer into a cluster when it fits, so queued fragments pin clusters only.</summary>
    private static Mbuf Compact(Mbuf m)
    {
        if (m.Pool == MbufPool.Clusters || m.Length + Mbuf.Headroom > MbufPool.Clusters.BufferSize)
        {
            return m;
        }

        Mbuf? small = MbufPool.Clusters.Get();
        if (small is null)
        {
            return m;
        }

        small.SetData(m.Data);
        small.ReceiveInterface = m.ReceiveInterface;
        small.Fib = m.Fib;
        small.Flags = m.Flags;
        m.Free();
        return small;
    }

    private static Mbuf? DropFragment(Mbuf m, IpStat reason)
    {
        Ip.Stat(reason);
        Ip.Stat(IpStat.ips_fragdropped);
        m.Free();
        return null;
    }

    private static void Free(List<Fragment> fragments)
    {
        foreach (Fragment f in fragments)
        {
            f.Buffer.Free();
        }
    }

    internal enum InsertResult
    {
        Queued,
        Duplicate,
        Inconsistent,
    }

    internal readonly record struct ReassKey(InAddr Source, InAddr Destination, ushort Id, byte Protocol);

    internal readonly record struct Fragment(int Offset, int Length, bool More, int Hlen, Mbuf Buffer);

    internal sealed class ReassQueue(long createdMs)
    {
        public long CreatedMs { get; } = createdMs;

        /// <summary>Sorted by offset, never overlapping.</summary>
        public List<Fragment> Fragments { get; } = [];

        /// <summary>Payload length once the last fragment (MF clear) is in, else -1.</summary>
        public int End { get; set; } = -1;

        public bool IsComplete
        {
            get
            {
                if (End < 0)
                {
                    return false;
                }

                int next = 0;
                foreach (Fragment f in Fragments)
                {
                    if (f.Offset != next)
                    {
                        return false;
                    }

                    next += f.Length;
                }

                return next == End;
            }
        }
    }

    /// <summary>struct ipqbucket's role: the vnet's queues behind one lock (netisr threads may reassemble at once).</summary>
    internal sealed class ReassTable
    {
        public Dictionary<ReassKey, ReassQueue> Queues { get; } = [];

        public List<ReassKey> RemoveLater { get; } = [];
    }
}
