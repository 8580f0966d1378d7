using Vimage.Core;
using Vimage.Core.Linker;

namespace Vimage.Bench;

/// <summary>
/// Figure 6: 10,000 live vnets whose sets total 16 KiB (the Set16K module): memory per vnet from the VmRSS delta
/// (everything resident: region pages and the managed objects; the headline figure) and the GC.GetTotalMemory delta
/// (the managed part, already inside the RSS delta), against the set size.
/// </summary>
internal static class VnetMemory
{
    private const int Count = 10_000;

    public static void Run()
    {
        if (!Vnet.IsVimage)
        {
            Results.Note("vnet-memory", "needs VIMAGE (this build has -p:Vimage=false): skipped");
            return;
        }

        KernelModule module = Modules.Load("Vimage.Bench.Set16K");
        try
        {
            long setBytes = Modules.BytesPerVnet(module);
            for (int i = 0; i < 100; i++)
            {
                Vnet.Create().Destroy(); // JIT and list growth out of the way
            }

            var vnets = new Vnet[Count];
            Settle();
            long rss0 = VmRssBytes();
            long gc0 = GC.GetTotalMemory(forceFullCollection: true);
            for (int i = 0; i < Count; i++)
            {
                vnets[i] = Vnet.Create();
            }

            long gc1 = GC.GetTotalMemory(forceFullCollection: true);
            long rss1 = VmRssBytes();
            if ((long)Modules.Call(module, "Vimage.Bench.Set16K.Set16KState", "ConstructorRan", vnets[Count - 1])! != 1)
            {
                throw new InvalidOperationException("the Set16K constructor did not run");
            }

            foreach (Vnet vnet in vnets)
            {
                vnet.Destroy();
            }

            Settle();
            long rss2 = VmRssBytes();

            double rssPer = (rss1 - rss0) / (double)Count;
            double gcPer = (gc1 - gc0) / (double)Count;
            Results.Add("vnet-memory", $"{Count} vnets, sets {setBytes} B each: VmRSS delta {Results.F(rssPer, "0")} B/vnet = set + {Results.F(rssPer - setBytes, "0")} B ({Results.F(rssPer / setBytes)}x set size)",
                rssPer <= setBytes + 1024, $"<= set + 1 KiB = {setBytes + 1024} B");
            Results.Add("vnet-memory", $"of which managed (GC.GetTotalMemory delta) {Results.F(gcPer, "0")} B/vnet: Vnet object, reference-slot array, list entry, name");
            Results.Add("vnet-memory", $"region pages + managed counted separately: {Results.F(RegionPages(setBytes) + gcPer, "0")} B/vnet ({Results.F((RegionPages(setBytes) + gcPer) / setBytes)}x set size; informative cross-check)");
            Results.Add("vnet-memory", $"after destroying all {Count}: VmRSS {Results.F((rss2 - rss0) / 1048576.0, "0.0")} MiB above the start (informative)");
        }
        finally
        {
            module.Unload();
        }
    }

    /// <summary>Pages a vnet's copy of [0, bytes) makes resident.</summary>
    private static long RegionPages(long bytes) => (bytes + Environment.SystemPageSize - 1) / Environment.SystemPageSize * Environment.SystemPageSize;

    private static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static long VmRssBytes()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new PlatformNotSupportedException("no VmRSS in /proc/self/status (Linux only)");
    }
}
