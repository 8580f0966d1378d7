using System.Diagnostics;
using Vimage.Core;
using Vimage.Net.Dummynet;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using Vimage.Net.Pfil;

namespace Vimage.Net.Tests;

/// <summary>ipfw and dummynet per vnet, end to end with ping (two vnets with VIMAGE, vnet0 over lo0 without).</summary>
public sealed class IpfwTests
{
    private static IpFwRule Rule(int n, IpFwAction a, byte proto = 0, int arg = 0, IpFwAddr? dst = null, IpFwDir dir = IpFwDir.Any, bool keep = false) =>
        new() { Number = n, Action = a, Protocol = proto, Argument = arg, Destination = dst ?? IpFwAddr.Any, Direction = dir, KeepState = keep };

    private static T In<T>(Vnet v, Func<T> f) => StackFixture.In(v, f);

    private static void Unload(StackFixture f)
    {
        In(f.A, () => { IpFw.Unload(); return 0; });
        In(f.B, () => { IpFw.Unload(); return 0; });
    }

    /// <summary>One ping before any rule: ARP resolved (its hold queue keeps one packet) and the paths warm.</summary>
    private static void WarmUp(StackFixture f)
    {
        using PingSocket ping = PingSocket.Open(f.A);
        Assert.Equal(0, ping.Send(f.AddrB, 999));
        Assert.True(ping.TryReceive(5000, out _), "warm-up ping got no reply");
    }

    private static IpFwChain Load(Vnet v) => In(v, () => { IpFw.Load(); return IpFw.Chain; });

    [Fact]
    public void No_hook_until_loaded_then_default_rule_denies()
    {
        using var f = StackFixture.Create("fw-default");
        try
        {
            Assert.Null(In(f.A, () => PfilHeads.InetOut));
            IpFwChain chain = Load(f.A);
            Assert.NotNull(In(f.A, () => PfilHeads.InetOut));
            Assert.Equal(IpFwAction.Deny, chain.Map[^1].Action);
            Assert.Equal(65535, chain.Map[^1].Number);
            using PingSocket ping = PingSocket.Open(f.A);
            Assert.Equal(Errno.EACCES, ping.Send(f.AddrB, 1)); // ip_output_pfil: a denied packet is EACCES
            Assert.Equal(1, chain.Map[^1].Counters.Packets);
            Assert.Equal(84, chain.Map[^1].Counters.Bytes);
        }
        finally
        {
            Unload(f);
        }

        Assert.Null(In(f.A, () => PfilHeads.InetOut));
    }

    [Fact]
    public void Deny_icmp_to_host_counts_hits_and_allow_passes_the_rest()
    {
        using var f = StackFixture.Create("fw-deny");
        try
        {
            IpFwChain chain = Load(f.A);
            IpFwRule deny = chain.Add(Rule(100, IpFwAction.Deny, IpProto.Icmp, dst: IpFwAddr.Net(f.AddrB.Value, 32)), 100);
            IpFwRule count = chain.Add(Rule(150, IpFwAction.Count), 100);
            chain.Add(Rule(200, IpFwAction.Allow), 100);
            using PingSocket ping = PingSocket.Open(f.A);
            for (ushort seq = 0; seq < 3; seq++)
            {
                Assert.Equal(Errno.EACCES, ping.Send(f.AddrB, seq));
            }

            Assert.Equal(3, deny.Counters.Packets);
            Assert.Equal(0, count.Counters.Packets);

            Assert.True(chain.Delete(100));
            Assert.Equal(0, ping.Send(f.AddrB, 9));
            Assert.True(ping.TryReceive(5000, out PingReply reply) && reply.Kind == PingReplyKind.EchoReply);
            Assert.True(count.Counters.Packets >= 2, $"count saw {count.Counters.Packets}"); // echo out and reply in (plus lo0's in/out without VIMAGE)
            chain.Zero();
            Assert.Equal(0, count.Counters.Packets);
        }
        finally
        {
            Unload(f);
        }
    }

    [Fact]
    public void Skipto_jumps_over_a_deny_and_keep_state_lets_replies_back()
    {
        using var f = StackFixture.Create("fw-state");
        try
        {
            IpFwChain chain = Load(f.A);
            chain.Add(Rule(100, IpFwAction.Skipto, arg: 300), 100);
            IpFwRule skipped = chain.Add(Rule(200, IpFwAction.Deny), 100);
            IpFwRule keep = chain.Add(Rule(300, IpFwAction.Allow, IpProto.Icmp, dst: IpFwAddr.Net(f.AddrB.Value, 32), dir: IpFwDir.Out, keep: true), 100);
            chain.Add(Rule(400, IpFwAction.Deny), 100);
            using PingSocket ping = PingSocket.Open(f.A);
            Assert.Equal(0, ping.Send(f.AddrB, 1));
            Assert.True(ping.TryReceive(5000, out PingReply reply), "the reply did not come back through the state");
            Assert.Equal(PingReplyKind.EchoReply, reply.Kind);
            Assert.Equal(0, skipped.Counters.Packets);
            Assert.True(keep.Counters.Packets >= 2); // the echo installed the state, the reply matched it
            Assert.Equal(1, In(f.A, () => IpFwDyn.Count));
        }
        finally
        {
            Unload(f);
        }

        Assert.Equal(0, In(f.A, () => IpFwDyn.Count));
    }

    [Fact]
    public void Pipe_of_20ms_each_way_gives_40ms_rtt()
    {
        using var f = StackFixture.Create("fw-pipe");
        WarmUp(f);
        try
        {
            IpFwChain chain = Load(f.A);
            In(f.A, () => DnIo.Tables.ConfigurePipe(1, new DnPipeConfig { DelayUs = 20_000 }));

            // Two vnets: A's echo leaves through the pipe and the reply enters through it. One vnet over lo0: every
            // packet passes ip_output and ip_input in vnet0, so only "out" keeps it at one pass each way.
            chain.Add(Rule(100, IpFwAction.Pipe, arg: 1, dir: f.TwoVnets ? IpFwDir.Any : IpFwDir.Out), 100);
            chain.Add(Rule(200, IpFwAction.Allow), 100);
            using PingSocket ping = PingSocket.Open(f.A);
            var rtts = new List<double>();
            for (ushort seq = 0; seq < 7; seq++)
            {
                Assert.Equal(0, ping.Send(f.AddrB, seq));
                Assert.True(ping.TryReceive(5000, out PingReply reply), $"no reply to {seq}");
                rtts.Add(reply.Rtt.TotalMilliseconds);
            }

            // Never under the configured 40 ms (the delay is a floor); the best one near it. The upper side is the
            // machine's scheduling latency, measured by the dummynet bench, not asserted here.
            string all = string.Join(", ", rtts.Select(r => r.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)));
            Assert.True(rtts.Min() >= 39.9, all);
            Assert.True(rtts.Min() < 80, all);
        }
        finally
        {
            Unload(f);
        }
    }

    [Fact]
    public void Same_seed_same_drops()
    {
        static bool[] Run(ulong seed)
        {
            var pipe = new DnPipe(1, new DnPipeConfig { Plr = 0.3, GeP = 0.1, GeR = 0.3, GeLossBad = 0.9, Dup = 0.05, Seed = seed }, 100);
            var drops = new bool[2000];
            long t = Stopwatch.GetTimestamp();
            for (int i = 0; i < drops.Length; i++)
            {
                drops[i] = pipe.Arrive(100, t + (i * Stopwatch.Frequency)).Drop;
            }

            return drops;
        }

        bool[] a = Run(42), b = Run(42), c = Run(43);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        int lost = a.Count(d => d);
        Assert.InRange(lost, 600, 1500); // plr 0.3 plus bursts
    }

    [SkippableFact]
    public void Seeded_loss_end_to_end_is_reproducible()
    {
        // Reproducible only if no other packet draws from the pipe's generator: without VIMAGE every test shares
        // vnet0 and its addresses, and in full runs one extra echo request took a draw (cause not identified).
        Skip.IfNot(Vnet.IsVimage, "needs a vnet of its own: vnet0's traffic is shared by the whole test process");
        using var f = StackFixture.Create("fw-seed");
        WarmUp(f);
        try
        {
            IpFwChain chain = Load(f.A);
            // Echo requests only: without VIMAGE both ends are vnet0 and the reply goes to our own address too (its
            // source is the destination, as in_pcbladdr picks for a local one); its draws from the pipe's seeded
            // generator would interleave with the requests' by timing.
            chain.Add(new IpFwRule
            {
                Number = 100, Action = IpFwAction.Pipe, Protocol = IpProto.Icmp, Argument = 1, Destination = IpFwAddr.Net(f.AddrB.Value, 32),
                Direction = IpFwDir.Out, Cmds = [new IpFwCmd { Op = IpFwOp.IcmpTypes, Value = 1u << IcmpType.Echo }],
            }, 100);
            chain.Add(Rule(200, IpFwAction.Allow), 100);
            HashSet<int> first = PingThrough(f, seed: 7), second = PingThrough(f, seed: 7);
            Assert.Equal(first.Order(), second.Order());
            Assert.InRange(first.Count, 10, 50);
        }
        finally
        {
            Unload(f);
        }
    }

    private static HashSet<int> PingThrough(StackFixture f, ulong seed)
    {
        DnPipe pipe = In(f.A, () => DnIo.Tables.ConfigurePipe(1, new DnPipeConfig { Plr = 0.5, Seed = seed }));
        using PingSocket ping = PingSocket.Open(f.A);
        const int n = 60;
        for (ushort seq = 0; seq < n; seq++)
        {
            Assert.Equal(0, ping.Send(f.AddrB, seq));
        }

        var got = new HashSet<int>();
        Assert.True(Frames.WaitFor(() =>
        {
            while (ping.TryReceive(0, out PingReply r))
            {
                got.Add(r.Sequence);
            }

            return got.Count == n - pipe.Drops;
        }), $"got {got.Count}, drops {pipe.Drops}");
        return got;
    }

    [Fact]
    public void Held_packets_are_freed_when_the_pipe_goes()
    {
        using var f = StackFixture.Create("fw-leak");
        long baseline = MbufLeak.Baseline();
        try
        {
            IpFwChain chain = Load(f.A);
            In(f.A, () => DnIo.Tables.ConfigurePipe(5, new DnPipeConfig { DelayUs = 10_000_000 }));
            chain.Add(Rule(100, IpFwAction.Pipe, arg: 5, dir: IpFwDir.Out), 100);
            chain.Add(Rule(200, IpFwAction.Allow), 100);
            using PingSocket ping = PingSocket.Open(f.A);
            for (ushort seq = 0; seq < 10; seq++)
            {
                Assert.Equal(0, ping.Send(f.AddrB, seq));
            }

            Assert.True(MbufPool.Clusters.Outstanding >= baseline + 10);
            Assert.True(In(f.A, () => DnIo.Tables.DeletePipe(5)));
        }
        finally
        {
            Unload(f);
        }

        MbufLeak.AssertBack(baseline);
    }

    [Fact]
    public void Bandwidth_queue_tail_drops_when_full()
    {
        var pipe = new DnPipe(1, new DnPipeConfig { Bandwidth = 1_000_000, QueueSlots = 10, Seed = 1 }, 100);
        long t = Stopwatch.GetTimestamp();
        int dropped = 0;
        for (int i = 0; i < 30; i++)
        {
            dropped += pipe.Arrive(1250, t).Drop ? 1 : 0; // a burst at one instant: 10 fit, 20 are tail-dropped
        }

        Assert.Equal(20, dropped);
        Assert.InRange(pipe.Occupancy.Packets, 1, 10);
        Assert.Equal(30, pipe.TotalPackets);
        Assert.Equal(20, pipe.Drops);
    }

#if VIMAGE
    [Fact]
    public void Rule_sets_are_per_vnet()
    {
        using var f = StackFixture.Create("fw-iso");
        try
        {
            IpFwChain a = Load(f.A);
            a.Add(Rule(100, IpFwAction.Deny, IpProto.Icmp), 100);
            Assert.Null(In(f.B, () => PfilHeads.InetIn));
            Assert.False(In(f.B, () => IpFw.IsLoaded));
            using PingSocket fromB = PingSocket.Open(f.B);
            Assert.Equal(0, fromB.Send(f.AddrA, 1)); // B's output is not filtered; A's input drops it
            Assert.True(Frames.WaitFor(() => a.Map[0].Counters.Packets == 1), "A's deny rule did not see B's echo");
            IpFwChain b = Load(f.B);
            Assert.Single(b.Map);
        }
        finally
        {
            Unload(f);
        }
    }

    [Fact]
    public void Destroying_the_vnet_frees_its_held_packets()
    {
        using var topo = new Topology();
        Vnet a = topo.NewVnet("fw-destroy-a"), b = topo.NewVnet("fw-destroy-b");
        topo.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        long baseline = MbufLeak.Baseline();
        IpFwChain chain = Load(a);
        In(a, () => DnIo.Tables.ConfigurePipe(1, new DnPipeConfig { DelayUs = 10_000_000 }));
        chain.Add(Rule(100, IpFwAction.Pipe, arg: 1), 100);
        using (PingSocket ping = PingSocket.Open(a))
        {
            for (ushort seq = 0; seq < 5; seq++)
            {
                Assert.Equal(0, ping.Send(InAddr.Parse("192.0.2.2"), seq));
            }
        }

        Assert.True(DnIo.Held >= 5);
        a.Destroy();
        MbufLeak.AssertBack(baseline);
    }
#endif
}
