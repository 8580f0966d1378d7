namespace Vimage.Core.Tests;

public class VnetTests
{
    [Fact]
    public void Vnet0ExistsWithTheStaticInitialValues()
    {
        Vnet vnet0 = Vnet.Vnet0;
        Assert.Equal(0, vnet0.Id);
        Assert.Equal(VnetState.Live, vnet0.State);
        Assert.Contains(vnet0, Vnet.List());
        using (Curvnet.Set(vnet0))
        {
            Assert.Equal(1L << 40, TestGlobals.V_big_counter);
            Assert.True(TestGlobals.V_table.ContainsKey("seed"));
        }
    }

#if VIMAGE
    [Fact]
    public void EachVnetHasItsOwnCopyInitializedFromTheReferenceCopy()
    {
        Vnet a = Vnet.Create("a"), b = Vnet.Create("b");
        try
        {
            using (Curvnet.Set(a))
            {
                Assert.Equal(64, TestGlobals.V_ip_defttl);
                TestGlobals.V_ip_defttl = 17;
                TestGlobals.V_forwarding = true;
                TestGlobals.V_big_counter++;
            }

            using (Curvnet.Set(b))
            {
                Assert.Equal(64, TestGlobals.V_ip_defttl);
                Assert.False(TestGlobals.V_forwarding);
                Assert.Equal(1L << 40, TestGlobals.V_big_counter);
            }

            Assert.Equal(17, TestGlobals.V_ip_defttl_In(a));
            Assert.Equal(64, TestGlobals.V_ip_defttl_In(Vnet.Vnet0));
            Assert.Equal((1L << 40) + 1, TestGlobals.V_big_counter_In(a));
            unsafe
            {
                using (Curvnet.Set(a))
                {
                    *TestGlobals.V_ip_defttl_Ptr = 33;
                }
            }

            Assert.Equal(33, TestGlobals.V_ip_defttl_In(a));
        }
        finally
        {
            a.Destroy();
            b.Destroy();
        }
    }

    [Fact]
    public void ReferenceVariablesGetAFreshInstancePerVnetFromTheDeclaredInitializer()
    {
        Vnet a = Vnet.Create("refs-a"), b = Vnet.Create("refs-b");
        try
        {
            Dictionary<string, int> ta = TestGlobals.V_table_In(a), tb = TestGlobals.V_table_In(b);
            Assert.NotSame(ta, tb);
            Assert.Equal(1, ta["seed"]);
            ta["only-a"] = 2;
            Assert.False(tb.ContainsKey("only-a"));
            using (Curvnet.Set(b))
            {
                TestGlobals.V_hostname = "b.example";
                TestGlobals.V_table = new() { ["replaced"] = 3 };
            }

            Assert.Null(TestGlobals.V_hostname_In(a));
            Assert.Equal("b.example", TestGlobals.V_hostname_In(b));
            Assert.True(TestGlobals.V_table_In(b).ContainsKey("replaced"));
            Assert.True(TestGlobals.V_table_In(a).ContainsKey("only-a"));
        }
        finally
        {
            a.Destroy();
            b.Destroy();
        }
    }

    [Fact]
    public void DestroyPoisonsTheVnetSoLaterUseFailsLoudly()
    {
        Vnet v = Vnet.Create("doomed");
        Assert.Contains(v, Vnet.List());
        v.Destroy();
        Assert.Equal(VnetState.Destroyed, v.State);
        Assert.Equal(Vnet.MagicDead, v.Magic);
        Assert.True(v.IsShuttingDown);
        Assert.DoesNotContain(v, Vnet.List());
        Assert.Throws<ObjectDisposedException>(() => Curvnet.Set(v));
        Assert.Throws<ObjectDisposedException>(() => TestGlobals.V_ip_defttl_In(v));
        Assert.Throws<ObjectDisposedException>(() => TestGlobals.V_table_In(v));
        Assert.Throws<ObjectDisposedException>(() => v.Destroy());
        Assert.Throws<InvalidOperationException>(() => Vnet.Vnet0.Destroy());
    }

    [Fact]
    public void ConstructorsRunSortedBySubsystemAndOrderAndDestructorsInReverse()
    {
        Vnet v = Vnet.Create("ordering");
        Assert.Equal(["if_init", "epair_a", "epair_b", "ip_init"], TestGlobals.EventsFor(v));
        Assert.Equal(SiSub.SI_SUB_VNET_DONE, v.Subsystem);
        v.Destroy();
        Assert.Equal(["if_init", "epair_a", "epair_b", "ip_init", "if_return", "ip_destroy", "if_uninit"], TestGlobals.EventsFor(v));
    }

    [Fact]
    public void ConstructorsRunBeforeTheVnetIsListed()
    {
        Vnet v = Vnet.Create("probe");
        try
        {
            Assert.Equal(VnetState.Creating, TestGlobals.StateSeenByConstructor[v.Name]);
            Assert.False(TestGlobals.ListedSeenByConstructor[v.Name]);
            Assert.Contains(v, Vnet.List());
        }
        finally
        {
            v.Destroy();
        }
    }

    [Fact]
    public void DestroyWaitsForWorkersInsideTheVnetAndRefusesNewOnes()
    {
        Vnet v = Vnet.Create("busy");
        Assert.True(v.TryEnter());
        var destroyer = new Thread(v.Destroy);
        destroyer.Start();
        Assert.False(destroyer.Join(200)); // held open by the worker's reference
        Assert.True(v.IsShuttingDown);
        Assert.NotEqual(VnetState.Destroyed, v.State);
        Assert.False(v.TryEnter()); // new work is refused
        Assert.DoesNotContain("if_return", TestGlobals.EventsFor(v)); // no destructor ran while the worker was inside
        v.Exit();
        Assert.True(destroyer.Join(10_000));
        Assert.Equal(VnetState.Destroyed, v.State);
        Assert.Contains("if_return", TestGlobals.EventsFor(v));
        Assert.Equal(0, v.ActiveUsers);
    }

    [Fact]
    public void ManyThreadsCreateAndDestroyVnetsWithoutInterference()
    {
        var errors = new List<Exception>();
        Parallel.For(0, 8, i =>
        {
            try
            {
                for (int round = 0; round < 25; round++)
                {
                    Vnet v = Vnet.Create($"stress-{i}-{round}");
                    using (Curvnet.Set(v))
                    {
                        TestGlobals.V_ip_defttl = i * 100 + round;
                        TestGlobals.V_table[$"k{i}"] = round;
                    }

                    Assert.Equal(i * 100 + round, TestGlobals.V_ip_defttl_In(v));
                    Assert.Equal(2, TestGlobals.V_table_In(v).Count);
                    v.Destroy();
                }
            }
            catch (Exception e)
            {
                lock (errors)
                {
                    errors.Add(e);
                }
            }
        });
        Assert.Empty(errors);
        Assert.DoesNotContain(Vnet.List(), v => v.Name.StartsWith("stress-", StringComparison.Ordinal));
    }
#else
    [Fact]
    public void WithoutVimageOnlyVnet0ExistsAndAccessorsArePlainGlobals()
    {
        var e = Assert.Throws<NotSupportedException>(() => Vnet.Create("x"));
        Assert.Contains("built without VIMAGE", e.Message);
        Assert.False(Vnet.IsVimage);
        Assert.Equal([Vnet.Vnet0], Vnet.List());
        int runs = 0;
        Vnet.Foreach(_ => runs++);
        Assert.Equal(1, runs);

        // No current vnet is needed: V_x is the static field itself.
        int before = TestGlobals.V_ip_defttl;
        TestGlobals.V_ip_defttl = 99;
        Assert.Equal(99, TestGlobals.V_ip_defttl_In(Vnet.Vnet0));
        TestGlobals.V_ip_defttl = before;
        Assert.Equal(["if_init", "epair_a", "epair_b", "ip_init"], TestGlobals.EventsFor(Vnet.Vnet0));
    }
#endif

    [Fact]
    public void CurvnetScopesNestAndRestore()
    {
        Vnet outer = Vnet.Vnet0;
        Assert.Null(Curvnet.Current);
        using (Curvnet.Set(outer))
        {
            Assert.Same(outer, Curvnet.Current);
            using (Curvnet.Set(outer))
            {
                Assert.Same(outer, Curvnet.Current);
            }

            Assert.Same(outer, Curvnet.Current);
        }

        Assert.Null(Curvnet.Current);
    }

    [Fact]
    public void UnbalancedRestoreIsCaught()
    {
        CurvnetScope first = Curvnet.Set(Vnet.Vnet0);
        CurvnetScope second = Curvnet.Set(Vnet.Vnet0);
        Assert.Throws<InvalidOperationException>(() => first.Dispose()); // restoring the outer scope first
        second.Dispose();
        first.Dispose();
        Assert.Null(Curvnet.Current);
    }

    [Fact]
    public void DebugModeLogsRecursionAndCatchesAccessWithoutACurrentVnet()
    {
        Curvnet.Debug = true;
        try
        {
            using (Curvnet.Set(Vnet.Vnet0))
            using (Curvnet.Set(Vnet.Vnet0))
            {
            }

            VnetRecursion last = Curvnet.RecursionLog[^1];
            Assert.Equal(nameof(DebugModeLogsRecursionAndCatchesAccessWithoutACurrentVnet), last.Caller);
            Assert.Equal("VnetTests.cs", last.File);
            Assert.True(last.Line > 0);
            Assert.Same(Vnet.Vnet0, last.Previous);
#if VIMAGE
            var e = Assert.Throws<InvalidOperationException>(() => TestGlobals.V_ip_defttl);
            Assert.Contains("no current vnet", e.Message);
            Assert.Throws<InvalidOperationException>(() => TestGlobals.V_table);
#endif
        }
        finally
        {
            Curvnet.Debug = false;
        }
    }

    [Fact]
    public void ForeachAndGlobalEventsRunInEveryVnetWithItCurrent()
    {
        var created = new List<Vnet>();
        if (Vnet.IsVimage)
        {
            created.Add(Vnet.Create("ev-a"));
            created.Add(Vnet.Create("ev-b"));
        }

        try
        {
            var seen = new List<(Vnet, int)>();
            var ev = new VnetGlobalEvent<int>();
            Action<int> handler = arg => seen.Add((Curvnet.Current!, arg));
            ev.Register(handler);
            ev.Invoke(7);
            Assert.Equal(Vnet.List().Count, seen.Count);
            Assert.All(seen, s => Assert.Equal(7, s.Item2)); // the argument is passed (FreeBSD drops it)
            Assert.Equal(Vnet.List(), seen.Select(s => s.Item1));
            Assert.True(ev.Deregister(handler));
            ev.Invoke(8);
            Assert.Equal(Vnet.List().Count, seen.Count);
        }
        finally
        {
            created.ForEach(v => v.Destroy());
        }
    }
}
