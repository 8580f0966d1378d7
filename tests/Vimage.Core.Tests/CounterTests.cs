using CsCheck;

namespace Vimage.Core.Tests;

public class CounterTests
{
    [Fact]
    public void AddFetchZeroAndFree()
    {
        Counter64 c = Counter64.Alloc();
        Assert.Equal(0, c.Fetch()); // M_ZERO
        c.Add(5);
        c.Add(-2);
        Assert.Equal(3, c.Fetch());
        c.Zero();
        Assert.Equal(0, c.Fetch());
        Counter64 copy = c;
        Counter64.Free(ref c);
        Assert.False(c.IsAllocated);
        Assert.Throws<InvalidOperationException>(() => c.Add(1));
        Assert.Throws<InvalidOperationException>(() => Counter64.Free(ref copy)); // double free through a copy
    }

    [Fact]
    public void SlotsOfOneCounterAreOnSeparateCacheLines()
    {
        Counter64 c = Counter64.Alloc();
        try
        {
            c.Add(1);
            long total = 0;
            for (int cpu = 0; cpu < CpuId.Count; cpu++)
            {
                total += c.FetchCpu(cpu);
            }

            Assert.Equal(1, total);
            Assert.True(PcpuZone.CpuStride >= 64);
        }
        finally
        {
            Counter64.Free(ref c);
        }
    }

    [Fact]
    public void NoUpdateIsLostUnderManyThreadsAndRandomAdds()
    {
        Gen.Int[1, 12].SelectMany(threads => Gen.Int[-1000, 1000].Array[threads * 200].Select(adds => (threads, adds)))
            .Sample(t =>
            {
                Counter64 c = Counter64.Alloc();
                try
                {
                    int per = t.adds.Length / t.threads;
                    var workers = Enumerable.Range(0, t.threads).Select(w => new Thread(() =>
                    {
                        for (int i = w * per; i < (w + 1) * per; i++)
                        {
                            c.Add(t.adds[i]);
                        }
                    })).ToList();
                    workers.ForEach(x => x.Start());
                    workers.ForEach(x => x.Join());
                    Assert.Equal(t.adds.Take(per * t.threads).Sum(x => (long)x), c.Fetch());
                }
                finally
                {
                    Counter64.Free(ref c);
                }
            }, iter: 40);
    }

    [Fact]
    public void HammeringOneCounterFromEveryCoreIsExact()
    {
        Counter64 c = Counter64.Alloc();
        Parallel.For(0, Environment.ProcessorCount * 2, _ =>
        {
            for (int i = 0; i < 100_000; i++)
            {
                c.Add(1);
            }
        });
        Assert.Equal(Environment.ProcessorCount * 2 * 100_000L, c.Fetch());
        Counter64.Free(ref c);
    }

    [Fact]
    public void CounterArraysAllocCopyZeroAndFree()
    {
        CounterArray a = CounterArray.Alloc(29); // struct ipstat
        a.Add(0, 10);
        a.Add(28, 3);
        Span<long> values = stackalloc long[29];
        a.CopyTo(values);
        Assert.Equal(10, values[0]);
        Assert.Equal(3, values[28]);
        Assert.Equal(0, values[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Add(29, 1));
        Assert.Throws<ArgumentException>(() => a.CopyTo(new long[3]));
        a.Zero();
        a.CopyTo(values);
        Assert.All(values.ToArray(), v => Assert.Equal(0, v));
        CounterArray copy = a;
        CounterArray.Free(ref a);
        Assert.Throws<InvalidOperationException>(() => CounterArray.Free(ref a));
        Assert.Throws<InvalidOperationException>(() => CounterArray.Free(ref copy));
        Assert.Throws<ArgumentOutOfRangeException>(() => CounterArray.Alloc(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => CounterArray.Alloc(CounterArray.MaxLength + 1));
    }

    [Fact]
    public void FreedSlotsAreReusedAndComeBackZeroed()
    {
        var counters = Enumerable.Range(0, 2000).Select(_ => Counter64.Alloc()).ToArray();
        foreach (Counter64 c in counters)
        {
            c.Add(7);
        }

        for (int i = 0; i < counters.Length; i++)
        {
            Counter64.Free(ref counters[i]);
        }

        var again = Enumerable.Range(0, 2000).Select(_ => Counter64.Alloc()).ToArray();
        Assert.All(again, c => Assert.Equal(0, c.Fetch()));
        for (int i = 0; i < again.Length; i++)
        {
            Counter64.Free(ref again[i]);
        }
    }

    [Fact]
    public void RateCheckAllowsTheLimitThenReportsTheOverflowNextSecond()
    {
        long now = 10_000;
        using var rate = new CounterRate(() => now);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(0, rate.Check(3));
        }

        Assert.Equal(-1, rate.Check(3));
        Assert.Equal(-1, rate.Check(3));
        now += 1000;
        Assert.Equal(5, rate.Check(3)); // five events in the second that was over the limit
        Assert.Equal(0, rate.Check(3));
        now += 1000;
        Assert.Equal(0, rate.Check(3)); // last second stayed under the limit: nothing to report
    }
}
