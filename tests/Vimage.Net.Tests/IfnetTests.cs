using Vimage.Core;

namespace Vimage.Net.Tests;

public class IfnetTests
{
    private static Vnet NewJail(string name) => Vnet.Create(name);

    [Fact]
    public void EveryVnetHasItsOwnLo0ThatCannotBeDestroyed()
    {
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnet lo0 = Ifnets.Find("lo0");
            Assert.Equal(1, lo0.Index);
            Assert.Equal(IfType.IFT_LOOP, lo0.Type);
            Assert.True(lo0.IsUp);
            Assert.True(lo0.IsRunning);
            Assert.Equal(16384, lo0.Mtu);
            Assert.Equal(IfError.InvalidArgument, Assert.Throws<IfException>(() => Ifnets.Destroy("lo0")).Error);
        }

        if (Vnet.IsVimage)
        {
            Vnet j = NewJail("lo-jail");
            Ifnet jailLo = Ifnets.Of(j).Find("lo0")!;
            Assert.NotSame(Ifnets.Of(Vnet.Vnet0).Find("lo0"), jailLo);
            Assert.Same(j, jailLo.Vnet);
            j.Destroy();
            Assert.True(jailLo.IsDetached);
        }
    }

    [Fact]
    public void LoopbackDeliversWhatItSendsInsideItsVnet()
    {
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnet lo0 = Ifnets.Find("lo0");
            var recorder = new Recorder();
            Action<Ifnet, Mbuf>? before = lo0.InputHandler;
            recorder.Attach(lo0);
            try
            {
                Assert.True(Frames.Send(lo0, Frames.Udp(Frames.Broadcast, Frames.Broadcast, 1, 42)));
                Assert.True(Frames.WaitFor(() => recorder.Count == 1));
                Assert.True(recorder.Received.TryDequeue(out var got));
                Assert.Equal((1, 42L), (got.Flow, got.Sequence));
                Assert.Same(Vnet.Vnet0, got.Vnet);
            }
            finally
            {
                lo0.InputHandler = before;
            }
        }
    }

    [Fact]
    public void EpairCarriesFramesAndCountsThem()
    {
        using (Curvnet.Set(Vnet.Vnet0))
        {
            IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
            Ifnet a = pair[0], b = pair[1];
            try
            {
                Assert.EndsWith("a", a.Name);
                Assert.EndsWith("b", b.Name);
                Assert.NotEqual(a.Lladdr, b.Lladdr);
                var recorder = new Recorder();
                recorder.Attach(b);
                Assert.True(Frames.Send(a, Frames.Udp(b.Lladdr, a.Lladdr, 1, 1))); // a is down: dropped, counted
                Assert.Equal(1, a.Counter(IfCounter.IFCOUNTER_OQDROPS));
                a.SetUp(true);
                b.SetUp(true);
                for (int i = 0; i < 100; i++)
                {
                    Assert.True(Frames.Send(a, Frames.Udp(b.Lladdr, a.Lladdr, 1, i, 100)));
                }

                Assert.True(Frames.WaitFor(() => recorder.Count == 100));
                Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), recorder.Received.Select(r => r.Sequence));
                Assert.Equal(100, a.Counter(IfCounter.IFCOUNTER_OPACKETS));
                Assert.Equal(100 * 100, a.Counter(IfCounter.IFCOUNTER_OBYTES));
                Assert.Equal(100, b.Counter(IfCounter.IFCOUNTER_IPACKETS));
                Assert.Equal(100 * 100, b.Counter(IfCounter.IFCOUNTER_IBYTES));
            }
            finally
            {
                Ifnets.Destroy(a.Name);
            }

            Assert.True(a.IsDetached && b.IsDetached);
            Assert.Null(Ifnets.TryFind(b.Name));
        }
    }

    [Fact]
    public void BadClonerSpecsAndUnknownInterfacesAreClearErrors()
    {
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Assert.Contains("no cloner", Assert.Throws<IfException>(() => Ifnets.Create("bogus")).Message);
            Assert.Equal(IfError.NoSuchInterface, Assert.Throws<IfException>(() => Ifnets.Destroy("epair999a")).Error);
            Assert.Equal(IfError.InvalidArgument, Assert.Throws<IfException>(() => Ifnets.Create("epair99999")).Error);
            IReadOnlyList<Ifnet> pair = Ifnets.Create("epair77");
            Assert.Equal("epair77a", pair[0].Name);
            Assert.Equal(IfError.Exists, Assert.Throws<IfException>(() => Ifnets.Create("epair77")).Error);
            Assert.Equal(IfError.InvalidArgument, Assert.Throws<IfException>(() => pair[0].SetMtu(20)).Error);
            Ifnets.Destroy("epair77b");
            Assert.DoesNotContain(Ifnets.Current.Snapshot(), i => i.Name.StartsWith("epair77", StringComparison.Ordinal));
        }
    }

#if VIMAGE
    [Fact]
    public void IdenticalNamesLiveInDifferentVnets()
    {
        Vnet j1 = NewJail("names-1"), j2 = NewJail("names-2");
        try
        {
            Ifnet x, y;
            using (Curvnet.Set(j1))
            {
                x = Ifnets.Create("epair")[0];
            }

            using (Curvnet.Set(j2))
            {
                y = Ifnets.Create("epair")[0];
            }

            Assert.Equal("epair0a", x.Name); // units are per vnet
            Assert.Equal("epair0a", y.Name);
            Assert.NotEqual(x.Lladdr, y.Lladdr);
            Assert.Same(x, Ifnets.Of(j1).Find("epair0a"));
            Assert.Same(y, Ifnets.Of(j2).Find("epair0a"));
        }
        finally
        {
            j1.Destroy();
            j2.Destroy();
        }
    }

    [Fact]
    public void InterfacesMoveBetweenVnetsAndGoHomeWhenTheJailDies()
    {
        Vnet jail = NewJail("vmove");
        Ifnet a, b;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
            (a, b) = (pair[0], pair[1]);
            Ifnets.Loan(b.Name, jail); // ifconfig epairNb vnet jail
            Assert.Null(Ifnets.TryFind(b.Name));
        }

        Assert.Same(jail, b.Vnet);
        Assert.Same(Vnet.Vnet0, b.HomeVnet);
        Assert.Same(b, Ifnets.Of(jail).Find(b.Name));
        Assert.Equal(2, b.Index); // after the jail's lo0
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ifnets.Reclaim(b.Name, jail); // ifconfig epairNb -vnet jail
            Assert.Same(Vnet.Vnet0, b.Vnet);
            Ifnets.Loan(b.Name, jail);
        }

        // Traffic crosses the vnet boundary: b's input runs in the jail.
        var recorder = new Recorder();
        recorder.Attach(b);
        a.SetUp(true);
        b.SetUp(true);
        Assert.True(Frames.Send(a, Frames.Udp(b.Lladdr, a.Lladdr, 3, 9)));
        Assert.True(Frames.WaitFor(() => recorder.Count == 1));
        Assert.True(recorder.Received.TryDequeue(out var got));
        Assert.Same(jail, got.Vnet);

        // A clashing name refuses the move and changes nothing.
        Ifnet clash;
        using (Curvnet.Set(jail))
        {
            clash = Ifnets.Create("epair")[0];
            Ifnets.Rename(clash, a.Name);
        }

        using (Curvnet.Set(Vnet.Vnet0))
        {
            Assert.Equal(IfError.Exists, Assert.Throws<IfException>(() => Ifnets.Loan(a.Name, jail)).Error);
            Assert.Same(Vnet.Vnet0, a.Vnet);
        }

        Ifnet clashPeer = Ifnets.Of(jail).Snapshot().Single(i => i != clash && i.Name.StartsWith("epair", StringComparison.Ordinal) && i != b);
        using (Curvnet.Set(jail))
        {
            Ifnets.Loan(clashPeer.Name, Vnet.Vnet0); // a jail-made interface lent to the host
        }

        jail.Destroy();
        Assert.Same(Vnet.Vnet0, b.Vnet); // vnet_if_return: loaned interfaces went home
        Assert.False(b.IsDetached);
        Assert.True(clash.IsDetached); // the jail's own clones are destroyed,
        Assert.True(clashPeer.IsDetached); // including the end it had lent to the host
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Assert.Null(Ifnets.TryFind(clashPeer.Name));
            Ifnets.Destroy(a.Name);
        }
    }
#endif
}
