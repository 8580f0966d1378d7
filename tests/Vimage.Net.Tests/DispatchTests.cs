using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Stack;
using Vimage.Net.Udp;

namespace Vimage.Net.Tests;

/// <summary>net.isr.dispatch: the sysctl, per-flow order in each mode, the depth limit, loops and mode switches.</summary>
public class DispatchTests
{
    [Fact]
    public void The_sysctl_takes_FreeBSDs_names_and_refuses_others_with_EINVAL()
    {
        NetStack.EnsureInitialized();
        using var scope = new DispatchScope("direct");
        Assert.Equal("direct", Sysctl.Get("net.isr.dispatch"));
        foreach (string bad in new[] { "default", "Direct", "bogus", "" })
        {
            var e = Assert.Throws<SysctlException>(() => Sysctl.Set("net.isr.dispatch", bad));
            Assert.Equal(22, e.Errno);
            Assert.Equal("direct", Sysctl.Get("net.isr.dispatch")); // nothing half-applied
        }

        Sysctl.Set("net.isr.dispatch", "hybrid");
        Assert.Equal(NetisrPolicy.NETISR_DISPATCH_HYBRID, NetisrDispatch.Policy);
        Sysctl.Set("net.isr.dispatch", "deferred");
        Assert.Equal("deferred", Sysctl.Get("net.isr.dispatch"));
    }

    [Theory]
    [MemberData(nameof(DispatchScope.Modes), MemberType = typeof(DispatchScope))]
    public void Datagrams_of_each_flow_arrive_in_order(string mode)
    {
        using var scope = new DispatchScope(mode);
        using var net = StackFixture.Create("order-" + mode);
        long baseline = MbufLeak.Baseline();
        using var server = UdpSocket.Create(net.B);
        server.ReceiveBufferSize = 1 << 20;
        server.Bind(net.AddrB, 6000);
        WarmUp(net, server, 6000); // ARP holds one packet while it resolves: resolve first, then count
        const int senders = 3, each = 400;
        var threads = new Thread[senders];
        for (int t = 0; t < senders; t++)
        {
            int id = t;
            threads[t] = new Thread(() =>
            {
                using var c = UdpSocket.Create(net.A);
                c.Bind(net.AddrA, (ushort)(6100 + id));
                byte[] payload = new byte[8];
                for (int i = 0; i < each; i++)
                {
                    BitConverter.TryWriteBytes(payload, (id << 24) | i);
                    c.SendTo(payload, net.AddrB, 6000);
                }
            });
        }

        foreach (Thread th in threads)
        {
            th.Start();
        }

        int[] next = new int[senders];
        byte[] buffer = new byte[16];
        for (int n = 0; n < senders * each; n++)
        {
            UdpReceiveResult r = server.Receive(buffer, 10_000);
            int v = BitConverter.ToInt32(buffer);
            int id = v >> 24, seq = v & 0xffffff;
            Assert.Equal(next[id], seq); // per flow: nothing lost, nothing overtaken
            Assert.Equal(6100 + id, r.RemotePort);
            next[id]++;
        }

        foreach (Thread th in threads)
        {
            th.Join();
        }

        server.Close();
        MbufLeak.AssertBack(baseline);
    }

    private static void WarmUp(StackFixture net, UdpSocket server, ushort port)
    {
        using var c = UdpSocket.Create(net.A);
        c.SendTo(new byte[1], net.AddrB, port);
        Assert.Equal(1, server.Receive(new byte[8], 10_000).BytesReceived);
    }

#if VIMAGE
    [Fact]
    public void Direct_mode_delivers_on_the_sending_thread_and_deferred_does_not()
    {
        using var net = StackFixture.Create("inline");
        using var server = UdpSocket.Create(net.B);
        server.Bind(net.AddrB, 6001);
        using var client = UdpSocket.Create(net.A);
        byte[] payload = new byte[32];
        using (new DispatchScope("direct"))
        {
            client.SendTo(payload, net.AddrB, 6001); // ARP resolves (inline as well)
            Assert.Equal(32, server.Receive(new byte[64], 5000).BytesReceived);
            client.SendTo(payload, net.AddrB, 6001);
            Assert.Equal(1, server.QueuedDatagrams); // already delivered when SendTo returned: no queue hop
            server.Receive(new byte[64], 5000);
        }

        using (new DispatchScope("deferred"))
        {
            long direct = NetisrDispatch.Dispatched;
            for (int i = 0; i < 20; i++)
            {
                client.SendTo(payload, net.AddrB, 6001);
                Assert.Equal(32, server.Receive(new byte[64], 5000).BytesReceived);
            }

            Assert.Equal(direct, NetisrDispatch.Dispatched);
        }
    }

    [Theory]
    [InlineData(50)]
    public void A_chain_of_router_vnets_longer_than_the_depth_limit_still_answers_pings(int routers)
    {
        using var scope = new DispatchScope("direct", maxDepth: 16);
        using var t = new Topology();
        Vnet[] v = new Vnet[routers + 2];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = t.NewVnet($"chain{i}");
        }

        // Link i joins v[i] (10.i.0.1) and v[i+1] (10.i.0.2); every router's default route points right, and
        // each knows the way back to the first network through its left neighbour.
        for (int i = 0; i + 1 < v.Length; i++)
        {
            t.Link(v[i], $"10.{i}.0.1/24", v[i + 1], $"10.{i}.0.2/24");
        }

        for (int i = 0; i < v.Length; i++)
        {
            using (Curvnet.Set(v[i]))
            {
                if (i + 1 < v.Length)
                {
                    Routes.AddGateway(InAddr.Any, 0, InAddr.Parse($"10.{i}.0.2"));
                }

                if (i > 1)
                {
                    Routes.AddGateway(InAddr.Parse("10.0.0.0"), 24, InAddr.Parse($"10.{i - 1}.0.1"));
                }
            }

            if (i > 0 && i + 1 < v.Length)
            {
                Sysctl.Set("net.inet.ip.forwarding", "1", v[i]);
            }
        }

        // The far end's replies go back left: its default route is its only link.
        using (Curvnet.Set(v[^1]))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse($"10.{routers}.0.1"));
        }

        long queued = NetisrDispatch.DepthQueued;
        using var probe = new EchoProbe(v[0]);
        for (ushort seq = 1; seq <= 3; seq++)
        {
            Assert.Equal(0, probe.Send($"10.{routers}.0.2", seq));
            Assert.True(probe.WaitFor(seq, 20_000), $"echo reply {seq} did not come back through {routers} routers");
        }

        Assert.All(probe.Received, r => Assert.Equal(IcmpType.EchoReply, r.Type));
        Assert.True(NetisrDispatch.DepthQueued > queued, "the chain is deeper than the limit: some hops were queued");
        Assert.True(NetisrDispatch.MaxDepthSeen <= Math.Max(16, NetisrDispatch.DefaultMaxDepth), $"nesting reached {NetisrDispatch.MaxDepthSeen}");
    }

    [Theory]
    [MemberData(nameof(DispatchScope.Modes), MemberType = typeof(DispatchScope))]
    public void A_routing_loop_between_two_vnets_ends_in_time_exceeded(string mode)
    {
        using var scope = new DispatchScope(mode);
        using var t = new Topology();
        Vnet a = t.NewVnet("loop-a"), b = t.NewVnet("loop-b");
        t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        using (Curvnet.Set(a))
        {
            Routes.AddGateway(InAddr.Parse("203.0.113.0"), 24, InAddr.Parse("192.0.2.2"));
        }

        using (Curvnet.Set(b))
        {
            Routes.AddGateway(InAddr.Parse("203.0.113.0"), 24, InAddr.Parse("192.0.2.1"));
        }

        Sysctl.Set("net.inet.ip.forwarding", "1", a);
        Sysctl.Set("net.inet.ip.forwarding", "1", b);
        Sysctl.Set("net.inet.icmp.icmplim", "0", a);
        Sysctl.Set("net.inet.icmp.icmplim", "0", b);
        Sysctl.Set("net.inet.ip.redirect", "0", a); // the loop goes back out the arrival interface: no redirects
        Sysctl.Set("net.inet.ip.redirect", "0", b);
        using var probe = new EchoProbe(a);
        Assert.Equal(0, probe.Send("203.0.113.9", 1, ttl: 255));
        Assert.True(probe.WaitFor(1, 20_000), "no time exceeded");
        Assert.True(probe.Received.TryDequeue(out var got));
        Assert.Equal(IcmpType.TimeExceeded, got.Type);
        long sent = StackFixture.In(a, () => Icmp.FetchOutHist(IcmpType.TimeExceeded)) + StackFixture.In(b, () => Icmp.FetchOutHist(IcmpType.TimeExceeded));
        Assert.Equal(1, sent);
        Assert.True(NetisrDispatch.MaxDepthSeen <= NetisrDispatch.MaxDepth || NetisrDispatch.MaxDepthSeen <= NetisrDispatch.DefaultMaxDepth);
    }

    [Fact]
    public void Switching_the_mode_under_traffic_loses_and_reorders_nothing()
    {
        using var scope = new DispatchScope("direct");
        using var net = StackFixture.Create("switch");
        long baseline = MbufLeak.Baseline();
        using var server = UdpSocket.Create(net.B);
        server.ReceiveBufferSize = 1 << 20;
        server.Bind(net.AddrB, 6002);
        WarmUp(net, server, 6002);
        const int count = 3000;
        var sender = new Thread(() =>
        {
            using var c = UdpSocket.Create(net.A);
            byte[] payload = new byte[4];
            for (int i = 0; i < count; i++)
            {
                BitConverter.TryWriteBytes(payload, i);
                c.SendTo(payload, net.AddrB, 6002);
            }
        });
        sender.Start();
        string[] modes = ["hybrid", "deferred", "direct"];
        byte[] buffer = new byte[8];
        for (int i = 0; i < count; i++)
        {
            if (i % 100 == 0)
            {
                Sysctl.Set("net.isr.dispatch", modes[i / 100 % 3]);
            }

            server.Receive(buffer, 10_000);
            Assert.Equal(i, BitConverter.ToInt32(buffer));
        }

        sender.Join();
        server.Close();
        MbufLeak.AssertBack(baseline);
    }
#endif
}
