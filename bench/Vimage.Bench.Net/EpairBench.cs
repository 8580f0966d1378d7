using System.Diagnostics;
using System.Globalization;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Bpf;
using Vimage.Net.Iflib;

namespace Vimage.Bench.Net;

/// <summary>
/// Frames/s through one epair whose ends sit in two vnets (or both in vnet0 without VIMAGE). Senders call
/// <see cref="Ifnet.Transmit"/> on pooled mbufs. The receiving end does what a veth end with an AF_PACKET socket
/// does: a capture tap (bpf_mtap, the counterpart of packet_rcv) copies every frame out into a buffer, as recv() does,
/// and counts it; the frame then goes up the stack (ether_input, ip_input, which drops it: not for us, no forwarding),
/// as Linux passes it to ip_rcv.
/// </summary>
internal sealed class EpairBench : IDisposable
{
    private const int FlowsPerSender = 16;
    private const int ReconfigPeriodMs = 50;

    /// <summary>Paced senders keep at most this many frames in flight (offered − delivered − dropped), below one mp_ring's 2047.</summary>
    public const int Window = 2000;
    private readonly Vnet _va;
    private readonly Vnet _vb;
    private readonly bool _separate;

    public EpairBench()
    {
        (_va, _vb) = VnetPair.Create("vbench-a", "vbench-b");
        _separate = _va != _vb;
    }

    /// <summary>rx_budget for both ends (0 = iflib's default of 16).</summary>
    public int RxBudget { get; init; }

    public string Placement => _separate
        ? $"epair end a in {_va.Name}, end b loaned to {_vb.Name} (two vnets)"
        : "built without VIMAGE: both epair ends are in vnet0 (no second vnet exists)";

    /// <summary>
    /// One run: <paramref name="queues"/> TX and RX queues on both ends, or toggling 1↔2 every 50 ms. Flood senders
    /// transmit as fast as they can (a full mp_ring drops); paced senders keep at most <see cref="Window"/> frames in
    /// flight, as a sender that backs off on ENOBUFS would, so nothing is dropped.
    /// </summary>
    public RunResult Run(int frameSize, int queues, bool reconfig, bool paced, TimeSpan warmup, TimeSpan measure)
    {
        (Ifnet a, Ifnet b) = VnetPair.Epair(_va, _vb);
        var ctxA = (IflibContext)a.Driver;
        var ctxB = (IflibContext)b.Driver;
        try
        {
            var start = new IflibQueueConfig(queues, queues, 1024, 1024);
            ctxA.Reconfigure(start);
            ctxB.Reconfigure(start);
            ctxA.RxBudget = RxBudget;
            ctxB.RxBudget = RxBudget;
            var counter = new RxCounter();
            using BpfSession tap = b.Bpf.Attach(counter.Handle, Direction.In);

            int senders = reconfig ? 2 : queues;
            byte[][][] frames = BenchFrames.PerSender(b.Lladdr, a.Lladdr, senders, FlowsPerSender, frameSize);
            var offered = new PaddedLong[senders];
            var poolFailures = new PaddedLong[senders];
            bool stop = false;
            var threads = new Thread[senders];
            long Drops() => a.Counter(IfCounter.IFCOUNTER_OQDROPS) + a.Counter(IfCounter.IFCOUNTER_OERRORS)
                + b.Counter(IfCounter.IFCOUNTER_IQDROPS) + b.Counter(IfCounter.IFCOUNTER_IERRORS) + Sum(poolFailures);
            Func<long>? inFlight = paced ? () => Sum(offered) - counter.Total - Drops() : null;
            for (int t = 0; t < senders; t++)
            {
                int id = t;
                threads[t] = new Thread(() => SendLoop(a, _va, frames[id], inFlight, ref offered[id].Value, ref poolFailures[id].Value, ref stop))
                {
                    IsBackground = true,
                    Name = $"epair sender {id}",
                };
            }

            // The reconfiguration thread keeps its own allocation total, so reconfigurations can be told apart.
            long reconfigAlloc = 0, reconfigs = 0, reconfigMaxTicks = 0;
            Thread? toggler = null;
            if (reconfig)
            {
                toggler = new Thread(() =>
                {
                    int n = 0;
                    var clock = new Stopwatch();
                    while (!Volatile.Read(ref stop))
                    {
                        Thread.Sleep(ReconfigPeriodMs);
                        int q = n++ % 2 == 0 ? 2 : 1;
                        var config = new IflibQueueConfig(q, q, 1024, 1024);
                        long before = GC.GetAllocatedBytesForCurrentThread();
                        clock.Restart();
                        ctxA.Reconfigure(config);
                        ctxB.Reconfigure(config);
                        clock.Stop();
                        Interlocked.Add(ref reconfigAlloc, GC.GetAllocatedBytesForCurrentThread() - before);
                        Interlocked.Increment(ref reconfigs);
                        if (clock.ElapsedTicks > Volatile.Read(ref reconfigMaxTicks))
                        {
                            Volatile.Write(ref reconfigMaxTicks, clock.ElapsedTicks);
                        }
                    }
                })
                { IsBackground = true, Name = "epair reconfig" };
            }

            foreach (Thread thread in threads)
            {
                thread.Start();
            }

            toggler?.Start();
            Thread.Sleep(warmup);

            // Snapshot order: allocation first and last, so the window's own reads are inside it.
            long alloc0 = GC.GetTotalAllocatedBytes(precise: true);
            long reconfigAlloc0 = Interlocked.Read(ref reconfigAlloc);
            long reconfigs0 = Interlocked.Read(ref reconfigs);
            long delivered0 = counter.Total;
            long offered0 = Sum(offered);
            long drops0 = Drops();
            long created0 = MbufPool.Clusters.Created;
            int gen0 = GC.CollectionCount(0);
            var window = Stopwatch.StartNew();
            Thread.Sleep(measure);
            double seconds = window.Elapsed.TotalSeconds;
            long delivered1 = counter.Total;
            long offered1 = Sum(offered);
            long drops1 = Drops();
            long created1 = MbufPool.Clusters.Created;
            long reconfigs1 = Interlocked.Read(ref reconfigs);
            long reconfigAlloc1 = Interlocked.Read(ref reconfigAlloc);
            long alloc1 = GC.GetTotalAllocatedBytes(precise: true);
            int gen0Collections = GC.CollectionCount(0) - gen0;

            Volatile.Write(ref stop, true);
            foreach (Thread thread in threads)
            {
                thread.Join();
            }

            toggler?.Join();
            WaitQuiet(counter);

            string details = string.Create(CultureInfo.InvariantCulture,
                $"offered {offered1 - offered0:N0}, new mbufs {created1 - created0:N0} (pool total {created1:N0}), gen0 GCs {gen0Collections}");
            if (reconfig)
            {
                details += string.Create(CultureInfo.InvariantCulture,
                    $", {reconfigs1 - reconfigs0} reconfigurations in the window (both ends each), slowest {reconfigMaxTicks * 1000.0 / Stopwatch.Frequency:F1} ms, {reconfigAlloc1 - reconfigAlloc0:N0} B allocated by them");
            }
            else
            {
                details += ", " + QueueStats(ctxA, ctxB);
            }

            long allocated = alloc1 - alloc0;
            return new RunResult(delivered1 - delivered0, offered1 - offered0, drops1 - drops0, seconds, allocated,
                allocated - (reconfigAlloc1 - reconfigAlloc0), details);
        }
        finally
        {
            using (Curvnet.Set(_va))
            {
                Ifnets.Destroy(a.Name);
            }
        }
    }

    private static void SendLoop(Ifnet ifp, Vnet vnet, byte[][] frames, Func<long>? inFlight, ref long offered, ref long poolFailures, ref bool stop)
    {
        using CurvnetScope scope = Curvnet.Set(vnet); // if_transmit runs with the sender's vnet current, as in the kernel
        MbufPool pool = MbufPool.Clusters;
        int mask = frames.Length - 1; // FlowsPerSender is a power of two
        int i = 0;
        long sent = 0, failed = 0;
        while (!Volatile.Read(ref stop))
        {
            if (inFlight is not null)
            {
                var spin = default(SpinWait);
                while (inFlight() > Window - 16 && !Volatile.Read(ref stop))
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }

            for (int k = 0; k < 16; k++)
            {
                Mbuf? m = pool.Get();
                if (m is null)
                {
                    failed++;
                    Thread.Yield();
                    continue;
                }

                m.SetData(frames[i++ & mask]);
                ifp.Transmit(m);
                sent++;
            }

            Volatile.Write(ref offered, sent);
            Volatile.Write(ref poolFailures, failed);
        }
    }

    private static string QueueStats(IflibContext a, IflibContext b)
    {
        string tx = string.Join("/", a.TxQueues.Select(q => q.Packets.ToString("N0", CultureInfo.InvariantCulture)));
        string rx = string.Join("/", b.RxQueues.Select(q => q.Packets.ToString("N0", CultureInfo.InvariantCulture)));
        long ringDrops = a.TxQueues.Sum(q => q.Ring.Drops);
        long stalls = a.TxQueues.Sum(q => q.Ring.Stalls);
        long abdications = a.TxQueues.Sum(q => q.Ring.Abdications);
        long rxRuns = b.RxQueues.Sum(q => q.Task.Runs);
        long rxPackets = b.RxQueues.Sum(q => q.Packets);
        long txTaskRuns = a.TxQueues.Sum(q => q.CompletionTask.Runs);
        return string.Create(CultureInfo.InvariantCulture,
            $"whole run: TX per queue {tx}, peer RX per queue {rx}, mp_ring full-drops {ringDrops:N0}, stalls {stalls:N0}, abdications {abdications:N0}, RX task runs {rxRuns:N0} ({(double)rxPackets / Math.Max(1, rxRuns):0.0} frames/run), TX task runs {txTaskRuns:N0}");
    }

    private static void WaitQuiet(RxCounter counter)
    {
        long last = -1;
        for (int i = 0; i < 200 && counter.Total != last; i++)
        {
            last = counter.Total;
            Thread.Sleep(10);
        }
    }

    private static long Sum(PaddedLong[] values)
    {
        long sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            sum += Volatile.Read(ref values[i].Value);
        }

        return sum;
    }

    public void Dispose() => VnetPair.Destroy(_va, _vb);

    /// <summary>
    /// The receiving end's capture listener, run by each RX queue's worker: copies the frame into that thread's buffer
    /// (recv() into a user buffer) and counts it per CPU.
    /// </summary>
    private sealed class RxCounter
    {
        [ThreadStatic]
        private static byte[]? t_buffer;

        private readonly PaddedLong[] _slots = new PaddedLong[CpuId.Count];

        public long Total => Sum(_slots);

        public void Handle(ReadOnlySpan<byte> frame, Direction direction, long micros)
        {
            byte[] buffer = t_buffer ??= GC.AllocateUninitializedArray<byte>(2048, pinned: true);
            frame.CopyTo(buffer);
            Interlocked.Increment(ref _slots[CpuId.Current].Value);
        }
    }
}
