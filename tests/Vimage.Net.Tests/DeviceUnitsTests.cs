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

/// <summary>The TX mp_ring is iflib's 2048 unless a configuration asks for another size; bad sizes are refused.</summary>
public class MpRingSizeTests
{
    [Fact]
    public void Tx_ring_size_comes_from_the_configuration()
    {
        Assert.Equal(IflibContext.MpRingSize, new IflibQueueConfig(1, 1, 256, 256).TxRingSize);
        var small = new IflibQueueConfig(1, 1, 256, 256, TxRingSize: 512);
        small.Validate(16);
        Assert.Equal(512, (small with { TxDescriptors = 1024 }).TxRingSize);
        Assert.Throws<IfException>(() => new IflibQueueConfig(1, 1, 256, 256, TxRingSize: 500).Validate(16));
    }
}
