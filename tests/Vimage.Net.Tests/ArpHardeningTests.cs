using System.Buffers.Binary;
using System.Collections.Concurrent;
using Vimage.Core;
using Vimage.Net.Arp;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Net.Tests;

#if VIMAGE
/// <summary>in_arpinput's rules for learning senders, the per-vnet table bound, arpresolve's errors and arp_refresh.</summary>
public class ArpHardeningTests
{
    /// <summary>An Ethernet ARP request "who has <paramref name="target"/>, tell <paramref name="sender"/>" from <paramref name="mac"/>.</summary>
    private static byte[] Request(byte[] mac, InAddr sender, InAddr target)
    {
        byte[] f = new byte[14 + 28];
        Frames.Broadcast.CopyTo(f, 0);
        mac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        Span<byte> p = f.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(p, 1);
        BinaryPrimitives.WriteUInt16BigEndian(p[2..], 0x0800);
        p[4] = 6;
        p[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(p[6..], 1);
        mac.CopyTo(p[8..]);
        sender.Write(p[14..]);
        target.Write(p[24..]);
        return f;
    }

    private static byte[] Mac(int i) => [0x02, 0x00, 0x5e, (byte)(i >> 16), (byte)(i >> 8), (byte)i];

    [Fact]
    public void RequestsFromSendersOffTheInterfaceNetworkAreAnsweredButCreateNoEntry()
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("arp-flood-a"), b = t.NewVnet("arp-flood-b");
        (Ifnet ia, Ifnet ib) = t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        int before = ArpLayer.TableOf(b).Count;
        long replies = Stats.Arp(b, ArpStat.txreplies);
        const int Flood = 200;
        for (int i = 0; i < Flood; i++)
        {
            // Random-looking senders in 10/8: none is on ib's network.
            Assert.True(Frames.Send(ia, Request(Mac(i + 1), new InAddr(0x0a000000u | (uint)(i * 7919 + 1)), InAddr.Parse("192.0.2.2"))));
        }

        // Gratuitous ARPs from setting the link up may still arrive: wait for these requests' own counts.
        Assert.True(Frames.WaitFor(() => Stats.Arp(b, ArpStat.notonnet) == Flood && Stats.Arp(b, ArpStat.txreplies) == replies + Flood),
            $"{Stats.Arp(b, ArpStat.notonnet)} of {Flood} requests refused an entry");
        Assert.Equal(before, ArpLayer.TableOf(b).Count);
        Assert.Equal(0, Stats.Arp(b, ArpStat.wrongiface));
        Assert.Equal(replies + Flood, Stats.Arp(b, ArpStat.txreplies)); // still answered, as in_arpinput does
        Assert.Null(ArpLayer.TableOf(b).Find(ib, new InAddr(0x0a000001u)));
    }

    [Fact]
    public void ASenderOnAnotherInterfacesNetworkIsLoggedAsWrongInterfaceAndNotLearned()
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("arp-wi-a"), b = t.NewVnet("arp-wi-b"), c = t.NewVnet("arp-wi-c");
        (Ifnet ia, Ifnet ib) = t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        (Ifnet bc, _) = t.Link(b, "198.51.100.1/24", c, "198.51.100.2/24");
        var log = new ConcurrentQueue<string>();
        Action<string> sink = log.Enqueue;
        object maxpps = Sysctl.Get("net.link.ether.inet.max_log_per_second")!;
        Sysctl.Set("net.link.ether.inet.max_log_per_second", "1000");
        ArpLayer.Logged += sink;
        try
        {
            Assert.True(Frames.Send(ia, Request(Mac(7), InAddr.Parse("198.51.100.9"), InAddr.Parse("192.0.2.2"))));
            // The counter is bumped before the message is formatted and logged: wait for the message itself.
            string expected = $"arp: 198.51.100.9 is on {bc.Name} but got reply from 02:00:5e:00:00:07 on {ib.Name}";
            Assert.True(Frames.WaitFor(() => log.Contains(expected)), $"not logged: {expected}; got [{string.Join("; ", log)}]");
            Assert.Equal(1, Stats.Arp(b, ArpStat.wrongiface));
            Assert.Null(ArpLayer.TableOf(b).FindAny(InAddr.Parse("198.51.100.9")));

            Sysctl.Set("net.link.ether.inet.log_arp_wrong_iface", "0");
            Assert.Throws<SysctlException>(() => Sysctl.Set("net.link.ether.inet.log_arp_wrong_iface", "1", b)); // global
            Assert.True(Frames.Send(ia, Request(Mac(8), InAddr.Parse("198.51.100.10"), InAddr.Parse("192.0.2.2"))));
            Assert.True(Frames.WaitFor(() => Stats.Arp(b, ArpStat.wrongiface) == 2));
            // A sender on no network of ours is still logged; frames on one link are handled in order, so once its
            // message is here the one before it would be too, had it been logged.
            Assert.True(Frames.Send(ia, Request(Mac(9), InAddr.Parse("203.0.113.77"), InAddr.Parse("192.0.2.2"))));
            Assert.True(Frames.WaitFor(() => log.Contains("arp: IPv4 address: \"203.0.113.77\" is not on the network")));
            // Counted, not logged (other tests' ARP messages may reach this sink; only ours matter).
            Assert.DoesNotContain(log, m => m.Contains("198.51.100.10", StringComparison.Ordinal));
        }
        finally
        {
            ArpLayer.Logged -= sink;
            Sysctl.Set("net.link.ether.inet.log_arp_wrong_iface", "1");
            Sysctl.Set("net.link.ether.inet.max_log_per_second", maxpps);
        }
    }

    [Fact]
    public void OnlyRequestsToUsCreateEntriesAndTheTableIsBoundedPerVnet()
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("arp-cap-a"), b = t.NewVnet("arp-cap-b");
        (Ifnet ia, Ifnet ib) = t.Link(a, "10.1.0.1/16", b, "10.1.0.2/16");
        object max = Sysctl.Get("net.link.ether.inet.max_entries")!;
        Assert.Throws<SysctlException>(() => Sysctl.Set("net.link.ether.inet.max_entries", "1000000", b)); // a jail cannot raise it
        Sysctl.Set("net.link.ether.inet.max_entries", "50");
        try
        {
            long received = Stats.Arp(b, ArpStat.rxrequests);

            // Requests for someone else's address teach us nothing.
            for (int i = 0; i < 20; i++)
            {
                Assert.True(Frames.Send(ia, Request(Mac(i + 1), new InAddr(0x0a010100u + (uint)i), InAddr.Parse("10.1.0.99"))));
            }

            Assert.True(Frames.WaitFor(() => Stats.Arp(b, ArpStat.rxrequests) >= received + 20));
            Assert.Equal(0, ArpLayer.TableOf(b).Count);

            for (int i = 0; i < 80; i++)
            {
                Assert.True(Frames.Send(ia, Request(Mac(i + 100), new InAddr(0x0a010200u + (uint)i), InAddr.Parse("10.1.0.2"))));
            }

            Assert.True(Frames.WaitFor(() => Stats.Arp(b, ArpStat.txreplies) == 80), "every request to us is answered, entry or not");
            Assert.Equal(50, ArpLayer.TableOf(b).Count);
            Assert.Equal(30, Stats.Arp(b, ArpStat.tablefull));
            Assert.All(ArpLayer.TableOf(b).Entries, e => Assert.Equal(0x0a010200u, e.Address.Value & 0xffffff00u)); // none from the first batch
            Assert.Equal(0, ArpLayer.TableOf(a).Count); // the other vnet's table is its own
        }
        finally
        {
            Sysctl.Set("net.link.ether.inet.max_entries", max);
        }
    }

    [Fact]
    public void AfterMaxtriesAGatewayIsUnreachableAndAnOnLinkHostIsDown()
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("arp-gw-a"), b = t.NewVnet("arp-gw-b");
        t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        Sysctl.Set("net.link.ether.inet.maxtries", "1", a);
        using (Curvnet.Set(a))
        {
            Routes.AddGateway(InAddr.Parse("203.0.113.0"), 24, InAddr.Parse("192.0.2.77")); // nobody answers for .77
        }

        using var probe = new EchoProbe(a);
        Assert.Equal(0, probe.Send("203.0.113.9", 1)); // held while asking
        Assert.Equal(0, probe.Send("192.0.2.78", 1));
        using var clock = new NetClock(NetTimers.NowMs);
        clock.TickAt(clock.Now + 1500); // maxtries (1) requests a second apart went unanswered
        using (Curvnet.Set(a))
        {
            Assert.Equal(LlState.Down, ArpLayer.Table.FindAny(InAddr.Parse("192.0.2.77"))!.State);
            Assert.Equal(LlState.Down, ArpLayer.Table.FindAny(InAddr.Parse("192.0.2.78"))!.State);
        }

        Assert.Equal(Errno.EHOSTUNREACH, probe.Send("203.0.113.9", 2));
        Assert.Equal(Errno.EHOSTDOWN, probe.Send("192.0.2.78", 2));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AnEntryUsedNearExpiryIsRefreshedAndAnUnusedOneExpires(bool used)
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("arp-refresh-a"), b = t.NewVnet("arp-refresh-b");
        (Ifnet ia, _) = t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        using var probe = new EchoProbe(a);
        Assert.Equal(0, probe.Send("192.0.2.2", 1));
        Assert.True(probe.WaitFor(1));
        LlEntry entry = ArpLayer.TableOf(a).Find(ia, InAddr.Parse("192.0.2.2"))!;
        long expires = entry.ExpiresAtMs;
        long requests = Stats.Arp(a, ArpStat.txrequests), timeouts = Stats.Arp(a, ArpStat.timeouts);
        using var clock = new NetClock(expires - 5000 + 1);
        clock.TickAt(clock.Now); // maxtries (5) seconds before expiry: arptimer asks the data path for feedback
        if (used)
        {
            Assert.Equal(0, probe.Send("192.0.2.2", 2));
        }

        clock.TickAt(clock.Now + 1000);
        Assert.Equal(requests + (used ? 1 : 0), Stats.Arp(a, ArpStat.txrequests)); // arptimer's refresh request
        if (used)
        {
            Assert.True(Frames.WaitFor(() => entry.ExpiresAtMs > expires), "the refresh was not answered");
        }

        clock.TickAt(expires + 1000);
        if (used)
        {
            Assert.Same(entry, ArpLayer.TableOf(a).Find(ia, InAddr.Parse("192.0.2.2")));
            Assert.Equal(LlState.Reachable, entry.State);
            Assert.Equal(timeouts, Stats.Arp(a, ArpStat.timeouts));
        }
        else
        {
            Assert.Null(ArpLayer.TableOf(a).Find(ia, InAddr.Parse("192.0.2.2")));
            Assert.Equal(timeouts + 1, Stats.Arp(a, ArpStat.timeouts));
        }
    }
}
#endif
