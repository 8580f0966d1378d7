using Vimage.Core;

namespace Vimage.Net.Iflib;

/// <summary>newbus-style device units (global, unlike interface clone units) and iflib's per-device CPU offsets.</summary>
internal static class DeviceUnits
{
    private static readonly Dictionary<string, Units> Used = new(StringComparer.Ordinal);
    private static int s_nextCore;

    /// <summary>
    /// One driver's units: every unit below <see cref="Next"/> is in use except those in <see cref="Free"/>. The
    /// lowest free unit (devclass_alloc_unit's choice) is then the smallest of <see cref="Free"/>, or <see cref="Next"/>:
    /// O(log n) per call, where probing 0, 1, 2 ... cost O(n) and made 10,000 epairs quadratic.
    /// </summary>
    private sealed class Units
    {
        public SortedSet<int> Free { get; } = [];

        public int Next { get; set; }
    }

    public static int Allocate(string driver)
    {
        lock (Used)
        {
            Units units = Used.TryGetValue(driver, out Units? u) ? u : Used[driver] = new Units();
            if (units.Free.Count > 0)
            {
                int unit = units.Free.Min;
                units.Free.Remove(unit);
                return unit;
            }

            return units.Next++;
        }
    }

    public static void Free(string driver, int unit)
    {
        lock (Used)
        {
            if (Used.TryGetValue(driver, out Units? units) && unit >= 0 && unit < units.Next)
            {
                if (unit == units.Next - 1)
                {
                    units.Next--;
                    while (units.Next > 0 && units.Free.Remove(units.Next - 1))
                    {
                        units.Next--;
                    }
                }
                else
                {
                    units.Free.Add(unit);
                }
            }
        }
    }

    /// <summary>get_ctx_core_offset: each new device starts on the next unused core, wrapping around.</summary>
    public static int NextCoreOffset(int queues)
    {
        int start = Interlocked.Add(ref s_nextCore, Math.Max(1, queues)) - Math.Max(1, queues);
        return start % CpuId.Count;
    }
}
