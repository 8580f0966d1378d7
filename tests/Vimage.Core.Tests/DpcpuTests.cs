using Vimage.Core.Linker;

namespace Vimage.Core.Tests;

public unsafe class DpcpuTests
{
    [Fact]
    public void EveryCpuStartsWithTheReferenceCopy()
    {
        Dpcpu.Boot();
        // Other tests change pcpu_value's copies, never its reference copy; nothing writes pcpu_boot.
        Assert.Equal(5, *(long*)Dpcpu.ReferencePtr(TestGlobals.DPCPU_VAR_pcpu_value.Offset));
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            Assert.Equal(0x0123_4567_89AB_CDEF, TestGlobals.DPCPU_ID_pcpu_boot(cpu));
            Assert.Equal(0x0123_4567_89AB_CDEF, *(long*)(Dpcpu.Base(cpu) + TestGlobals.DPCPU_VAR_pcpu_boot.Offset));
        }

        Assert.True(Dpcpu.RegionSize >= Dpcpu.StaticSize + Dpcpu.ModMin);
        Assert.Equal(0, Dpcpu.RegionSize % Environment.SystemPageSize);
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            Assert.Equal(0, Dpcpu.Base(cpu) % 64); // cache-line aligned regions
        }
    }

    [Fact]
    public void IdAccessorsReachEachCpusOwnCopyAndSumAddsThem()
    {
        DpcpuVar<long> v = TestGlobals.DPCPU_VAR_pcpu_value;
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            TestGlobals.DPCPU_ID_pcpu_value(cpu) = cpu + 1;
        }

        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            Assert.Equal(cpu + 1, v.IdPtr(cpu));
        }

        Assert.Equal(CpuId.Count * (CpuId.Count + 1) / 2, v.Sum());
        v.Zero();
        Assert.Equal(0, v.Sum());
        TestGlobals.DPCPU_pcpu_value = 9; // DPCPU_SET on whichever CPU we are on
        Assert.Equal(9, v.Sum());
        v.Zero();
    }

    [Fact]
    public void VarSumSumsOneMemberOfAStruct()
    {
        DpcpuVar<PcpuStats> stats = TestGlobals.DPCPU_VAR_pcpu_stats;
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            stats.IdPtr(cpu) = new PcpuStats { Packets = 2, Bytes = 100 };
        }

        Assert.Equal(2L * CpuId.Count, stats.VarSum(s => s.Packets));
        Assert.Equal(100L * CpuId.Count, stats.VarSum(s => s.Bytes));
        stats.Zero();
        Assert.Equal(0, stats.VarSum(s => s.Bytes));
    }

    [Fact]
    public void AtomicAddsFromManyThreadsAreExact()
    {
        DpcpuVar<long> v = TestGlobals.DPCPU_VAR_pcpu_value;
        v.Zero();
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 50_000; i++)
            {
                v.AtomicAdd(1);
            }
        });
        Assert.Equal(400_000, v.Sum());
        v.Zero();
    }

    [Fact]
    public void AllocCopyAndFreeUseTheModuleReserve()
    {
        long before = Dpcpu.Reserve.FreeBytes;
        nint offset = Dpcpu.Alloc(24);
        Assert.Equal(before - 24, Dpcpu.Reserve.FreeBytes);
        *(long*)Dpcpu.ReferencePtr(offset) = 0x1234;
        Dpcpu.Copy(offset, 24);
        var handle = new DpcpuVar<long>(offset);
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            Assert.Equal(0x1234, handle.IdPtr(cpu));
        }

        Dpcpu.Free(offset, 24);
        Assert.Equal(before, Dpcpu.Reserve.FreeBytes);
        Assert.Throws<InvalidOperationException>(() => Dpcpu.Free(offset, 24)); // double free
    }

    [Fact]
    public void ExhaustionAndBadArgumentsGiveClearErrors()
    {
        var e = Assert.Throws<ModSpaceExhaustedException>(() => Dpcpu.Alloc(Dpcpu.ModMin + 8, "bigmod"));
        Assert.Contains("pcpu module space is out of space", e.Message);
        Assert.Contains("bigmod", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Dpcpu.Alloc(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dpcpu.Alloc(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dpcpu.Free(0, 8)); // the static set is not the reserve
        Assert.Throws<ArgumentOutOfRangeException>(() => TestGlobals.DPCPU_ID_pcpu_value(CpuId.Count));
        Assert.Throws<ArgumentOutOfRangeException>(() => TestGlobals.DPCPU_ID_pcpu_value(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Dpcpu.Copy((nint)Dpcpu.RegionSize, 8));
        Assert.Throws<InvalidOperationException>(() => Dpcpu.Configure(4096)); // already booted
    }

    [Fact]
    public void CurrentCpuIsAlwaysInRange()
    {
        Parallel.For(0, 64, _ =>
        {
            int cpu = CpuId.Current;
            Assert.InRange(cpu, 0, CpuId.Count - 1);
        });
    }
}
