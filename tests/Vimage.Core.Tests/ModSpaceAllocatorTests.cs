using CsCheck;
using Vimage.Core.Linker;

namespace Vimage.Core.Tests;

public class ModSpaceAllocatorTests
{
    [Fact]
    public void FirstFitCutsFromTheFrontAndRoundsToPointerSize()
    {
        var a = new ModSpaceAllocator("test", 1000, 256);
        Assert.Equal(1000, a.Alloc(3));
        Assert.Equal(1008, a.Alloc(8));
        Assert.Equal(1016, a.Alloc(9));
        Assert.Equal(256 - 8 - 8 - 16, a.FreeBytes);
        Assert.Equal([(1032L, 224L)], a.FreeList);
    }

    [Fact]
    public void FreeCoalescesWithBothNeighbours()
    {
        var a = new ModSpaceAllocator("test", 0, 64);
        long x = a.Alloc(16), y = a.Alloc(16), z = a.Alloc(16);
        a.Free(x, 16);
        a.Free(z, 16);
        Assert.Equal([(0L, 16L), (32L, 32L)], a.FreeList);
        a.Free(y, 16);
        Assert.Equal([(0L, 64L)], a.FreeList);
    }

    [Fact]
    public void ExactFitRemovesTheExtentAndFirstFitSkipsSmallHoles()
    {
        var a = new ModSpaceAllocator("test", 0, 64);
        long x = a.Alloc(8);
        _ = a.Alloc(24);
        a.Free(x, 8);
        Assert.Equal(32, a.Alloc(16)); // the 8-byte hole at 0 is too small
        Assert.Equal(0, a.Alloc(8));   // exact fit
        Assert.Equal([(48L, 16L)], a.FreeList);
    }

    [Fact]
    public void FreeingNextToTheOnlyExtentOfAFullReserveDoesNotNeedANeighbour()
    {
        // FreeBSD's dpcpu_free dereferences TAILQ_NEXT without a NULL check in exactly this shape.
        var a = new ModSpaceAllocator("test", 0, 32);
        long x = a.Alloc(16), y = a.Alloc(16);
        a.Free(x, 16);
        a.Free(y, 16);
        Assert.Equal([(0L, 32L)], a.FreeList);
    }

    [Fact]
    public void ExhaustionNamesTheRequestAndTheSpaceLeft()
    {
        var a = new ModSpaceAllocator("pcpu", 0, 64);
        _ = a.Alloc(40);
        var e = Assert.Throws<ModSpaceExhaustedException>(() => a.Alloc(100, "mymod"));
        Assert.Contains("pcpu module space is out of space", e.Message);
        Assert.Contains("104 bytes for mymod", e.Message);
        Assert.Contains("24 bytes free", e.Message);
        Assert.Equal(24, a.FreeBytes); // nothing changed
    }

    [Fact]
    public void DoubleFreeForeignAndMismatchedFreesAreRefused()
    {
        var a = new ModSpaceAllocator("test", 100, 64);
        long x = a.Alloc(16);
        a.Free(x, 16);
        Assert.Contains("not allocated", Assert.Throws<InvalidOperationException>(() => a.Free(x, 16)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Free(0, 16));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Free(160, 16));
        long y = a.Alloc(32);
        Assert.Throws<ArgumentException>(() => a.Free(y, 16));
        Assert.Throws<InvalidOperationException>(() => a.Free(y + 8, 8)); // inside a block, not its start
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Alloc(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => a.Alloc(-5));
        Assert.Equal(32, a.FreeBytes);
    }

    [Fact]
    public void RandomAllocAndFreeKeepsTheFreeListSortedDisjointAndCoalesced()
    {
        Gen.Int[1, 80].Array[1, 60].Sample(sizes =>
        {
            var a = new ModSpaceAllocator("prop", 64, 1024);
            var live = new List<(long Start, long Size)>();
            var random = new Random(sizes.Length);
            foreach (int size in sizes)
            {
                if (live.Count > 0 && random.Next(3) == 0)
                {
                    int i = random.Next(live.Count);
                    a.Free(live[i].Start, live[i].Size);
                    live.RemoveAt(i);
                }

                if (a.TryAlloc(size, out long start))
                {
                    live.Add((start, ModSpaceAllocator.RoundSize(size)));
                }
            }

            var blocks = live.Concat(a.FreeList).OrderBy(b => b.Item1).ToList();
            long expect = 64;
            foreach (var (start, length) in blocks)
            {
                Assert.Equal(expect, start); // every byte is either live or free, exactly once
                expect = start + length;
            }

            Assert.Equal(64 + 1024, expect);
            var free = a.FreeList;
            for (int i = 1; i < free.Count; i++)
            {
                Assert.True(free[i - 1].Start + free[i - 1].Length < free[i].Start, "free extents must be coalesced");
            }

            foreach (var (start, size) in live)
            {
                a.Free(start, size);
            }

            Assert.Equal([(64L, 1024L)], a.FreeList);
        }, iter: 300);
    }
}
