using System.Runtime.InteropServices;

namespace Vimage.Core.Tests;

/// <summary>
/// CpuId.Current (rseq on Linux x64, else a cached id refreshed every RefreshEvery reads) against the CPU the
/// thread is pinned to with sched_setaffinity, and counter sums under forced migrations with stale ids.
/// </summary>
public unsafe class CpuIdTests
{
    [Fact]
    public void CurrentIsInRangeOnEveryThread()
    {
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                int cpu = CpuId.Current;
                Assert.InRange(cpu, 0, CpuId.Count - 1);
                Assert.InRange(CpuId.Cached, 0, CpuId.Count - 1);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromSeconds(30))));
    }

    [SkippableFact]
    public void OnLinuxX64TheIdComesFromRseq()
    {
        Skip.IfNot(OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64,
            "rseq is only read on Linux x64");
        Skip.IfNot(Rseq.Available, "glibc did not register rseq (older glibc, or GLIBC_TUNABLES=glibc.pthread.rseq=0)");
        string source = "";
        var thread = new Thread(() => source = CpuId.Source);
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal("rseq", source);
    }

    [SkippableFact]
    public void BothSourcesFollowTheCpuTheThreadIsPinnedTo()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "pins with Linux sched_setaffinity");
        Skip.If(CpuId.Count < 2, "one CPU: nothing to move between");
        var failures = new List<string>();
        int pinned = 0;
        var thread = new Thread(() =>
        {
            for (int round = 0; round < 4; round++)
            {
                for (int cpu = 0; cpu < CpuId.Count; cpu++)
                {
                    if (!Pin(cpu))
                    {
                        continue; // not in this process's cpuset
                    }

                    pinned++;
                    if (CpuId.Current != cpu)
                    {
                        failures.Add($"Current {CpuId.Current} on cpu {cpu}");
                    }

                    // The cached id may be stale for up to RefreshEvery reads, never longer.
                    int cached = -1;
                    for (int i = 0; i <= CpuId.RefreshEvery; i++)
                    {
                        cached = CpuId.Cached;
                    }

                    if (cached != cpu)
                    {
                        failures.Add($"Cached {cached} on cpu {cpu} after {CpuId.RefreshEvery + 1} reads");
                    }
                }
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)));
        Skip.If(pinned < 2, "could not pin to two CPUs");
        Assert.Empty(failures);
    }

    [SkippableFact]
    public void CounterSumsStayExactWhenThreadsMigrateWithStaleIds()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "pins with Linux sched_setaffinity");
        const int Threads = 4, Rounds = 200, PerRound = 2_000;
        Counter64 counter = Counter64.Alloc();
        DpcpuVar<long> dpcpu = new(Dpcpu.Alloc(sizeof(long)));
        dpcpu.Zero();
        try
        {
            using var start = new Barrier(Threads);
            var workers = Enumerable.Range(0, Threads).Select(w => new Thread(() =>
            {
                if (w % 2 == 0)
                {
                    CpuId.UseCachedOnThisThread(); // ids go stale after each migration below
                }

                start.SignalAndWait();
                for (int r = 0; r < Rounds; r++)
                {
                    Pin((w + r) % CpuId.Count);
                    for (int i = 0; i < PerRound; i++)
                    {
                        counter.Add(1);
                        dpcpu.AtomicAdd(2);
                    }
                }
            })).ToList();
            workers.ForEach(t => t.Start());
            Assert.All(workers, t => Assert.True(t.Join(TimeSpan.FromSeconds(60))));
            Assert.Equal((long)Threads * Rounds * PerRound, counter.Fetch());
            Assert.Equal(2L * Threads * Rounds * PerRound, dpcpu.Sum());
        }
        finally
        {
            Counter64.Free(ref counter);
            Dpcpu.Free(dpcpu.Offset, sizeof(long));
        }
    }

    private static bool Pin(int cpu)
    {
        ulong* mask = stackalloc ulong[16];
        new Span<ulong>(mask, 16).Clear();
        mask[cpu / 64] = 1UL << (cpu % 64);
        return sched_setaffinity(0, (nuint)(16 * sizeof(ulong)), mask) == 0;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int sched_setaffinity(int pid, nuint size, ulong* mask);
}
