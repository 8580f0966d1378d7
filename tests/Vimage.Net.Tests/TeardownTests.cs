using Vimage.Core;

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
