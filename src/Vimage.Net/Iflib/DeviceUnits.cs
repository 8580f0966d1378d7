using Vimage.Core;

namespace Vimage.Net.Iflib;

/// <summary>newbus-style device units (global, unlike interface clone units) and iflib's per-device CPU offsets.</summary>
internal static class DeviceUnits
{
    private static readonly Dictionary<string, SortedSet<int>> Used = new(StringComparer.Ordinal);
    private static int s_nextCore;

    public static int Allocate(string driver)
    {
        lock (Used)
        {
            SortedSet<int> used = Used.TryGetValue(driver, out SortedSet<int>? set) ? set : Used[driver] = [];
            int unit = 0;
            while (used.Contains(unit))
            {
                unit++;
            }

            used.Add(unit);
            return unit;
        }
    }

    public static void Free(string driver, int unit)
    {
        lock (Used)
        {
            if (Used.TryGetValue(driver, out SortedSet<int>? used))
            {
                used.Remove(unit);
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
