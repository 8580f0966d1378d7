using Vimage.Net.Iflib;

namespace Vimage.Net.Tests;

/// <summary>RX descriptor slots are made as packets arrive, never beyond the ring, and growing keeps the order.</summary>
public class RxRingTests
{
    [Fact]
    public void SlotsAreMadeOnDemandUpToTheRingAndPacketsKeepTheirOrder()
    {
        var pool = new MbufPool(Mbuf.Headroom + 64, limit: 200);
        var ring = new RxRing(64);
        Assert.Equal(0, ring.Allocated); // an idle interface's ring holds no slots
        Assert.Null(ring.Take());
        Assert.Equal(0, ring.Allocated);

        // Wrap the initial slots before they grow, so growth copies a wrapped window.
        var expected = new Queue<Mbuf>();
        for (int i = 0; i < RxRing.InitialSlots; i++)
        {
            Mbuf m = pool.Get()!;
            Assert.True(ring.Post(m, out int before));
            Assert.Equal(i, before);
            expected.Enqueue(m);
        }

        Assert.Equal(RxRing.InitialSlots, ring.Allocated);
        for (int i = 0; i < 5; i++)
        {
            Mbuf taken = ring.Take()!;
            Assert.Same(expected.Dequeue(), taken);
            taken.Free();
            Mbuf m = pool.Get()!;
            Assert.True(ring.Post(m));
            expected.Enqueue(m);
        }

        Assert.Equal(RxRing.InitialSlots, ring.Allocated); // taking made room: no growth
        while (ring.Space > 0)
        {
            Mbuf m = pool.Get()!;
            Assert.True(ring.Post(m));
            expected.Enqueue(m);
        }

        Assert.Equal(63, ring.InUse); // one descriptor always stays empty
        Assert.Equal(64, ring.Allocated); // grown to the ring, not beyond
        Mbuf refused = pool.Get()!;
        Assert.False(ring.Post(refused));
        Assert.Equal(64, ring.Allocated);
        refused.Free();

        while (ring.Take() is { } m)
        {
            Assert.Same(expected.Dequeue(), m); // FIFO across every growth
            m.Free();
        }

        Assert.Empty(expected);
        Assert.Equal(0, pool.Outstanding);
        Assert.Equal(64, ring.Allocated); // a ring that was busy keeps its slots (no churn on the data path)
    }
}
