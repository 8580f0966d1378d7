using System.Diagnostics;
using Vimage.Core;
using Vimage.Net.Dummynet;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using Vimage.Net.Pfil;
using Vimage.Net.Udp;

namespace Vimage.Net.Tests;

/// <summary>
/// dummynet's schedulers and netem extras, driven on the pipe's own clock where possible (no sleeps): WF2Q+ weights,
/// dup, reorder, corrupt, jitter distributions, Gilbert-Elliott bursts, exact seed reproducibility, and 10,000
/// pipes with traffic on one wheel thread.
/// </summary>
public sealed class DummynetTests
{
    private static readonly long Freq = Stopwatch.Frequency;

    private static Mbuf Packet(int length)
    {
        Mbuf m = MbufPool.GetFor(length) ?? throw new InvalidOperationException("mbuf pool empty");
        m.Append(length).Clear();
        return m;
    }

    /// <summary>99% binomial interval half-width for n draws of probability p.</summary>
    private static double Half(double p, int n) => 2.5758 * Math.Sqrt(p * (1 - p) / n);

    [Fact]
    public void Wf2q_gives_two_backlogged_queues_bandwidth_in_their_weights_ratio()
    {
        long baseline = MbufLeak.Baseline();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnet lo0 = Ifnets.Find("lo0");
            var tables = new DnTables();
            DnPipe pipe = tables.ConfigurePipe(1, new DnPipeConfig { Bandwidth = 1_000_000 });
            Assert.True(tables.ConfigureQueue(1, 1, 1, new DnPipeConfig { QueueSlots = 200 }));
            Assert.True(tables.ConfigureQueue(2, 1, 3, new DnPipeConfig { QueueSlots = 200 }));
            DnPipe q1 = tables.FindQueue(1)!, q2 = tables.FindQueue(2)!;
            Assert.True(pipe.Scheduled);

            // Both queues backlogged at t0 (an hour ahead: the wheel's own service events stay far away), then the
            // link is served up to t0 + 0.8 s: 100 packets of 1000 bytes at 1 Mbit/s.
            long t0 = Stopwatch.GetTimestamp() + (3600 * Freq);
            for (int i = 0; i < 200; i++)
            {
                Assert.True(pipe.EnqueueScheduled(q1, Packet(1000), lo0, PfilDir.Out, 0, 0, t0));
                Assert.True(pipe.EnqueueScheduled(q2, Packet(1000), lo0, PfilDir.Out, 0, 0, t0));
            }

            pipe.ServeAt(t0 + (8 * Freq / 10));
            long total = q1.DepartedBytes + q2.DepartedBytes;
            Assert.Equal(101_000, total); // the one started at t0, then one every 8 ms
            double share1 = (double)q1.DepartedBytes / total;

            // WF2Q+ keeps each queue within one packet of its fluid share: 25% +/- 2 packets of 101.
            Assert.InRange(share1, 0.25 - 0.02, 0.25 + 0.02);
            Assert.Equal(400 - 101, q1.Occupancy.Packets + q2.Occupancy.Packets);

            // ipfw sched 1 config type fifo: the queues share one departure line again (dummynet's FIFO)
            pipe.SchedType = DnSchedType.Fifo;
            Assert.False(pipe.Scheduled);
            tables.Flush();
        }

        MbufLeak.AssertBack(baseline);
    }

    [Fact]
    public void Two_udp_flows_in_queues_of_weight_1_and_3_share_a_pipe_25_75_end_to_end()
    {
        using var f = StackFixture.Create("dn-wf2q");
        try
        {
            IpFwChain chain = StackFixture.In(f.A, () =>
            {
                IpFw.Load();
                DnIo.Tables.ConfigurePipe(1, new DnPipeConfig { Bandwidth = 1_000_000 });
                Assert.True(DnIo.Tables.ConfigureQueue(1, 1, 1, new DnPipeConfig { QueueSlots = 100 }));
                Assert.True(DnIo.Tables.ConfigureQueue(2, 1, 3, new DnPipeConfig { QueueSlots = 100 }));
                return IpFw.Chain;
            });
            IpFwCmd Port(ushort p) => new() { Op = IpFwOp.DstPort, Ports = [new IpFwPortRange(p, p)] };
            IpFwCmd udp = new() { Op = IpFwOp.Proto, Value = IpProto.Udp }, outbound = new() { Op = IpFwOp.In, Not = true };
            chain.Add(new IpFwRule { Number = 100, Action = IpFwAction.Queue, Argument = 1, Cmds = [udp, outbound, Port(5001)] }, 100);
            chain.Add(new IpFwRule { Number = 110, Action = IpFwAction.Queue, Argument = 2, Cmds = [udp, outbound, Port(5002)] }, 100);
            chain.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow }, 100);
            (DnPipe q1, DnPipe q2) = StackFixture.In(f.A, () => (DnIo.Tables.FindQueue(1)!, DnIo.Tables.FindQueue(2)!));
            using var tx = UdpSocket.Create(f.A);
            byte[] payload = new byte[972]; // 1000-byte datagrams
            for (int i = 0; i < 100; i++)
            {
                tx.SendTo(payload, f.AddrB, 5001);
                tx.SendTo(payload, f.AddrB, 5002);
            }

            // both queues stay backlogged for the first 100 departures; read the counters once 80 have left
            Assert.True(Frames.WaitFor(() => q1.DepartedPackets + q2.DepartedPackets >= 80, 20_000), "the pipe did not serve");
            long b1 = q1.DepartedBytes, b2 = q2.DepartedBytes;
            double share = (double)b1 / (b1 + b2);
            Assert.InRange(share, 0.25 - 0.05, 0.25 + 0.05); // +/- 4 packets of 80
        }
        finally
        {
            StackFixture.In(f.A, () => { IpFw.Unload(); return 0; });
        }
    }

    [Fact]
    public void Queues_attached_to_a_busy_pipe_wait_for_what_the_fifo_line_already_sent()
    {
        long baseline = MbufLeak.Baseline();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnet lo0 = Ifnets.Find("lo0");
            var tables = new DnTables();
            DnPipe pipe = tables.ConfigurePipe(1, new DnPipeConfig { Bandwidth = 1_000_000, QueueSlots = 10 });
            long t0 = Stopwatch.GetTimestamp() + (3600 * Freq);
            Assert.False(pipe.Arrive(1000, t0).Drop); // FIFO: on the link until t0 + 8 ms
            Assert.True(tables.ConfigureQueue(1, 1, 1, new DnPipeConfig { QueueSlots = 10 }));
            DnPipe q = tables.FindQueue(1)!;
            Assert.True(pipe.EnqueueScheduled(q, Packet(1000), lo0, PfilDir.Out, 0, 0, t0 + Freq / 1000));
            Assert.Equal(0, q.DepartedPackets); // the link is still busy with the FIFO packet
            pipe.ServeAt(t0 + (8 * Freq / 1000));
            Assert.Equal(1, q.DepartedPackets);
            tables.Flush();
        }

        MbufLeak.AssertBack(baseline);
    }

    [Fact]
    public void Wf2q_lets_a_lone_queue_use_the_whole_link()
    {
        long baseline = MbufLeak.Baseline();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnet lo0 = Ifnets.Find("lo0");
            var tables = new DnTables();
            DnPipe pipe = tables.ConfigurePipe(1, new DnPipeConfig { Bandwidth = 8_000_000 });
            Assert.True(tables.ConfigureQueue(1, 1, 1, new DnPipeConfig { QueueSlots = 100 }));
            Assert.True(tables.ConfigureQueue(2, 1, 99, new DnPipeConfig { QueueSlots = 100 }));
            DnPipe q1 = tables.FindQueue(1)!;
            long t0 = Stopwatch.GetTimestamp() + (3600 * Freq);
            for (int i = 0; i < 50; i++)
            {
                Assert.True(pipe.EnqueueScheduled(q1, Packet(1000), lo0, PfilDir.Out, 0, 0, t0));
            }

            pipe.ServeAt(t0 + (Freq / 100)); // 10 ms at 1 ms a packet: 11 started (work conserving)
            Assert.Equal(11, q1.DepartedPackets);
            tables.Flush();
        }

        MbufLeak.AssertBack(baseline);
    }

    private static Mbuf From(string src, int length)
    {
        Mbuf m = Packet(length);
        IpHeader.Write(m.Data, length, 1, 0, 64, IpProto.Udp, InAddr.Parse(src), InAddr.Parse("198.51.100.1"));
        return m;
    }

    [Fact]
    public void Masked_pipe_gives_each_source_a_link_of_its_own_bounded_by_buckets_and_chain_length()
    {
        long baseline = MbufLeak.Baseline();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnet lo0 = Ifnets.Find("lo0");
            object saved = Sysctl.Get("net.inet.ip.dummynet.max_chain_len", Vnet.Vnet0)!;
            Sysctl.Set("net.inet.ip.dummynet.max_chain_len", 1, Vnet.Vnet0);
            try
            {
                var mask = new DnFlowMask(0xffffffff, 0, 0, 0, 0);
                DnPipe pipe = DnIo.Tables.ConfigurePipe(7, new DnPipeConfig { Bandwidth = 1_000, Mask = mask, Buckets = 2 });
                long drops = Sysctl.Get("net.inet.ip.dummynet.io_pkt_drop", Vnet.Vnet0) is long d ? d : 0;
                Assert.True(DnIo.Enqueue(7, false, From("192.0.2.1", 100), lo0, PfilDir.Out, 0, 0));
                Assert.True(DnIo.Enqueue(7, false, From("192.0.2.2", 100), lo0, PfilDir.Out, 0, 0));
                Assert.True(DnIo.Enqueue(7, false, From("192.0.2.1", 100), lo0, PfilDir.Out, 0, 0));
                Assert.Equal(2, pipe.FlowCount);
                foreach ((DnFlowKey key, DnPipe flow) in pipe.Flows)
                {
                    // 1 kbit/s: 800 ms a packet, so each flow's own line still holds what it got
                    Assert.Equal(key.SrcIp == InAddr.Parse("192.0.2.1").Value ? 2 : 1, flow.Occupancy.Packets);
                }

                // buckets 2 x max_chain_len 1: a third source while both links are busy is dropped
                Assert.True(DnIo.Enqueue(7, false, From("192.0.2.3", 100), lo0, PfilDir.Out, 0, 0));
                Assert.Equal(2, pipe.FlowCount);
                Assert.Equal(1, pipe.Drops);
                Assert.Equal(drops + 1, (long)Sysctl.Get("net.inet.ip.dummynet.io_pkt_drop", Vnet.Vnet0)!);
                Assert.True(DnIo.Tables.DeletePipe(7));
            }
            finally
            {
                Sysctl.Set("net.inet.ip.dummynet.max_chain_len", saved, Vnet.Vnet0);
            }
        }

        MbufLeak.AssertBack(baseline);
    }

    [Fact]
    public void Masked_queue_shares_the_link_fairly_among_its_flows()
    {
        long baseline = MbufLeak.Baseline();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnet lo0 = Ifnets.Find("lo0");
            var tables = new DnTables();
            DnPipe pipe = tables.ConfigurePipe(1, new DnPipeConfig { Bandwidth = 1_000_000 });
            Assert.True(tables.ConfigureQueue(1, 1, 5, new DnPipeConfig { QueueSlots = 100, Mask = new DnFlowMask(0xffffffff, 0, 0, 0, 0) }));
            DnPipe q = tables.FindQueue(1)!;
            long t0 = Stopwatch.GetTimestamp() + (3600 * Freq);
            for (int i = 0; i < 60; i++)
            {
                foreach (string src in new[] { "192.0.2.1", "192.0.2.2", "192.0.2.3" })
                {
                    Mbuf m = From(src, 1000);
                    DnPipe flow = q.InstanceFor(m.Data, 1024)!;
                    Assert.True(pipe.EnqueueScheduled(flow, m, lo0, PfilDir.Out, 0, 0, t0));
                }
            }

            Assert.Equal(3, q.FlowCount);
            pipe.ServeAt(t0 + (8 * Freq / 10)); // 101 packets leave
            foreach ((_, DnPipe flow) in q.Flows)
            {
                Assert.InRange(flow.DepartedPackets, 33, 35); // a third each, within one packet
            }

            tables.Flush();
        }

        MbufLeak.AssertBack(baseline);
    }

    /// <summary>
    /// Regression: a packet due one wheel span (65,536 slots of 10 us) plus 19 ms later sits in the slot 19 ms ahead;
    /// the look-ahead took it for the next packet and the thread slept ~655 ms past a packet due in 25 ms. A 1 ms
    /// packet first makes the wheel look ahead while that slot is still in front of its cursor.
    /// </summary>
    [Fact]
    public void A_packet_due_a_wheel_span_later_does_not_delay_an_earlier_one()
    {
        long baseline = MbufLeak.Baseline();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnet lo0 = Ifnets.Find("lo0");
            DnIo.Tables.ConfigurePipe(10, new DnPipeConfig { DelayUs = 1_000 });
            DnIo.Tables.ConfigurePipe(11, new DnPipeConfig { DelayUs = 655_360 + 19_000 });
            DnIo.Tables.ConfigurePipe(12, new DnPipeConfig { DelayUs = 25_000 });
            uint lo = InAddr.Parse("127.0.0.1").Value;
            long released = DnIo.Released;
            for (int warm = 0; warm < 3; warm++)
            {
                // the release path compiled and warm, so the wheel thread is back at its look-ahead within 19 ms
                Assert.True(DnIo.Enqueue(10, false, From("127.0.0.1", 28), lo0, PfilDir.Out, lo, 0));
                Assert.True(Frames.WaitFor(() => DnIo.Released > released, 5_000));
                released = DnIo.Released;
            }

            var clock = Stopwatch.StartNew();
            Assert.True(DnIo.Enqueue(11, false, From("127.0.0.1", 28), lo0, PfilDir.Out, lo, 0));
            Assert.True(DnIo.Enqueue(12, false, From("127.0.0.1", 28), lo0, PfilDir.Out, lo, 0));
            Assert.True(DnIo.Enqueue(10, false, From("127.0.0.1", 28), lo0, PfilDir.Out, lo, 0));
            Assert.True(Frames.WaitFor(() => DnIo.Released >= released + 2, 5_000));
            Assert.True(clock.ElapsedMilliseconds < 400, $"the 25 ms packet left after {clock.ElapsedMilliseconds} ms");
            Assert.True(clock.ElapsedMilliseconds >= 25);
            Assert.True(DnIo.Tables.DeletePipe(10) && DnIo.Tables.DeletePipe(11) && DnIo.Tables.DeletePipe(12));
        }

        MbufLeak.AssertBack(baseline);
    }

    [Fact]
    public void Dup_reorder_and_corrupt_rates_are_within_the_binomial_interval()
    {
        const int n = 50_000;
        var pipe = new DnPipe(1, new DnPipeConfig { DelayUs = 10_000, Dup = 0.05, Reorder = 0.2, Corrupt = 0.01, Seed = 3, QueueSlots = 100 }, 100);
        long t = Stopwatch.GetTimestamp();
        int dups = 0, reordered = 0, corrupt = 0;
        for (int i = 0; i < n; i++)
        {
            long now = t + (i * Freq);
            DnPipe.Verdict v = pipe.Arrive(100, now);
            Assert.False(v.Drop);
            dups += v.Duplicate ? 1 : 0;
            reordered += v.Release == now ? 1 : 0; // skipped the delay line
            if (v.CorruptBit >= 0)
            {
                corrupt++;
                Assert.InRange(v.CorruptBit, 0, (100 * 8) - 1);
            }
        }

        Assert.InRange((double)dups / n, 0.05 - Half(0.05, n), 0.05 + Half(0.05, n));
        Assert.InRange((double)reordered / n, 0.2 - Half(0.2, n), 0.2 + Half(0.2, n));
        Assert.InRange((double)corrupt / n, 0.01 - Half(0.01, n), 0.01 + Half(0.01, n));
    }

    [Theory]
    [InlineData(DnJitter.Uniform)]
    [InlineData(DnJitter.Normal)]
    public void Jitter_follows_its_distribution(DnJitter distribution)
    {
        const int n = 40_000;
        var pipe = new DnPipe(1, new DnPipeConfig { DelayUs = 20_000, JitterUs = 2_000, JitterDistribution = distribution, Seed = 11 }, 100);
        long t = Stopwatch.GetTimestamp();
        var off = new double[n]; // microseconds from the configured 20 ms
        for (int i = 0; i < n; i++)
        {
            long now = t + (i * Freq); // a second apart: order keeping never binds
            off[i] = ((pipe.Arrive(100, now).Release - now) * 1e6 / Freq) - 20_000;
        }

        double mean = off.Average();
        double sd = Math.Sqrt(off.Select(x => (x - mean) * (x - mean)).Average());
        Assert.InRange(mean, -40, 40); // sd/sqrt(n) is ~10 us
        if (distribution == DnJitter.Uniform)
        {
            Assert.InRange(off.Min(), -2_000.5, -1_990);
            Assert.InRange(off.Max(), 1_990, 2_000.5);
            Assert.InRange(sd, 2_000 / Math.Sqrt(3) * 0.97, 2_000 / Math.Sqrt(3) * 1.03);
        }
        else
        {
            Assert.InRange(sd, 2_000 * 0.97, 2_000 * 1.03);
            double within = off.Count(x => Math.Abs(x) <= 2_000) / (double)n;
            Assert.InRange(within, 0.6827 - Half(0.6827, n), 0.6827 + Half(0.6827, n));
            Assert.True(off.Min() >= -20_000); // never before the packet left
        }
    }

    [Fact]
    public void Gilbert_elliott_loss_has_its_stationary_rate_and_burst_length()
    {
        const int n = 400_000;
        var pipe = new DnPipe(1, new DnPipeConfig { GeP = 0.01, GeR = 0.1, GeLossBad = 1, GeLossGood = 0, Seed = 5 }, 100);
        long t = Stopwatch.GetTimestamp();
        int lost = 0, bursts = 0;
        bool previous = false;
        for (int i = 0; i < n; i++)
        {
            bool drop = pipe.Arrive(100, t + (i * Freq)).Drop;
            lost += drop ? 1 : 0;
            bursts += drop && !previous ? 1 : 0;
            previous = drop;
        }

        double rate = (double)lost / n, expected = 0.01 / (0.01 + 0.1); // p / (p + r)
        Assert.InRange(rate, expected * 0.9, expected * 1.1);
        Assert.InRange((double)lost / bursts, 10 * 0.9, 10 * 1.1); // mean burst 1/r
    }

    [Fact]
    public void Same_seed_and_traffic_give_the_same_verdicts_exactly()
    {
        static List<(bool, long, bool, int)> Run(ulong seed)
        {
            var pipe = new DnPipe(1, new DnPipeConfig
            {
                Bandwidth = 10_000_000, DelayUs = 5_000, Plr = 0.1, GeP = 0.02, GeR = 0.3, JitterUs = 1_000,
                JitterDistribution = DnJitter.Normal, Dup = 0.03, Reorder = 0.05, Corrupt = 0.02, QueueSlots = 100, Seed = seed,
            }, 100);
            long t = 1_000_000_000_000; // a fixed clock: the verdicts depend only on seed and traffic
            var verdicts = new List<(bool, long, bool, int)>();
            for (int i = 0; i < 5_000; i++)
            {
                long now = t + (i * (Freq / 1000));
                DnPipe.Verdict v = pipe.Arrive(200 + (i % 1200), now);
                verdicts.Add((v.Drop, v.Drop ? 0 : v.Release - now, v.Duplicate, v.CorruptBit));
            }

            return verdicts;
        }

        List<(bool, long, bool, int)> a = Run(77), b = Run(77), c = Run(78);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Contains(a, v => v.Item1);
        Assert.Contains(a, v => v.Item3);
    }

    [Fact]
    public void Ten_thousand_pipes_with_traffic_share_one_wheel_thread()
    {
        using var topo = new Topology();
        Vnet v = Vnet.IsVimage ? topo.NewVnet("dn-10k") : Vnet.Vnet0;
        long baseline = MbufLeak.Baseline();
        int threadsBefore = Process.GetCurrentProcess().Threads.Count;
        const int pipes = 10_000;
        using (Curvnet.Set(v))
        {
            Ifnet lo0 = Ifnets.Find("lo0");
            for (int n = 1; n <= pipes; n++)
            {
                DnIo.Tables.ConfigurePipe(n, new DnPipeConfig { DelayUs = 200_000, Bandwidth = 1_000_000 });
            }

            long held = DnIo.Held, released = DnIo.Released;
            int maxThreads = 0;
            for (int n = 1; n <= pipes; n++)
            {
                Mbuf m = Packet(28);
                IpHeader.Write(m.Data, 28, (ushort)n, 0, 64, 253, InAddr.Parse("127.0.0.1"), InAddr.Parse("127.0.0.1"));
                Assert.True(DnIo.Enqueue(n, false, m, lo0, PfilDir.Out, InAddr.Parse("127.0.0.1").Value, 0));
                if (n % 1000 == 0)
                {
                    maxThreads = Math.Max(maxThreads, Process.GetCurrentProcess().Threads.Count);
                }
            }

            // every datagram goes through its pipe's delay and is put back on its way (ip_output to lo0) by the one wheel thread
            Assert.True(Frames.WaitFor(() => DnIo.Released - released >= pipes, 30_000), $"released {DnIo.Released - released}");
            Assert.True(maxThreads - threadsBefore < 50, $"{maxThreads - threadsBefore} more threads for {pipes} pipes");
            Assert.True(Frames.WaitFor(() => DnIo.Held <= held), $"still held: {DnIo.Held - held}");
            for (int n = 1; n <= pipes; n++)
            {
                Assert.Equal(1, DnIo.Tables.FindPipe(n)!.TotalPackets);
            }
        }

        if (Vnet.IsVimage)
        {
            v.Destroy();
        }
        else
        {
            using (Curvnet.Set(v))
            {
                DnIo.Tables.Flush();
            }
        }

        MbufLeak.AssertBack(baseline);
    }
    [Fact]
    public void Seeded_loss_dup_reorder_and_jitter_end_to_end_deliver_the_same_datagrams()
    {
        using var f = StackFixture.Create("dn-seed-e2e");
        using (var rx = UdpSocket.Create(f.B))
        using (var tx = UdpSocket.Create(f.A))
        {
            rx.Bind(InAddr.Any, 6101);
            tx.SendTo([0], f.AddrB, 6101); // ARP resolved before any pipe
            Assert.Equal(1, rx.ReceiveFrom(new byte[4], out _, out _, 10_000));
        }

        try
        {
            StackFixture.In(f.A, () =>
            {
                IpFw.Load();
                IpFw.Chain.Add(new IpFwRule
                {
                    Number = 100, Action = IpFwAction.Pipe, Argument = 1, Protocol = IpProto.Udp, Direction = IpFwDir.Out,
                    DestinationPorts = [new IpFwPortRange(6100, 6100)],
                }, 100);
                return IpFw.Chain.Add(new IpFwRule { Number = 200, Action = IpFwAction.Allow }, 100);
            });
            List<int> a = Through(f, 9), b = Through(f, 9), c = Through(f, 10);
            Assert.Equal(a, b); // the same datagrams lost, the same ones twice
            Assert.NotEqual(a, c);
            Assert.InRange(a.Distinct().Count(), 200, 290); // plr 0.15 of 300
            Assert.True(a.Distinct().Count() < a.Count, "no duplicate arrived");
        }
        finally
        {
            StackFixture.In(f.A, () => { IpFw.Unload(); return 0; });
        }
    }

    /// <summary>300 numbered datagrams through pipe 1 with <paramref name="seed"/>: the numbers received, sorted.</summary>
    private static List<int> Through(StackFixture f, ulong seed)
    {
        DnPipe pipe = StackFixture.In(f.A, () => DnIo.Tables.ConfigurePipe(1, new DnPipeConfig
        {
            DelayUs = 2_000, JitterUs = 1_000, JitterDistribution = DnJitter.Normal, Reorder = 0.1, Dup = 0.1, Plr = 0.15,
            QueueSlots = 1000, Seed = seed,
        }));
        using var rx = UdpSocket.Create(f.B);
        rx.ReceiveBufferSize = 1 << 20; // 300 datagrams may sit there before the first read
        rx.Bind(InAddr.Any, 6100);
        using var tx = UdpSocket.Create(f.A);
        const int n = 300;
        for (int i = 0; i < n; i++)
        {
            tx.SendTo([(byte)(i >> 8), (byte)i], f.AddrB, 6100);
        }

        long expected = n - pipe.Drops + pipe.Duplicates; // every verdict is in once the sends return
        var got = new List<int>();
        byte[] buf = new byte[4];
        while (got.Count < expected)
        {
            Assert.Equal(2, rx.ReceiveFrom(buf, out _, out _, 10_000));
            got.Add((buf[0] << 8) | buf[1]);
        }

        Assert.True(StackFixture.In(f.A, () => DnIo.Tables.DeletePipe(1)));
        got.Sort();
        return got;
    }
}
