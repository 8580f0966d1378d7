using Vimage.Net.Iflib;

namespace Vimage.Net.Tests;

/// <summary>Device units (dev.DRIVER.N): the lowest free unit, in O(log n) however many devices exist.</summary>
public class DeviceUnitsTests
{
    [Fact]
    public void Units_are_the_lowest_free_ones_and_freed_units_are_reused()
    {
        string driver = "unittest" + Guid.NewGuid().ToString("N")[..8];
        int[] units = Enumerable.Range(0, 6).Select(_ => DeviceUnits.Allocate(driver)).ToArray();
        Assert.Equal([0, 1, 2, 3, 4, 5], units);
        DeviceUnits.Free(driver, 3);
        DeviceUnits.Free(driver, 1);
        DeviceUnits.Free(driver, 1); // twice: no effect
        Assert.Equal(1, DeviceUnits.Allocate(driver));
        Assert.Equal(3, DeviceUnits.Allocate(driver));
        Assert.Equal(6, DeviceUnits.Allocate(driver));
        DeviceUnits.Free(driver, 6);
        DeviceUnits.Free(driver, 4);
        DeviceUnits.Free(driver, 5); // the top shrinks past 5 and 4
        Assert.Equal(4, DeviceUnits.Allocate(driver));
        Assert.Equal(5, DeviceUnits.Allocate(driver));
        Assert.Equal(6, DeviceUnits.Allocate(driver));
    }

    [Fact]
    public void Twenty_thousand_units_cost_no_more_each_than_ten()
    {
        // Regression: Allocate probed 0, 1, 2 ... so 10,000 epairs (20,000 units) took ~2e8 set lookups.
        string driver = "unitscale" + Guid.NewGuid().ToString("N")[..8];
        for (int i = 0; i < 20_000; i++)
        {
            Assert.Equal(i, DeviceUnits.Allocate(driver));
        }

        for (int i = 0; i < 20_000; i += 2)
        {
            DeviceUnits.Free(driver, i);
        }

        for (int i = 0; i < 20_000; i += 2)
        {
            Assert.Equal(i, DeviceUnits.Allocate(driver));
        }

        Assert.Equal(20_000, DeviceUnits.Allocate(driver));
    }
}

/// <summary>The TX mp_ring follows small descriptor counts (labs) and keeps iflib's 2048 otherwise.</summary>
public class MpRingSizeTests
{
    [Theory]
    [InlineData(16, 64)]
    [InlineData(256, 512)]
    [InlineData(1024, 2048)]
    [InlineData(4096, 2048)]
    public void Ring_size_is_twice_the_tx_descriptors_up_to_iflibs_2048(int descriptors, int ring)
        => Assert.Equal(ring, IflibContext.MpRingSizeFor(new IflibQueueConfig(1, 1, descriptors, descriptors)));
}
