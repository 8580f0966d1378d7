using Vimage.Core;
using Vimage.Net.Arp;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Udp;

namespace Vimage.Net.Tests;

/// <summary>kern.ipc.vnet_mbuf_share in either build mode: a vnet's allocations stop at its share.</summary>
public class MbufShareCapTests
{
    [Fact]
    public void AllocationsInAVnetStopAtItsShareAndFreeingGivesItBack()
    {
        object share = Sysctl.Get("kern.ipc.vnet_mbuf_share")!;
        Sysctl.Set("kern.ipc.vnet_mbuf_share", "1");
        var taken = new List<Mbuf>();
        MbufAccount account = MbufShare.Of(Vnet.Vnet0);
        long held = account.Held(MbufPool.Clusters);
        try
        {
            long cap = MbufShare.Cap(MbufPool.Clusters);
            long denied = account.Denied, failures = MbufPool.Clusters.Failures;
            using (Curvnet.Set(Vnet.Vnet0))
            {
                while (MbufPool.Clusters.Get() is { } m)
                {
                    taken.Add(m);
                    Assert.True(taken.Count <= cap, "allocated beyond the vnet's share");
                }
            }

            Assert.Equal(cap - held, taken.Count);
            Assert.Equal(cap, account.Held(MbufPool.Clusters));
            Assert.Equal(denied + 1, account.Denied);
            Assert.Equal(failures + 1, MbufPool.Clusters.Failures);

            // Outside every vnet (a driver's receive thread) nothing is charged until if_input.
            Mbuf uncharged = MbufPool.Clusters.Get()!;
            Assert.Equal(cap, account.Held(MbufPool.Clusters));
            uncharged.Free();
        }
        finally
        {
            foreach (Mbuf m in taken)
            {
                m.Free();
            }

            Sysctl.Set("kern.ipc.vnet_mbuf_share", share);
        }

        Assert.Equal(held, account.Held(MbufPool.Clusters)); // every buffer freed went back to the vnet's share
    }
}

#if VIMAGE
/// <summary>
/// One vnet cannot starve the others of buffers: net.inet.ip.maxfrags bounds all reassembly queues together, and
/// kern.ipc.vnet_mbuf_share bounds what any one vnet holds, whatever it sets for itself.
/// </summary>
public class MbufShareTests
{
    /// <summary>The per-vnet limits a hostile jail can set from inside, at their maximum.</summary>
    private static readonly (string Name, string Value)[] JailMaximums =
    [
        ("net.inet.ip.maxfragpackets", "1048576"),
        ("net.inet.ip.maxfragsperpacket", "1024"),
        ("net.link.ether.inet.maxhold", "256"),
        ("net.link.ether.inet.maxtries", "100"),
        ("net.link.ether.inet.wait", "3600"),
    ];

    /// <summary>A frame received by <paramref name="ifp"/> the way a driver hands it over: allocated outside every vnet, input inside its own.</summary>
    private static void Receive(Ifnet ifp, byte[] frame)
    {
        Mbuf m = MbufPool.Clusters.Get()!;
        Assert.True(m.SetData(frame));
        using (Curvnet.Set(ifp.Vnet))
        {
            ifp.Input(m);
        }
    }

    private static byte[] FirstFragment(Ifnet from, Ifnet to, ushort id)
        => FragSupport.EtherFrame(to.Lladdr, from.Lladdr,
            FragSupport.Packet(InAddr.Parse("192.0.2.1"), InAddr.Parse("192.0.2.2"), id, IpProto.Udp, 0, more: true, new byte[64]));

    /// <summary>A flooder linked to the hostile jail, and a peer linked to a neighbour, all on the same buffer zones.</summary>
    private static (Vnet Flooder, Vnet Jail, Ifnet FlooderIf, Ifnet JailIf, Vnet Peer, Vnet Neighbour) Build(Topology t, string name)
    {
        Vnet flooder = t.NewVnet(name + "-f"), jail = t.NewVnet(name + "-h");
        Vnet peer = t.NewVnet(name + "-p"), neighbour = t.NewVnet(name + "-n");
        (Ifnet fh, Ifnet hf) = t.Link(flooder, "192.0.2.1/24", jail, "192.0.2.2/24");
        t.Link(peer, "198.51.100.1/24", neighbour, "198.51.100.2/24");
        HostileSettings(jail);
        return (flooder, jail, fh, hf, peer, neighbour);
    }

    private static void HostileSettings(Vnet jail)
    {
        foreach ((string name, string value) in JailMaximums)
        {
            Sysctl.Set(name, value, jail);
        }

        // The global bounds are not the jail's to raise.
        Assert.Throws<SysctlException>(() => Sysctl.Set("net.inet.ip.maxfrags", "-1", jail));
        Assert.Throws<SysctlException>(() => Sysctl.Set("kern.ipc.vnet_mbuf_share", "100", jail));
    }

    private static void AssertNeighbourWorks(Vnet peer, Vnet neighbour)
    {
        using var probe = new EchoProbe(peer);
        Assert.Equal(0, probe.Send("198.51.100.2", 1));
        Assert.True(probe.WaitFor(1), "the neighbour's ping failed");

        using UdpSocket server = UdpSocket.Create(neighbour), client = UdpSocket.Create(peer);
        server.Bind(InAddr.Parse("198.51.100.2"), 7);
        client.SendTo("ping"u8, InAddr.Parse("198.51.100.2"), 7);
        byte[] buffer = new byte[64];
        int n = server.ReceiveFrom(buffer, out InAddr from, out ushort port, 5000);
        Assert.Equal("ping"u8.ToArray(), buffer[..n]);
        server.SendTo("pong"u8, from, port);
        n = client.ReceiveFrom(buffer, out _, out _, 5000);
        Assert.Equal("pong"u8.ToArray(), buffer[..n]);
    }

    [Fact]
    public void MaxfragsBoundsAllVnetsQueuesTogetherAndOnlyTheHostSetsIt()
    {
        long baseline = MbufPool.Clusters.Outstanding;
        object maxfrags = Sysctl.Get("net.inet.ip.maxfrags")!;
        Assert.Equal((int)(MbufPool.Clusters.Limit / 32), (int)maxfrags); // IP_MAXFRAGS: nmbclusters / 32
        using (var t = new Topology())
        {
            var (_, jail, fh, hf, peer, neighbour) = Build(t, "maxfrags");
            int held = (int)Sysctl.Get("net.inet.ip.curfrags")!;
            Sysctl.Set("net.inet.ip.maxfrags", (held + 300).ToString(System.Globalization.CultureInfo.InvariantCulture));
            try
            {
                long dropped = FragSupport.Ipstat(jail, IpStat.ips_fragdropped);
                for (ushort id = 1; id <= 500; id++)
                {
                    Receive(hf, FirstFragment(fh, hf, id));
                }

                Assert.Equal(held + 300, (int)Sysctl.Get("net.inet.ip.curfrags")!);
                Assert.Equal(300, FragSupport.In(jail, () => IpReass.FragmentCount));
                Assert.Equal(dropped + 200, FragSupport.Ipstat(jail, IpStat.ips_fragdropped));
                Assert.Equal(500, FragSupport.Ipstat(jail, IpStat.ips_fragments));
                AssertNeighbourWorks(peer, neighbour);

                using (Curvnet.Set(jail))
                {
                    IpReass.Drain();
                }

                Assert.Equal(held, (int)Sysctl.Get("net.inet.ip.curfrags")!);
            }
            finally
            {
                Sysctl.Set("net.inet.ip.maxfrags", maxfrags);
            }
        }

        Assert.True(Frames.WaitFor(() => MbufPool.Clusters.Outstanding == baseline), $"leak: {MbufPool.Clusters.Outstanding} outstanding, {baseline} before");
    }

    [Fact]
    public void AHostileJailAtItsMaximumsHoldsNoMoreThanItsShareAndItsNeighboursKeepWorking()
    {
        long baseline = MbufPool.Clusters.Outstanding;
        object share = Sysctl.Get("kern.ipc.vnet_mbuf_share")!;
        Sysctl.Set("kern.ipc.vnet_mbuf_share", "1"); // 1% of 262,144 clusters: a cap the test can reach quickly
        long cap = MbufShare.Cap(MbufPool.Clusters);
        Assert.Equal(MbufPool.Clusters.Limit / 100, cap);
        try
        {
            using (var t = new Topology())
            {
                var (flooder, jail, fh, hf, peer, neighbour) = Build(t, "share");
                using (var warm = new EchoProbe(flooder))
                {
                    Assert.Equal(0, warm.Send("192.0.2.2", 1));
                    Assert.True(warm.WaitFor(1)); // ARP resolved both ways: nothing left in flight
                }

                MbufAccount account = MbufShare.Of(jail);
                Assert.True(Frames.WaitFor(() => account.Held(MbufPool.Clusters) == 0));

                // Socket buffers: datagrams queued on the jail's socket count against the jail, not their sender.
                using UdpSocket sink = UdpSocket.Create(jail);
                sink.ReceiveBufferSize = Vimage.Net.Sockets.SockBuf.MaxSockBuf;
                sink.Bind(InAddr.Parse("192.0.2.2"), 9);
                using (UdpSocket source = UdpSocket.Create(flooder))
                {
                    for (int i = 0; i < 300; i++)
                    {
                        source.SendTo(new byte[32], InAddr.Parse("192.0.2.2"), 9);
                    }
                }

                Assert.True(Frames.WaitFor(() => account.Held(MbufPool.Clusters) == 300), $"jail holds {account.Held(MbufPool.Clusters)}");
                Assert.Equal(0, MbufShare.Of(flooder).Held(MbufPool.Clusters));

                // ARP hold queues: the jail sends to addresses nobody has until it cannot get a buffer.
                int sent = 0;
                using (Curvnet.Set(jail))
                {
                    while (MbufPool.Clusters.Get() is { } m)
                    {
                        m.Append(8).Clear();
                        IpOutput.Send(m, InAddr.Any, new InAddr(InAddr.Parse("192.0.2.100").Value + (uint)(sent / 200)), 253);
                        Assert.True(++sent < 1_000_000);
                    }
                }

                Assert.InRange(account.Held(MbufPool.Clusters), cap - 100, cap); // ARP requests in flight may still be freed
                long denied = account.Denied;

                // Reassembly queues: fragments received beyond the share are dropped at if_input and counted.
                long iqdrops = hf.Counter(IfCounter.IFCOUNTER_IQDROPS);
                int queuedBefore = FragSupport.In(jail, () => IpReass.FragmentCount);
                const int Flood = 2000;
                for (int id = 1; id <= Flood; id++)
                {
                    Receive(hf, FirstFragment(fh, hf, (ushort)id));
                }

                int queued = FragSupport.In(jail, () => IpReass.FragmentCount) - queuedBefore;
                long refused = hf.Counter(IfCounter.IFCOUNTER_IQDROPS) - iqdrops;
                Assert.Equal(Flood, queued + refused);
                Assert.True(refused > Flood - 100, $"only {refused} of {Flood} fragments refused");
                Assert.Equal(denied + refused, account.Denied);
                Assert.True(account.Held(MbufPool.Clusters) <= cap);

                // Its neighbours, and the vnet it floods from, still work.
                AssertNeighbourWorks(peer, neighbour);
                Assert.True(MbufShare.Of(neighbour).Held(MbufPool.Clusters) < cap);

                // Released queue by queue, the jail's account returns to exactly nothing.
                sink.Close();
                using (Curvnet.Set(jail))
                {
                    IpReass.Drain();
                    foreach (LlEntry entry in ArpLayer.Table.Entries.Where(e => e.State == LlState.Incomplete))
                    {
                        Assert.True(ArpLayer.Delete(entry.Address));
                    }
                }

                Assert.True(Frames.WaitFor(() => account.Held(MbufPool.Clusters) == 0), $"jail still holds {account.Held(MbufPool.Clusters)}");
            }

            Assert.True(Frames.WaitFor(() => MbufPool.Clusters.Outstanding == baseline), $"leak: {MbufPool.Clusters.Outstanding} outstanding, {baseline} before");
        }
        finally
        {
            Sysctl.Set("kern.ipc.vnet_mbuf_share", share);
        }
    }
}
#endif
