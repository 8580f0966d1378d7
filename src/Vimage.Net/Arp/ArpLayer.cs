using System.Buffers.Binary;
using Vimage.Net.Ether;
using Vimage.Net.Inet;

namespace Vimage.Net.Arp;

/// <summary>
/// ARP (netinet/if_ether.c): resolution with a bounded hold queue, retransmission once a second up to maxtries,
/// expiry after max_age, static entries, gratuitous ARP when an address is configured, replies for our
/// addresses (proxy ARP off by default). Malformed packets are dropped and counted.
/// </summary>
public static partial class ArpLayer
{
    /// <summary>Resolve's result when the packet was queued to wait for the answer.</summary>
    public const int Held = EtherLayer.Held;

    /// <summary>
    /// ether_output's AF_INET case: the broadcast station for 255.255.255.255 (ip_output passes that for any
    /// broadcast, a subnet's included), RFC 1112's 01:00:5e mapping for a multicast group, otherwise arpresolve.
    /// </summary>
    internal static int ResolveInet(Ifnet ifp, Mbuf m, in Sockaddr dst, Span<byte> mac)
    {
        InAddr nextHop = InAddr.From(in dst);
        if (nextHop.IsBroadcast)
        {
            EtherLayer.BroadcastMac.CopyTo(mac);
            m.Flags |= MbufFlags.Broadcast;
            return 0;
        }

        if (nextHop.IsMulticast)
        {
            mac[0] = 0x01;
            mac[1] = 0x00;
            mac[2] = 0x5e;
            mac[3] = (byte)((nextHop.Value >> 16) & 0x7f);
            mac[4] = (byte)(nextHop.Value >> 8);
            mac[5] = (byte)nextHop.Value;
            m.Flags |= MbufFlags.Multicast;
            return 0;
        }

        // is_gw: the next hop is a router, not the destination itself (arpresolve's EHOSTUNREACH vs EHOSTDOWN).
        bool gateway = m.Length >= IpHeader.MinLength && new IpHeader(m.Data).Destination != nextHop;
        return Resolve(ifp, m, nextHop, mac, gateway);
    }

    private const int ArpLength = 28;

    /// <summary>
    /// arpresolve: fills <paramref name="mac"/> or holds / drops the packet (returns Held or an errno). After
    /// maxtries unanswered requests the error is EHOSTUNREACH when <paramref name="gateway"/> (the next hop is a
    /// router for the destination) and EHOSTDOWN for an on-link host, as arpresolve_full returns them.
    /// </summary>
    internal static int Resolve(Ifnet ifp, Mbuf m, InAddr nextHop, Span<byte> mac, bool gateway = false)
    {
        ArpTable table = V_arptable;
        LlEntry? entry = table.Find(ifp, nextHop);
        long now = NetTimers.NowMs;
        if (entry is not null)
        {
            lock (entry.Lock)
            {
                if (entry.State == LlState.Static || (entry.State == LlState.Reachable && now < entry.ExpiresAtMs))
                {
                    entry.Mac.CopyTo(mac);
                    entry.Used = true; // llentry_provide_feedback: arptimer refreshes a used entry before it expires
                    return 0;
                }
            }
        }

        if (entry is null && (ifp.Flags & (IfFlags.IFF_NOARP | IfFlags.IFF_STATICARP)) != 0)
        {
            m.Free();
            return Errno.EINVAL; // arpresolve_full: no entry, and none may be made on a -arp or staticarp interface
        }

        entry ??= NewIncomplete(table, ifp, nextHop, now);
        if (entry is null)
        {
            // The vnet's table is full (net.link.ether.inet.max_entries): no room to wait for an answer.
            Stat(ArpStat.dropped);
            m.Free();
            return Errno.ENOBUFS;
        }

        bool ask;
        lock (entry.Lock)
        {
            if (entry.State == LlState.Static || (entry.State == LlState.Reachable && now < entry.ExpiresAtMs))
            {
                entry.Mac.CopyTo(mac);
                entry.Used = true;
                return 0;
            }

            if (entry.State == LlState.Down)
            {
                Stat(ArpStat.dropped);
                m.Free();
                return gateway ? Errno.EHOSTUNREACH : Errno.EHOSTDOWN;
            }

            if (entry.State == LlState.Reachable)
            {
                entry.State = LlState.Incomplete; // expired: ask again, keep the old address meanwhile unusable
                entry.Asked = 0;
                entry.ExpiresAtMs = now + V_arpt_down * 1000L;
            }

            if (entry.Hold.Count >= V_arp_maxhold)
            {
                Stat(ArpStat.dropped);
                entry.Hold.Dequeue().Free(); // the oldest goes, as la_hold does
            }

            entry.Hold.Enqueue(m);
            ask = entry.Asked == 0 || now - entry.LastRequestMs >= 1000;
            if (ask)
            {
                entry.Asked++;
                entry.LastRequestMs = now;
            }
        }

        if (ask)
        {
            SendRequest(ifp, InAddrs.SourceFor(ifp, nextHop), nextHop);
        }

        return Held;
    }

    // Kept out of Resolve: a lambda capturing its locals would cost a closure on every packet, hit or miss.
    private static LlEntry? NewIncomplete(ArpTable table, Ifnet ifp, InAddr nextHop, long now)
        => TryAdd(table, ifp, nextHop, () => new LlEntry(ifp, nextHop) { State = LlState.Incomplete, ExpiresAtMs = now + V_arpt_down * 1000L });

    /// <summary>A new dynamic entry unless the vnet's table holds max_entries already (counted in tablefull).</summary>
    private static LlEntry? TryAdd(ArpTable table, Ifnet ifp, InAddr address, Func<LlEntry> create)
    {
        if (table.Count >= MaxEntries && table.Find(ifp, address) is null)
        {
            Stat(ArpStat.tablefull);
            return null;
        }

        return table.GetOrAdd(ifp, address, create);
    }

    /// <summary>in_arpinput.</summary>
    internal static void Input(Ifnet ifp, Mbuf m)
    {
        Stat(ArpStat.received);
        Span<byte> p = m.Data;
        if (p.Length < ArpLength
            || BinaryPrimitives.ReadUInt16BigEndian(p) != 1
            || BinaryPrimitives.ReadUInt16BigEndian(p[2..]) != EtherLayer.TypeIp
            || p[4] != 6 || p[5] != 4)
        {
            Stat(ArpStat.rxbad);
            ifp.Count(IfCounter.IFCOUNTER_IERRORS);
            m.Free();
            return;
        }

        ushort op = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
        ReadOnlySpan<byte> senderMac = p.Slice(8, 6);
        InAddr senderIp = InAddr.Read(p[14..]);
        InAddr targetIp = InAddr.Read(p[24..]);
        if (op is not (1 or 2) || (senderMac[0] & 1) != 0)
        {
            Stat(ArpStat.rxbad);
            m.Free();
            return;
        }

        Stat(op == 1 ? ArpStat.rxrequests : ArpStat.rxreplies);
        if (senderMac.SequenceEqual(ifp.Lladdr))
        {
            m.Free(); // our own request reflected back
            return;
        }

        if (InAddrs.IsOn(ifp, senderIp))
        {
            Stat(ArpStat.dupips); // someone else claims our address
            m.Free();
            return;
        }

        bool forUs = InAddrs.IsOn(ifp, targetIp);
        if (!senderIp.IsAny && (ifp.Flags & IfFlags.IFF_STATICARP) == 0) // staticarp: in_arpinput goes to reply
        {
            LlEntry? entry = V_arptable.Find(ifp, senderIp);
            if (entry is not null)
            {
                Learn(ifp, entry, senderMac); // arp_check_update_lle: an entry we already have is updated
            }
            else if (forUs && SenderIsOnLink(ifp, senderIp, senderMac))
            {
                // in_arpinput creates an entry only for a request or reply to our own address, and
                // lltable_alloc_entry refuses a sender that is not on the interface's network (in_lltable_rtcheck).
                entry = TryAdd(V_arptable, ifp, senderIp, () => new LlEntry(ifp, senderIp) { State = LlState.Incomplete });
                if (entry is not null)
                {
                    Learn(ifp, entry, senderMac);
                }
            }
        }

        if (op == 1 && forUs)
        {
            SendPacket(ifp, 2, ifp.Lladdr, targetIp, senderMac, senderIp, senderMac);
            Stat(ArpStat.txreplies);
        }
        else if (op == 1 && V_arptable.Find(ifp, targetIp) is { Published: true } published)
        {
            // in_arpinput: a request for an address we publish (arp -s ... pub, LLE_PUB) is answered with the
            // published hardware address.
            byte[] proxyMac = published.Mac;
            SendPacket(ifp, 2, proxyMac, targetIp, senderMac, senderIp, senderMac);
            Stat(ArpStat.txreplies);
        }

        m.Free();
    }

    /// <summary>arp -s: a permanent entry (replaces a dynamic one).</summary>
    public static LlEntry AddStatic(Ifnet ifp, InAddr address, ReadOnlySpan<byte> mac) => Add(ifp, address, mac, temporary: false, published: false);

    /// <summary>
    /// arp -s HOST MAC [temp] [pub]: lla_rt_output's RTM_ADD. Without temp the entry is permanent (LLE_STATIC);
    /// with temp it is a resolved entry that expires after net.link.ether.inet.max_age like a learned one; pub
    /// sets LLE_PUB, so requests for the address are answered with <paramref name="mac"/>.
    /// </summary>
    public static LlEntry Add(Ifnet ifp, InAddr address, ReadOnlySpan<byte> mac, bool temporary, bool published)
    {
        if (mac.Length != 6)
        {
            throw new ArgumentException("an Ethernet address has 6 bytes", nameof(mac));
        }

        LlEntry entry = V_arptable.GetOrAdd(ifp, address, () => new LlEntry(ifp, address));
        Mbuf[] release;
        lock (entry.Lock)
        {
            mac.CopyTo(entry.Mac);
            entry.State = temporary ? LlState.Reachable : LlState.Static;
            entry.ExpiresAtMs = temporary ? NetTimers.NowMs + V_arpt_keep * 1000L : long.MaxValue;
            entry.Published = published;
            entry.Asked = 0;
            release = [.. entry.Hold];
            entry.Hold.Clear();
        }

        Flush(ifp, entry, release);
        return entry;
    }

    /// <summary>arp -d: false when there is no entry.</summary>
    public static bool Delete(InAddr address)
    {
        LlEntry? entry = V_arptable.FindAny(address);
        if (entry is null)
        {
            return false;
        }

        Drop(entry);
        return true;
    }

    /// <summary>Sends a gratuitous ARP announcing <paramref name="address"/> (arp_announce / garp).</summary>
    public static void Announce(Ifnet ifp, InAddr address)
    {
        if (ifp.Type != IfType.IFT_ETHER || !ifp.IsRunning)
        {
            return;
        }

        SendPacket(ifp, 1, ifp.Lladdr, address, [0, 0, 0, 0, 0, 0], address, EtherLayer.BroadcastMac);
        Stat(ArpStat.txrequests);
    }

    /// <summary>Removes every entry of an interface leaving the vnet, freeing held packets.</summary>
    internal static void Purge(Ifnet ifp)
    {
        foreach (LlEntry entry in V_arptable.OnInterface(ifp))
        {
            Drop(entry);
        }
    }

    /// <summary>
    /// arptimer: retransmits, gives up after maxtries, expires old entries. A resolved entry enters the verify
    /// phase maxtries seconds before it expires (arp_mark_lle_reachable's wtime); if the data path uses it then, a
    /// request goes out once a second, at most la_preempt (maxtries) times, so a live neighbour is refreshed
    /// before it expires instead of traffic stalling on a new resolution.
    /// </summary>
    internal static void Tick()
    {
        long now = NetTimers.NowMs;
        long verifyMs = V_arp_maxtries * 1000L;
        foreach (LlEntry entry in V_arptable.Snapshot())
        {
            bool retransmit = false, expire = false;
            lock (entry.Lock)
            {
                switch (entry.State)
                {
                    case LlState.Incomplete when entry.Asked >= V_arp_maxtries && now - entry.LastRequestMs >= 1000:
                        entry.State = LlState.Down;
                        entry.ExpiresAtMs = now + V_arpt_down * 1000L;
                        Stat(ArpStat.timeouts);
                        while (entry.Hold.TryDequeue(out Mbuf? held))
                        {
                            Stat(ArpStat.dropped);
                            held.Free();
                        }

                        break;
                    case LlState.Incomplete when now - entry.LastRequestMs >= 1000:
                        entry.Asked++;
                        entry.LastRequestMs = now;
                        retransmit = true;
                        break;
                    case LlState.Down or LlState.Reachable when now >= entry.ExpiresAtMs:
                        expire = true;
                        break;
                    case LlState.Reachable when !entry.Verifying && V_arpt_keep * 1000L > verifyMs && now >= entry.ExpiresAtMs - verifyMs:
                        entry.Verifying = true; // llentry_request_feedback
                        entry.Used = false;
                        break;
                    case LlState.Reachable when entry.Verifying && entry.Used && entry.Preempt > 0 && now - entry.LastRequestMs >= 1000:
                        entry.Preempt--;
                        entry.LastRequestMs = now;
                        retransmit = true;
                        break;
                }
            }

            if (retransmit)
            {
                SendRequest(entry.Interface, InAddrs.SourceFor(entry.Interface, entry.Address), entry.Address);
            }

            if (expire)
            {
                Stat(ArpStat.timeouts);
                Drop(entry);
            }
        }
    }

    /// <summary>
    /// in_lltable_rtcheck for a sender we would learn: it must be on a network of the receiving interface. One on
    /// another interface's network gets log_arp_wrong_iface's warning (counted in wrongiface), one on no network
    /// of ours in.c's "not on the network" (counted in notonnet). The request is still answered, as FreeBSD does.
    /// </summary>
    private static bool SenderIsOnLink(Ifnet ifp, InAddr sender, ReadOnlySpan<byte> senderMac)
    {
        Ifnet? elsewhere = null;
        foreach (InIfaddr ia in InAddrs.All)
        {
            if (!ia.Contains(sender))
            {
                continue;
            }

            if (ia.Interface == ifp)
            {
                return true;
            }

            elsewhere ??= ia.Interface;
        }

        if (elsewhere is not null)
        {
            Stat(ArpStat.wrongiface);
            if (s_log_arp_wrong_iface != 0 && LogAllowed())
            {
                Log($"{sender} is on {elsewhere.Name} but got reply from {LlEntry.FormatMac(senderMac)} on {ifp.Name}");
            }
        }
        else
        {
            Stat(ArpStat.notonnet);
            if (LogAllowed())
            {
                Log($"IPv4 address: \"{sender}\" is not on the network");
            }
        }

        return false;
    }

    private static void Learn(Ifnet ifp, LlEntry entry, ReadOnlySpan<byte> mac)
    {
        Mbuf[] release;
        lock (entry.Lock)
        {
            bool differs = !mac.SequenceEqual(entry.Mac);
            if (entry.State == LlState.Static)
            {
                // arp_check_update_lle: a permanent entry is never overwritten by the wire, only reported.
                if (differs && s_log_arp_permanent_modify != 0 && LogAllowed())
                {
                    Log($"{LlEntry.FormatMac(mac)} attempts to modify permanent entry for {entry.Address} on {ifp.Name}");
                }

                return;
            }

            if (entry.State == LlState.Reachable && differs && s_log_arp_movements != 0 && LogAllowed())
            {
                Log($"{entry.Address} moved from {LlEntry.FormatMac(entry.Mac)} to {LlEntry.FormatMac(mac)} on {ifp.Name}");
            }

            mac.CopyTo(entry.Mac);
            entry.State = LlState.Reachable; // arp_mark_lle_reachable
            entry.ExpiresAtMs = NetTimers.NowMs + V_arpt_keep * 1000L;
            entry.Asked = 0;
            entry.Preempt = V_arp_maxtries;
            entry.Verifying = false;
            entry.Used = false;
            release = [.. entry.Hold];
            entry.Hold.Clear();
        }

        Flush(ifp, entry, release);
    }

    private static void Flush(Ifnet ifp, LlEntry entry, Mbuf[] held)
    {
        foreach (Mbuf m in held)
        {
            EtherLayer.Prepend(ifp, m, entry.Mac, EtherLayer.TypeIp);
            ifp.Transmit(m);
        }
    }

    private static void Drop(LlEntry entry)
    {
        V_arptable.Remove(entry);
        lock (entry.Lock)
        {
            while (entry.Hold.TryDequeue(out Mbuf? held))
            {
                Stat(ArpStat.dropped);
                held.Free();
            }
        }
    }

    private static void SendRequest(Ifnet ifp, InAddr source, InAddr target)
    {
        if (SendPacket(ifp, 1, ifp.Lladdr, source, [0, 0, 0, 0, 0, 0], target, EtherLayer.BroadcastMac))
        {
            Stat(ArpStat.txrequests);
        }
    }

    private static bool SendPacket(Ifnet ifp, ushort op, ReadOnlySpan<byte> senderMac, InAddr senderIp,
        ReadOnlySpan<byte> targetMac, InAddr targetIp, ReadOnlySpan<byte> destination)
    {
        Mbuf? m = MbufPool.Clusters.Get();
        if (m is null)
        {
            Stat(ArpStat.txerrors);
            return false;
        }

        Span<byte> p = m.Append(ArpLength);
        BinaryPrimitives.WriteUInt16BigEndian(p, 1);
        BinaryPrimitives.WriteUInt16BigEndian(p[2..], EtherLayer.TypeIp);
        p[4] = 6;
        p[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(p[6..], op);
        senderMac.CopyTo(p[8..]);
        senderIp.Write(p[14..]);
        targetMac.CopyTo(p[18..]);
        targetIp.Write(p[24..]);
        EtherLayer.Prepend(ifp, m, destination, EtherLayer.TypeArp);
        if (destination.SequenceEqual(EtherLayer.BroadcastMac))
        {
            m.Flags |= MbufFlags.Broadcast;
        }

        ifp.Transmit(m);
        return true;
    }
}
