using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Udp;

namespace Vimage.Net.Tests;

/// <summary>FreeBSD PRs 238870, 234985, 244703, 250870, D20868: epair and vnet teardown racing each other and traffic.</summary>
public class TeardownTests
{
#if VIMAGE
    [Theory]
    [MemberData(nameof(DispatchScope.Modes), MemberType = typeof(DispatchScope))]
    public void DestroyingEpairsAndVnetsUnderTrafficNeitherCrashesNorLeaks(string mode)
    {
        using var scope = new DispatchScope(mode); // direct: the senders run the receiving jail's stack inline
        long baseline = MbufLeak.Baseline();
        int baseVnets = Vnet.List().Count;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        for (int round = 0; round < 12; round++)
        {
            Vnet jail = Vnet.Create($"race-{round}");
            Ifnet a, b;
            using (Curvnet.Set(Vnet.Vnet0))
            {
                IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
                (a, b) = (pair[0], pair[1]);
                a.SetUp(true);
                Ifnets.Loan(b.Name, jail);
            }

            using (Curvnet.Set(jail))
            {
                b.SetUp(true);
            }

            var recorder = new Recorder();
            recorder.Attach(b);

            using var stop = new CancellationTokenSource();
            var senders = Enumerable.Range(0, 3).Select(t => new Thread(() =>
            {
                try
                {
                    long i = 0;
                    while (!stop.IsCancellationRequested)
                    {
                        Frames.Send(a, Frames.Udp(b.Lladdr, a.Lladdr, t, i++)); // may race with destroy: must be safe
                        Frames.Send(b, Frames.Udp(a.Lladdr, b.Lladdr, t, i++));
                    }
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                }
            })).ToList();
            senders.ForEach(s => s.Start());
            Assert.True(Frames.WaitFor(() => recorder.Count > 0), "traffic flows before the teardown");

            // The host destroys the epair while the jail is destroyed (pending_delete_if / D27378).
            var destroyEpair = new Thread(() =>
            {
                try
                {
                    using (Curvnet.Set(Vnet.Vnet0))
                    {
                        if (Ifnets.TryFind(a.Name) is not null)
                        {
                            Ifnets.Destroy(a.Name);
                        }
                    }
                }
                catch (IfException)
                {
                    // already gone: fine
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                }
            });
            var destroyJail = new Thread(() =>
            {
                try
                {
                    jail.Destroy();
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                }
            });
            destroyEpair.Start();
            destroyJail.Start();
            destroyEpair.Join();
            destroyJail.Join();
            stop.Cancel();
            senders.ForEach(s => s.Join());
            Assert.True(a.IsDetached);
            Assert.True(b.IsDetached);
        }

        Assert.Empty(failures);
        Assert.Equal(baseVnets, Vnet.List().Count);
        MbufLeak.AssertBack(baseline);
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Assert.DoesNotContain(Ifnets.Current.Snapshot(), i => i.IsDetached);
        }
    }

    /// <summary>
    /// if_vmove while packets run inline through the moving interface (FreeBSD PR 250870's shape): an epair end
    /// is moved back and forth between two jails, readdressed each time, while senders on both ends keep UDP
    /// flowing into it (its jail answers port-unreachable, inline in direct mode). Then the jail holding it is
    /// destroyed under the same traffic, which sends the interface home. No sender sees an exception, both jails
    /// really received traffic, no buffer is lost, and the interface ends attached at home.
    /// </summary>
    [Theory]
    [MemberData(nameof(DispatchScope.Modes), MemberType = typeof(DispatchScope))]
    public void MovingAnInterfaceBetweenJailsUnderInlineTrafficIsSafe(string mode)
    {
        using var scope = new DispatchScope(mode);
        long baseline = MbufLeak.Baseline();
        int baseVnets = Vnet.List().Count;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        Vnet sender = Vnet.Create("vmove-src");
        Vnet jail1 = Vnet.Create("vmove-1");
        Vnet jail2 = Vnet.Create("vmove-2");
        Ifnet a, b;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
            (a, b) = (pair[0], pair[1]);
            Ifnets.Loan(a.Name, sender);
            Ifnets.Loan(b.Name, jail1);
        }

        using (Curvnet.Set(sender))
        {
            a.SetUp(true);
            Topology.Configure(a, "192.0.2.1/24");
        }

        using (Curvnet.Set(jail1))
        {
            b.SetUp(true);
            Topology.Configure(b, "192.0.2.2/24");
        }

        using var stop = new CancellationTokenSource();
        var threads = Enumerable.Range(0, 3).Select(t => new Thread(() =>
        {
            try
            {
                long i = 0;
                while (!stop.IsCancellationRequested)
                {
                    // Thread 2 sends from the moving end itself; every frame is addressed to 192.0.2.2, port 7.
                    byte[] f = Frames.Udp(t < 2 ? b.Lladdr : a.Lladdr, t < 2 ? a.Lladdr : b.Lladdr, t, i++);
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), Checksum.Compute(f.AsSpan(14, 20)));
                    Frames.Send(t < 2 ? a : b, f);
                }
            }
            catch (Exception e)
            {
                failures.Enqueue(e);
            }
        })).ToList();
        threads.ForEach(s => s.Start());

        long NoPort(Vnet v) => StackFixture.FetchUdp(v, UdpStat.udps_noport);
        Assert.True(Frames.WaitFor(() => NoPort(jail1) > 0), "traffic reaches jail1 before the moves");
        for (int move = 0; move < 60; move++)
        {
            Vnet from = move % 2 == 0 ? jail1 : jail2;
            Vnet to = move % 2 == 0 ? jail2 : jail1;
            long before = NoPort(to);
            using (Curvnet.Set(from))
            {
                Ifnets.Move(b, to);
            }

            using (Curvnet.Set(to))
            {
                b.SetUp(true);
                Topology.Configure(b, "192.0.2.2/24");
            }

            if (move < 2)
            {
                Assert.True(Frames.WaitFor(() => NoPort(to) > before), $"traffic reaches {to.Name} after move {move}");
            }
        }

        // b now sits in jail1 (an even number of moves); move it to jail2 and destroy jail2 under traffic.
        using (Curvnet.Set(jail1))
        {
            Ifnets.Move(b, jail2);
        }

        jail2.Destroy();
        Assert.Same(Vnet.Vnet0, b.Vnet);
        Assert.False(b.IsDetached);
        stop.Cancel();
        threads.ForEach(s => s.Join());

        Assert.Empty(failures);
        sender.Destroy();
        jail1.Destroy();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnets.DestroyCloned(b);
        }

        Assert.True(a.IsDetached && b.IsDetached);
        Assert.Equal(baseVnets, Vnet.List().Count);
        MbufLeak.AssertBack(baseline);
    }
#endif

    [Fact]
    public void SendingOnADestroyedInterfaceIsACountedDropNotACrash()
    {
        long baseline = MbufLeak.Baseline();
        Ifnet a;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            a = Ifnets.Create("epair")[0];
            a.SetUp(true);
            Ifnets.Destroy(a.Name);
        }

        Assert.True(Frames.Send(a, Frames.Udp(Frames.Broadcast, a.Lladdr, 0, 0)));
        Assert.Throws<IfException>(() => a.SetUp(true));
        Assert.Equal(baseline, MbufPool.Clusters.Outstanding);
    }
}
