namespace Vimage.Core.Tests;

/// <summary>
/// The V_x accessors read the thread's cached vnet base (set by CURVNET_SET / restored by CURVNET_RESTORE). curvnet
/// is per thread, as in FreeBSD: a new thread or a continuation on another thread has no current vnet until it
/// enters one, and a virtualized global read there throws; it never reads vnet0's or another vnet's copy.
/// </summary>
public class CurvnetAccessTests
{
    [Fact]
    public void NestedSetsAndRestoresReadTheRightVnet()
    {
        Vnet a = Vnet.IsVimage ? Vnet.Create("acc-a") : Vnet.Vnet0;
        Vnet b = Vnet.IsVimage ? Vnet.Create("acc-b") : Vnet.Vnet0;
        try
        {
            using (Curvnet.Set(a))
            {
                TestGlobals.V_ip_defttl = 11;
                TestGlobals.V_table["who"] = 1;
                using (Curvnet.Set(b))
                {
                    TestGlobals.V_ip_defttl = Vnet.IsVimage ? 22 : 11;
                    TestGlobals.V_table["who"] = Vnet.IsVimage ? 2 : 1;
                    using (Curvnet.Set(a))
                    {
                        Assert.Equal(11, TestGlobals.V_ip_defttl);
                        Assert.Equal(1, TestGlobals.V_table["who"]);
                    }

                    Assert.Equal(Vnet.IsVimage ? 22 : 11, TestGlobals.V_ip_defttl);
                    Assert.Equal(Vnet.IsVimage ? 2 : 1, TestGlobals.V_table["who"]);
                }

                Assert.Equal(11, TestGlobals.V_ip_defttl);
                Assert.Equal(1, TestGlobals.V_table["who"]);
                Assert.Equal(Vnet.IsVimage ? 22 : 11, TestGlobals.V_ip_defttl_In(b));
            }

            Assert.Null(Curvnet.Current);
        }
        finally
        {
            if (Vnet.IsVimage)
            {
                a.Destroy();
                b.Destroy();
            }
            else
            {
                using (Curvnet.Set(Vnet.Vnet0))
                {
                    TestGlobals.V_ip_defttl = 64;
                    TestGlobals.V_table.Remove("who");
                }
            }
        }
    }

    [Fact]
    public void ANewThreadStartsWithoutACurrentVnetAndEntersItsOwn()
    {
        Vnet v = Vnet.IsVimage ? Vnet.Create("acc-thread") : Vnet.Vnet0;
        try
        {
            int seen = 0;
            Vnet? currentAtStart = Vnet.Vnet0;
            Exception? unset = null;
            using (Curvnet.Set(v))
            {
                TestGlobals.V_big_counter = 4242;
                var thread = new Thread(() =>
                {
                    currentAtStart = Curvnet.Current; // the creator's CURVNET_SET does not follow
                    unset = Record(() => TestGlobals.V_big_counter);
                    using (Curvnet.Set(v))
                    {
                        seen = (int)TestGlobals.V_big_counter;
                    }
                });
                thread.Start();
                Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "thread did not finish");
            }

            Assert.Null(currentAtStart);
            Assert.Equal(4242, seen);
            AssertNoVnetError(unset);
        }
        finally
        {
            if (Vnet.IsVimage)
            {
                v.Destroy();
            }
            else
            {
                using (Curvnet.Set(Vnet.Vnet0))
                {
                    TestGlobals.V_big_counter = 1L << 40;
                }
            }
        }
    }

    [Fact]
    public async Task CurvnetDoesNotFlowAcrossAnAsyncHop()
    {
        Vnet v = Vnet.IsVimage ? Vnet.Create("acc-async") : Vnet.Vnet0;
        try
        {
            using (Curvnet.Set(v))
            {
                TestGlobals.V_ip_defttl = 99;
            }

            // A continuation on a pool thread sees that thread's curvnet (none), and re-enters the vnet explicitly,
            // as sockets do with so_vnet.
            (Vnet? current, Exception? unset, int inside) = await Task.Run(() =>
            {
                Vnet? c = Curvnet.Current;
                Exception? e = Record(() => TestGlobals.V_ip_defttl);
                using (Curvnet.Set(v))
                {
                    return (c, e, TestGlobals.V_ip_defttl);
                }
            });

            Assert.Null(current);
            AssertNoVnetError(unset);
            Assert.Equal(99, inside);
        }
        finally
        {
            if (Vnet.IsVimage)
            {
                v.Destroy();
            }
            else
            {
                using (Curvnet.Set(Vnet.Vnet0))
                {
                    TestGlobals.V_ip_defttl = 64;
                }
            }
        }
    }

#if VIMAGE
    [Fact]
    public void RestoringIntoADestroyedVnetThrowsInsteadOfReadingItsRecycledRegion()
    {
        Vnet doomed = Vnet.Create("acc-doomed");
        Vnet? successor = null;
        CurvnetScope outer = Curvnet.Set(doomed);
        try
        {
            using (Curvnet.Set(Vnet.Vnet0))
            {
                doomed.Destroy();
                successor = Vnet.Create("acc-successor"); // may reuse doomed's region from the pool
                using (Curvnet.Set(successor))
                {
                    TestGlobals.V_ip_defttl = 77;
                }
            }

            Assert.Throws<ObjectDisposedException>(() => TestGlobals.V_ip_defttl);
            Assert.Throws<ObjectDisposedException>(() => TestGlobals.V_table);
        }
        finally
        {
            outer.Dispose();
            successor?.Destroy();
        }
    }

    [Fact]
    public void ReferenceVariablesFollowTheCachedSlots()
    {
        Vnet a = Vnet.Create("acc-ref-a");
        try
        {
            using (Curvnet.Set(a))
            {
                TestGlobals.V_hostname = "a-host";
            }

            using (Curvnet.Set(Vnet.Vnet0))
            {
                Assert.NotEqual("a-host", TestGlobals.V_hostname);
                using (Curvnet.Set(a))
                {
                    Assert.Equal("a-host", TestGlobals.V_hostname);
                }

                Assert.NotEqual("a-host", TestGlobals.V_hostname);
            }

            var e = Assert.Throws<InvalidOperationException>(() => TestGlobals.V_hostname);
            Assert.Contains("no current vnet", e.Message);
        }
        finally
        {
            a.Destroy();
        }
    }
#endif

    private static Exception? Record(Func<long> read)
    {
        try
        {
            _ = read();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static void AssertNoVnetError(Exception? e)
    {
        if (Vnet.IsVimage)
        {
            var error = Assert.IsType<InvalidOperationException>(e);
            Assert.Contains("no current vnet", error.Message);
        }
        else
        {
            Assert.Null(e); // without VIMAGE a V_x is the plain static: there is only vnet0
        }
    }

    /// <summary>
    /// CURVNET_RESTORE out of order, or twice through the same scope, is refused and changes nothing: the scope
    /// carries its depth (no per-set ticket), and a disposed scope carries none.
    /// </summary>
    [Fact]
    public void RestoresOutOfOrderOrTwiceAreRefusedAndChangeNothing()
    {
        Vnet v = Vnet.Vnet0;
        Vnet? before = Curvnet.Current;
        CurvnetScope outer = Curvnet.Set(v);
        CurvnetScope inner = Curvnet.Set(v);
        Assert.Throws<InvalidOperationException>(() => outer.Dispose());
        Assert.Same(v, Curvnet.Current);
        inner.Dispose();
        Assert.Throws<InvalidOperationException>(() => inner.Dispose());
        Assert.Same(v, Curvnet.Current);
        outer.Dispose();
        Assert.Same(before, Curvnet.Current);
        Assert.Throws<InvalidOperationException>(() => outer.Dispose());
        Assert.Same(before, Curvnet.Current);
    }
}
