using System.Collections.Concurrent;
using Vimage.Core;
using Vimage.Net.Bpf;
using Vimage.Net.Inet;
using Vimage.Net.Route;
using Vimage.Net.Stack;
using static Vimage.Net.Tests.FragSupport;

namespace Vimage.Net.Tests;

/// <summary>PingSocket: what ping(8) needs, over lo0 in any build and across epairs between vnets with VIMAGE.</summary>
public class PingTests
{
    private static readonly InAddr Localhost = InAddr.Parse("127.0.0.1");

    /// <summary>lo0 gets 127.0.0.1/8 in the vnet if it has no address yet (ifconfig lo0 inet 127.0.0.1/8).</summary>
    private static void ConfigureLoopback(Vnet v)
    {
        using (Curvnet.Set(v))
        {
            NetStack.EnsureInitialized();
            Ifnet lo0 = Ifnets.Find("lo0");
            if (!InAddrs.IsOn(lo0, Localhost))
            {
                InAddrs.Add(lo0, Localhost, 8);
            }
        }
    }

    [Fact]
    public void PingLocalhostOverLo0()
    {
        Vnet v = Vnet.Vnet0;
        ConfigureLoopback(v);
        long inEcho = In(v, () => Icmp.FetchInHist(IcmpType.Echo)), outReply = In(v, () => Icmp.FetchOutHist(IcmpType.EchoReply));
        int sockets = v.SocketCount;
        using (PingSocket ping = PingSocket.Open(v))
        {
            Assert.Equal(sockets + 1, v.SocketCount);
            for (ushort seq = 0; seq < 3; seq++)
            {
                Assert.Equal(0, ping.Send(Localhost, seq));
                Assert.True(ping.TryReceive(5000, out PingReply reply), $"no reply to icmp_seq={seq}");
                Assert.Equal((PingReplyKind.EchoReply, Localhost, seq, (byte)64, 64), (reply.Kind, reply.From, reply.Sequence, reply.Ttl, reply.Bytes));
                Assert.True(reply.Rtt >= TimeSpan.Zero && reply.Rtt < TimeSpan.FromSeconds(5));
            }

            Assert.Equal(3, In(v, () => Icmp.FetchInHist(IcmpType.Echo)) - inEcho);
            Assert.Equal(3, In(v, () => Icmp.FetchOutHist(IcmpType.EchoReply)) - outReply);
            PingBarrier.NothingBefore(ping, Localhost, 3); // no duplicate of 0..2 follows
        }

        Assert.Equal(sockets, v.SocketCount);
    }

    [Fact]
    public void LargePingOverLo0IsFragmentedAndReassembled()
    {
        Vnet v = Vnet.Vnet0;
        ConfigureLoopback(v);
        long fragmented = Ipstat(v, IpStat.ips_fragmented), reassembled = Ipstat(v, IpStat.ips_reassembled);
        using PingSocket ping = PingSocket.Open(v);
        Assert.Equal(0, ping.Send(Localhost, 1, 20_000)); // lo0's MTU is 16384
        Assert.True(ping.TryReceive(5000, out PingReply reply), "no reply to the 20000-byte ping");
        Assert.Equal((PingReplyKind.EchoReply, (ushort)1, 20_008), (reply.Kind, reply.Sequence, reply.Bytes));
        Assert.Equal(2, Ipstat(v, IpStat.ips_fragmented) - fragmented);   // request and reply
        Assert.Equal(2, Ipstat(v, IpStat.ips_reassembled) - reassembled);
        Assert.Equal(Errno.EMSGSIZE, ping.Send(Localhost, 2, 65_535));
        Assert.Equal(Errno.EINVAL, ping.Send(Localhost, 3, -1));
    }

    [Fact]
    public void SocketsHaveDistinctIdentifiersAndOnlySeeTheirOwnReplies()
    {
        Vnet v = Vnet.Vnet0;
        ConfigureLoopback(v);
        using PingSocket one = PingSocket.Open(v), two = PingSocket.Open(v);
        Assert.NotEqual(one.Identifier, two.Identifier);
        Assert.Equal(0, one.Send(Localhost, 100));
        Assert.Equal(0, two.Send(Localhost, 200));
        Assert.True(one.TryReceive(5000, out PingReply r1));
        Assert.True(two.TryReceive(5000, out PingReply r2));
        Assert.Equal((100, 200), (r1.Sequence, r2.Sequence));
        Assert.False(one.TryReceive(100, out _));
        Assert.False(two.TryReceive(0, out _));
        two.Dispose();
        Assert.Throws<ObjectDisposedException>(() => two.Send(Localhost, 1));
        two.Dispose(); // twice is fine
    }

    [Fact]
    public void NoRouteIsEnetunreach()
    {
        Vnet v = Vnet.Vnet0;
        ConfigureLoopback(v);
        using PingSocket ping = PingSocket.Open(v);
        Assert.Equal(Errno.ENETUNREACH, ping.Send(InAddr.Parse("203.0.113.77"), 1));
        Assert.Equal(Errno.ENETUNREACH, ping.Send(InAddr.Parse("203.0.113.77"), 1, recordRoute: true));
    }

#if VIMAGE
    private static (Topology T, Vnet A, Vnet B, Ifnet IfA, Ifnet IfB) Pair(string name)
    {
        var t = new Topology();
        Vnet a = t.NewVnet(name + "-a"), b = t.NewVnet(name + "-b");
        (Ifnet ia, Ifnet ib) = t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        return (t, a, b, ia, ib);
    }

    [Fact]
    public void PingAcrossAnEpair()
    {
        (Topology t, Vnet a, Vnet b, _, _) = Pair("ping-epair");
        using (t)
        using (PingSocket ping = PingSocket.Open(a))
        {
            Assert.Equal(1, a.SocketCount);
            InAddr dst = InAddr.Parse("192.0.2.2");
            using (Curvnet.Set(b))
            {
                // The socket enters its own vnet whatever the caller's.
                for (ushort seq = 0; seq < 5; seq++)
                {
                    Assert.Equal(0, ping.Send(dst, seq));
                }
            }

            var seen = new List<PingReply>();
            while (seen.Count < 5 && ping.TryReceive(5000, out PingReply reply))
            {
                seen.Add(reply);
            }

            Assert.Equal([0, 1, 2, 3, 4], seen.Select(r => (int)r.Sequence).Order());
            Assert.All(seen, r => Assert.Equal((PingReplyKind.EchoReply, dst, (byte)64, 64, IcmpType.EchoReply), (r.Kind, r.From, r.Ttl, r.Bytes, r.IcmpType)));
            Assert.Equal(5, In(b, () => Icmp.FetchInHist(IcmpType.Echo)));
            Assert.Equal(5, In(b, () => Icmp.FetchOutHist(IcmpType.EchoReply)));
            Assert.Equal(5, In(a, () => Icmp.FetchInHist(IcmpType.EchoReply)));
            Assert.Equal(0, In(a, () => Icmp.FetchInHist(IcmpType.Echo)));

            Assert.Equal(0, ping.Send(dst, 9, ttl: 7));
            Assert.True(ping.TryReceive(5000, out _));
        }

        Assert.Equal(0, a.SocketCount);
    }

    [Fact]
    public void UnreachableHosts()
    {
        (Topology t, Vnet a, _, _, _) = Pair("ping-unreach");
        using (t)
        using (PingSocket ping = PingSocket.Open(a))
        {
            // No route at all.
            Assert.Equal(Errno.ENETUNREACH, ping.Send(InAddr.Parse("198.51.100.1"), 1));
            Assert.Equal(1, Ipstat(a, IpStat.ips_noroute));

            // On the subnet but nobody answers ARP: held, then nothing comes back.
            InAddr ghost = InAddr.Parse("192.0.2.99");
            int error = ping.Send(ghost, 2);
            Assert.True(error is 0 or Errno.EHOSTDOWN, $"errno {error}");
            Assert.False(ping.TryReceive(1500, out _));
        }
    }

    [Fact]
    public void RouterErrorsQuotingOurRequestsComeBackAsErrors()
    {
        using var t = new Topology();
        Vnet client = t.NewVnet("ping-client"), router = t.NewVnet("ping-router"), server = t.NewVnet("ping-server");
        t.Link(client, "192.0.2.1/24", router, "192.0.2.2/24");
        (Ifnet routerRight, Ifnet serverIf) = t.Link(router, "198.51.100.1/24", server, "198.51.100.2/24");
        using (Curvnet.Set(client))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("192.0.2.2"));
        }

        using (Curvnet.Set(server))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("198.51.100.1"));
        }

        Sysctl.Set("net.inet.ip.forwarding", "1", router);
        InAddr server1 = InAddr.Parse("198.51.100.2"), router1 = InAddr.Parse("192.0.2.2");
        using PingSocket ping = PingSocket.Open(client);

        Assert.Equal(0, ping.Send(server1, 1));
        Assert.True(ping.TryReceive(5000, out PingReply ok), "no reply through the router");
        Assert.Equal((PingReplyKind.EchoReply, server1, (byte)63), (ok.Kind, ok.From, ok.Ttl));

        // ping -m 1: the router answers time exceeded in transit, quoting our request.
        Assert.Equal(0, ping.Send(server1, 2, ttl: 1));
        Assert.True(ping.TryReceive(5000, out PingReply ttl), "no time exceeded");
        Assert.Equal((PingReplyKind.Error, router1, (ushort)2, IcmpType.TimeExceeded, IcmpCode.TimeExceededInTransit),
            (ttl.Kind, ttl.From, ttl.Sequence, ttl.IcmpType, ttl.IcmpCode));
        Assert.True(ttl.Rtt >= TimeSpan.Zero);

        // No route on the router: host unreachable.
        Assert.Equal(0, ping.Send(InAddr.Parse("203.0.113.5"), 3));
        Assert.True(ping.TryReceive(5000, out PingReply unreach), "no unreachable");
        Assert.Equal((PingReplyKind.Error, router1, (ushort)3, IcmpType.Unreach, IcmpCode.UnreachHost),
            (unreach.Kind, unreach.From, unreach.Sequence, unreach.IcmpType, unreach.IcmpCode));

        // ping -R: the router records its outgoing address in the request (seen on the server's wire).
        var options = new ConcurrentQueue<byte[]>();
        using (serverIf.Bpf.Attach((frame, _, _) =>
               {
                   if (frame.Length > 34 && frame[12] == 0x08 && frame[13] == 0 && (frame[14] & 0xf) > 5)
                   {
                       options.Enqueue(frame[34..(14 + (frame[14] & 0xf) * 4)].ToArray());
                   }
               }, Direction.In))
        {
            Assert.Equal(0, ping.Send(server1, 4, recordRoute: true));
            Assert.True(ping.TryReceive(5000, out PingReply rr), "no reply to ping -R");
            Assert.Equal((PingReplyKind.EchoReply, (ushort)4), (rr.Kind, rr.Sequence));
        }

        Assert.True(options.TryDequeue(out byte[]? rrOption));
        Assert.Equal(40, rrOption.Length);
        Assert.Equal((IpOptions.OptRecordRoute, 39, 8), (rrOption[0], (int)rrOption[1], (int)rrOption[2]));
        Assert.Equal(InAddr.Parse("198.51.100.1"), InAddr.Read(rrOption.AsSpan(3)));

        // A large ping -R through the router: fragments carry the option in the first fragment only.
        Assert.Equal(0, ping.Send(server1, 5, 3000, recordRoute: true));
        Assert.True(ping.TryReceive(5000, out PingReply big), "no reply to the large ping -R");
        Assert.Equal((PingReplyKind.EchoReply, (ushort)5, 3008), (big.Kind, big.Sequence, big.Bytes));
    }

    [Fact]
    public void DestroyedVnetFailsCleanly()
    {
        Vnet v = Vnet.Create("ping-dead");
        PingSocket ping = PingSocket.Open(v);
        Assert.Equal(1, v.SocketCount);
        v.Destroy();
        Assert.Equal(Errno.ENETDOWN, ping.Send(InAddr.Parse("192.0.2.1"), 1));
        Assert.False(ping.TryReceive(10, out _));
        ping.Dispose();
    }
#endif
}
