using Vimage.Core;
using Vimage.Net.Iflib;

namespace Vimage.Net.Tests;

public class IflibTests
{
    private static (Ifnet A, Ifnet B) UpPair()
    {
        using (Curvnet.Set(Vnet.Vnet0))
        {
            IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
            pair[0].SetUp(true);
            pair[1].SetUp(true);
            return (pair[0], pair[1]);
        }
    }

    private static void Destroy(Ifnet ifp)
    {
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnets.Destroy(ifp.Name);
        }
    }

    private static IflibContext Ctx(Ifnet ifp) => (IflibContext)ifp.Driver;

    private static void AssertPerFlowOrder(Recorder recorder, int flows, long perFlow)
    {
        var next = new long[flows];
        foreach (var (flow, sequence, _, _) in recorder.Received)
        {
            Assert.Equal(next[flow], sequence); // per-flow FIFO, no loss, no duplicate
            next[flow]++;
        }

        Assert.All(next, n => Assert.Equal(perFlow, n));
    }

    [Fact]
    public void FlowsSpreadOverRxQueuesAndEachFlowStaysOnOneQueue()
    {
        (Ifnet a, Ifnet b) = UpPair();
        try
        {
            Ctx(a).Reconfigure(new IflibQueueConfig(3, 1, 1024, 1024));
            Ctx(b).Reconfigure(new IflibQueueConfig(1, 4, 1024, 1024)); // independent counts
            Assert.Equal(3, Ctx(a).TxQueues.Count);
            Assert.Equal(4, Ctx(b).RxQueues.Count);
            var recorder = new Recorder();
            recorder.Attach(b);
            const int flows = 16, perFlow = 50;
            for (int i = 0; i < perFlow; i++)
            {
                for (int f = 0; f < flows; f++)
                {
                    Assert.True(Frames.Send(a, Frames.Udp(b.Lladdr, a.Lladdr, f, i)));
                }
            }

            Assert.True(Frames.WaitFor(() => recorder.Count == flows * perFlow));
            AssertPerFlowOrder(recorder, flows, perFlow);
            Assert.True(Ctx(b).RxQueues.Count(q => q.Packets > 0) >= 2, "16 flows should use more than one RX queue");
            Assert.True(Ctx(a).TxQueues.Count(q => q.Packets > 0) >= 2, "16 flows should use more than one TX queue");
            Assert.Equal(flows * perFlow, Ctx(a).TxQueues.Sum(q => q.Packets));
            Assert.Equal(flows * perFlow, Ctx(b).RxQueues.Sum(q => q.Packets));
        }
        finally
        {
            Destroy(a);
        }
    }

    [Fact]
    public void QueueCountsMayExceedTheCpuCountAndWorkersAreShared()
    {
        (Ifnet a, Ifnet b) = UpPair();
        try
        {
            int many = CpuId.Count * 3;
            Ctx(b).Reconfigure(new IflibQueueConfig(1, many, 64, 64));
            Assert.All(Ctx(b).RxQueues, q => Assert.InRange(q.Task.Cpu, 0, CpuId.Count - 1));
            Assert.Equal(many, Ctx(b).RxQueues.Count);
        }
        finally
        {
            Destroy(a);
        }
    }

    [Fact]
    public void ReconfiguringUnderTrafficLosesAndDuplicatesNothingAndLeaksNoBuffer()
    {
        long baseline = MbufLeak.Baseline();
        (Ifnet a, Ifnet b) = UpPair();
        var recorder = new Recorder();
        recorder.Attach(b);
        const int flows = 8, perFlow = 3000;
        long refused = 0;
        var sender = new Thread(() =>
        {
            for (int i = 0; i < perFlow; i++)
            {
                for (int f = 0; f < flows; f++)
                {
                    while (!Frames.Send(a, Frames.Udp(b.Lladdr, a.Lladdr, f, i)))
                    {
                        Interlocked.Increment(ref refused);
                        Thread.Yield();
                    }
                }

                if (i % 32 == 0)
                {
                    // Keep at most ~1300 frames in flight, below one mp_ring's 2047: the test measures
                    // reconfiguration, not overload (a full ring drops, as iflib does).
                    Frames.WaitFor(() => recorder.Count >= (long)(i - 128) * flows, 5000);
                }
            }
        });
        sender.Start();
        IflibQueueConfig[] configs =
        [
            new(4, 2, 512, 256), new(1, 3, 1024, 1024), new(2, 2, 128, 64), new(3, 1, 2048, 512), new(1, 1, 1024, 1024),
        ];
        int round = 0;
        while (sender.IsAlive)
        {
            IflibQueueConfig c = configs[round++ % configs.Length];
            Ctx(a).Reconfigure(c);
            Ctx(b).Reconfigure(c with { TxQueues = c.RxQueues, RxQueues = c.TxQueues });
            Thread.Sleep(3);
        }

        sender.Join();
        try
        {
            Assert.True(Frames.WaitFor(() => recorder.Count >= flows * perFlow, 20_000),
                $"received {recorder.Count} of {flows * perFlow}, refused {refused}; {Diagnose(a)}; {Diagnose(b)}");
            MbufLeak.WaitIdle(); // nothing left in any ring: no duplicate can still arrive
            Assert.Equal(flows * perFlow, recorder.Count);
            AssertPerFlowOrder(recorder, flows, perFlow);
            Assert.Equal(0, a.Counter(IfCounter.IFCOUNTER_OQDROPS));
            Assert.True(round >= 2, "the queues were reconfigured while traffic flowed");
        }
        finally
        {
            Destroy(a);
        }

        MbufLeak.AssertBack(baseline);
    }

    [Fact]
    public void ABadConfigurationIsRefusedAndTheOldOneKeepsWorking()
    {
        (Ifnet a, Ifnet b) = UpPair();
        try
        {
            IflibQueueConfig before = Ctx(a).Config;
            Assert.Contains("override_ntxqs=0", Assert.Throws<IfException>(() => Ctx(a).Reconfigure(before with { TxQueues = 0 })).Message);
            Assert.Contains("power of two", Assert.Throws<IfException>(() => Ctx(a).Reconfigure(before with { RxDescriptors = 100 })).Message);
            Assert.Throws<IfException>(() => Ctx(a).Reconfigure(before with { RxQueues = 65 }));
            Assert.Equal(before, Ctx(a).Config);
            var recorder = new Recorder();
            recorder.Attach(b);
            Assert.True(Frames.Send(a, Frames.Udp(b.Lladdr, a.Lladdr, 0, 0)));
            Assert.True(Frames.WaitFor(() => recorder.Count == 1));
        }
        finally
        {
            Destroy(a);
        }
    }

    [Fact]
    public void ADeviceThatRefusesTheNewQueuesRollsBack()
    {
        var device = new RefusingNic();
        var ctx = new IflibContext(device, new IflibQueueConfig(2, 2, 64, 64));
        device.Refuse = true;
        Assert.Throws<InvalidOperationException>(() => ctx.Reconfigure(new IflibQueueConfig(4, 4, 64, 64)));
        Assert.Equal(new IflibQueueConfig(2, 2, 64, 64), ctx.Config);
        Assert.Equal(2, ctx.TxQueues.Count);
    }

    [Fact]
    public void QueueKnobsAndStatisticsAreSysctls()
    {
        (Ifnet a, Ifnet b) = UpPair();
        try
        {
            string root = $"dev.epair.{Ctx(a).Unit}.iflib";
            Assert.Equal(a.Name, Sysctl.Get($"dev.epair.{Ctx(a).Unit}.%desc", Vnet.Vnet0));
            Sysctl.Set($"{root}.override_ntxqs", "4", Vnet.Vnet0);
            Assert.Equal(4, Ctx(a).TxQueues.Count);
            Assert.Single(Ctx(a).RxQueues); // independent
            Assert.True(Sysctl.Exists($"{root}.txq3.r_enqueues"));
            Assert.False(Sysctl.Exists($"{root}.txq4"));
            var e = Assert.Throws<SysctlException>(() => Sysctl.Set($"{root}.override_nrxds", "1000", Vnet.Vnet0));
            Assert.Equal(SysctlError.InvalidValue, e.Error);
            Sysctl.Set($"{root}.override_qs_enable", "0", Vnet.Vnet0);
            Sysctl.Set($"{root}.override_nrxqs", "2", Vnet.Vnet0);
            Assert.Equal((2, 2), (Ctx(a).TxQueues.Count, Ctx(a).RxQueues.Count)); // iflib's equality without override_qs_enable
            Sysctl.Set($"{root}.rx_budget", "4", Vnet.Vnet0);
            Assert.Equal(4, Ctx(a).RxBudget);
            var recorder = new Recorder();
            recorder.Attach(b);
            Assert.True(Frames.Send(a, Frames.Udp(b.Lladdr, a.Lladdr, 5, 0)));
            Assert.True(Frames.WaitFor(() => recorder.Count == 1));
            long enqueues = Enumerable.Range(0, 2).Sum(q => (long)Sysctl.Get($"{root}.txq{q}.r_enqueues", Vnet.Vnet0)!);
            Assert.Equal(1, enqueues);
            Assert.Matches(@"^pidx_head: \d{4} pidx_tail: \d{4} cidx: \d{4} state: (IDLE|BUSY|STALLED|ABDICATED)$",
                (string)Sysctl.Get($"{root}.txq0.ring_state", Vnet.Vnet0)!);
            if (Vnet.IsVimage)
            {
                Vnet jail = Vnet.Create("no-dev-knobs");
                Assert.Equal(SysctlError.PermissionDenied,
                    Assert.Throws<SysctlException>(() => Sysctl.Set($"{root}.override_ntxqs", "1", jail)).Error); // host-only
                jail.Destroy();
            }
        }
        finally
        {
            int unit = Ctx(a).Unit;
            Destroy(a);
            Assert.False(Sysctl.Exists($"dev.epair.{unit}.iflib"));
        }
    }

    [Fact]
    public void ADevicesIflibTreeIsListedInNameOrderAndFollowsItsQueues()
    {
        (Ifnet a, _) = UpPair();
        try
        {
            string root = $"dev.epair.{Ctx(a).Unit}";
            string[] names = Sysctl.Walk(root).Select(o => o.Name).ToArray();
            Assert.Equal(10 + 11 + 5, names.Length); // device knobs, then txq0's and rxq0's statistics
            Assert.Equal(names.Order(StringComparer.Ordinal), names);
            Assert.Equal($"{root}.%desc", names[0]);
            Assert.Contains($"{root}.iflib.txq0.r_enqueues", names);
            Assert.Contains($"{root}.iflib.rxq0.in_use", names);
            Assert.Contains(Sysctl.Walk(), o => o.Name == $"{root}.iflib.rxq0.in_use"); // sysctl -a
            Assert.Contains(Sysctl.Walk("dev.epair"), o => o.Name == $"{root}.%desc");
            Assert.Contains($"{root}.%desc: {a.Name}", Sysctl.List(root));
            Assert.Equal("# of txqs to use, 0 => use default #", Sysctl.Find($"{root}.iflib.override_ntxqs").Description);
            Assert.Equal(SysctlError.IsNode, Assert.Throws<SysctlException>(() => Sysctl.Find($"{root}.iflib.txq0")).Error);
            Assert.Equal(SysctlError.UnknownOid, Assert.Throws<SysctlException>(() => Sysctl.Find($"{root}.iflib.txq0.nope")).Error);

            Sysctl.Set($"{root}.iflib.override_ntxqs", "12", Vnet.Vnet0); // past 10 queues iflib names them txq00..txq11
            names = Sysctl.Walk($"{root}.iflib").Select(o => o.Name).ToArray();
            Assert.Equal(9 + (12 * 11) + 5, names.Length);
            Assert.Contains($"{root}.iflib.txq11.cpu", names);
            Assert.Contains($"{root}.iflib.txq00.cpu", names);
            Assert.DoesNotContain($"{root}.iflib.txq0.cpu", names);
            Assert.Equal(0L, Sysctl.Get($"{root}.iflib.txq07.r_drops", Vnet.Vnet0));
        }
        finally
        {
            Destroy(a);
        }
    }

    private static string Diagnose(Ifnet ifp)
    {
        IflibContext ctx = Ctx(ifp);
        var tx = ctx.TxQueues.Select(q => $"tx{q.Id}[{q.Ring.StateString} sent={q.Packets} drops={q.Drops} task={q.CompletionTask.Runs}/{q.CompletionTask.Failures} {q.CompletionTask.LastError?.Message}]");
        var rx = ctx.RxQueues.Select(q => $"rx{q.Id}[inuse={q.Ring.InUse} got={q.Packets} drops={q.Drops} task={q.Task.Runs}/{q.Task.Failures} {q.Task.LastError?.Message}]");
        return $"{ifp.Name} oq={ifp.Counter(IfCounter.IFCOUNTER_OQDROPS)} iq={ifp.Counter(IfCounter.IFCOUNTER_IQDROPS)} ipk={ifp.Counter(IfCounter.IFCOUNTER_IPACKETS)} opk={ifp.Counter(IfCounter.IFCOUNTER_OPACKETS)} " + string.Join(" ", tx.Concat(rx));
    }

    private sealed class RefusingNic : VirtualNic
    {
        public bool Refuse { get; set; }

        public override string DriverName => "refusing";

        public override int TxdEncap(int qid, Mbuf m)
        {
            m.Free();
            return 0;
        }

        public override void QueuesAlloc(IflibQueueConfig config)
        {
            if (Refuse)
            {
                throw new InvalidOperationException("no resources for " + config);
            }
        }
    }
}
