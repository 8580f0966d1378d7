using Vimage.Core;

namespace Vimage.Core.Tests;

/// <summary>
/// Creating and destroying a vnet must not cost more as vnets accumulate (10,000 jails used to take 7 ms each at
/// the end): the data structures it touches are checked directly, not timed.
/// </summary>
public sealed class ScalingTests
{
    [Fact]
    public void Counter_allocation_probes_a_constant_number_of_slabs_however_many_are_full()
    {
        const int slots = PcpuZone.CpuStride / sizeof(long);
        var counters = new List<nint>();
        try
        {
            for (int i = 0; i < 20 * slots; i++)
            {
                counters.Add(PcpuZone.Alloc(1)); // about 20 full slabs, as thousands of vnets leave behind
            }

            Assert.True(PcpuZone.SlabCount >= 20, $"{PcpuZone.SlabCount} slabs");
            long before = PcpuZone.Probes;
            for (int i = 0; i < 100; i++)
            {
                counters.Add(PcpuZone.Alloc(1));
            }

            long probes = PcpuZone.Probes - before;
            Assert.True(probes <= 100 + 3, $"100 allocations probed {probes} slabs (a linear search probes every full one)");

            // A slot freed in an old, full slab is found again at once.
            nint old = counters[5];
            PcpuZone.Free(old, 1);
            counters.RemoveAt(5);
            before = PcpuZone.Probes;
            nint reused = PcpuZone.Alloc(1);
            counters.Add(reused);
            Assert.Equal(old, reused);
            Assert.True(PcpuZone.Probes - before <= 2, $"reuse probed {PcpuZone.Probes - before} slabs");
        }
        finally
        {
            foreach (nint c in counters)
            {
                PcpuZone.Free(c, 1);
            }
        }
    }

#if VIMAGE
    [Fact]
    public void Destroying_a_vnet_unlists_it_by_its_own_node()
    {
        Vnet a = Vnet.Create("scale-a"), b = Vnet.Create("scale-b"), c = Vnet.Create("scale-c");
        Assert.NotNull(b.ListNode);
        Assert.Same(b, b.ListNode!.Value);
        b.Destroy();
        Assert.Null(b.ListNode);
        IReadOnlyList<Vnet> listed = Vnet.List();
        Assert.DoesNotContain(b, listed);
        Assert.True(listed.ToList().IndexOf(a) < listed.ToList().IndexOf(c), "the list stays oldest first");
        a.Destroy();
        c.Destroy();
    }
#endif
}
