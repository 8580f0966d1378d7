using System.Diagnostics;
using Vimage.Core;

namespace Vimage.Cli;

/// <summary>The README's main job: per-CPU counters, then several isolated stacks in one process.</summary>
internal static class Demo
{
    public static int Run(TextWriter output, int threads, int addsPerThread)
    {
        if (threads < 1 || addsPerThread < 1)
        {
            Console.Error.WriteLine("vimage demo: --threads and --adds must be positive");
            return 64; // EX_USAGE
        }

        output.WriteLine("Vimage demo: FreeBSD's DPCPU, counter(9) and VIMAGE in one .NET process");
        output.WriteLine();
        ShowDpcpu(output);
        ShowCounter(output, threads, addsPerThread);
        ShowVnets(output);
        return 0;
    }

    private static void ShowDpcpu(TextWriter output)
    {
        Dpcpu.Boot();
        output.WriteLine($"[1/3] DPCPU: {CpuId.Count} CPU regions of {Dpcpu.RegionSize:N0} bytes " +
                         $"(static set {Dpcpu.StaticSize:N0} bytes, module reserve {Dpcpu.ModMin:N0} bytes, {Dpcpu.Reserve.FreeBytes:N0} free)");
        output.WriteLine();
    }

    private static void ShowCounter(TextWriter output, int threads, int addsPerThread)
    {
        output.WriteLine($"[2/3] counter(9): {threads} threads x {addsPerThread:N0} adds on one Counter64 ...");
        Counter64 counter = Counter64.Alloc();
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < addsPerThread; i++)
            {
                counter.Add(1);
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        clock.Stop();
        for (int cpu = 0; cpu < CpuId.Count; cpu++)
        {
            output.WriteLine($"      cpu{cpu} slot: {counter.FetchCpu(cpu),14:N0}");
        }

        long expected = (long)threads * addsPerThread;
        long sum = counter.Fetch();
        output.WriteLine($"      sum:       {sum,14:N0}  ({(sum == expected ? "exact" : $"WRONG, expected {expected:N0}")}, " +
                         $"{expected / clock.Elapsed.TotalSeconds / 1e6:N1} M adds/s)");
        Counter64.Free(ref counter);
        output.WriteLine();
    }

    private static void ShowVnets(TextWriter output)
    {
        VnetSystem.Boot();
        output.WriteLine($"[3/3] VNET: {(Vnet.IsVimage ? "VIMAGE build" : "built without VIMAGE: plain globals, vnet0 only")}; " +
                         $"region {VnetSystem.RegionSize:N0} bytes (static sets {VnetSystem.StaticSize:N0}, reserve {VnetSystem.ModMin:N0})");
        var created = new List<Vnet>();
        if (Vnet.IsVimage)
        {
            foreach (string name in new[] { "client", "router", "server" })
            {
                created.Add(Vnet.Create(name));
                output.WriteLine($"      jail -c name={name} vnet  -> vnet{created[^1].Id}");
            }

            Configure(created[0], ttl: 32, forwarding: false, packets: 3, extraIf: "epair0a");
            Configure(created[1], ttl: 64, forwarding: true, packets: 10, extraIf: "epair0b");
            Configure(created[2], ttl: 128, forwarding: false, packets: 7, extraIf: "epair1b");
        }

        output.WriteLine();
        output.WriteLine($"      {"vnet",-8} {"net.inet.ip.ttl",16} {"forwarding",11} {"ips_total",10}  interfaces");
        foreach (Vnet vnet in Vnet.List())
        {
            // Read through the symbol table, as a monitoring tool would.
            int ttl = (int)VnetSymbols.Read(vnet, "ip_defttl")!;
            int forwarding = (int)VnetSymbols.Read(vnet, "ipforwarding")!;
            output.WriteLine($"      {vnet.Name,-8} {ttl,16} {forwarding,11} {DemoStack.PacketsOf(vnet),10}  {string.Join(' ', DemoStack.InterfacesOf(vnet))}");
        }

        foreach (Vnet vnet in created)
        {
            vnet.Destroy();
        }

        output.WriteLine();
        output.WriteLine($"      sysinit trace: {string.Join(' ', DemoStack.Trace)}");
        output.WriteLine($"      {Vnet.List().Count} vnet(s) left after jail -r of the others");
    }

    private static void Configure(Vnet vnet, int ttl, bool forwarding, int packets, string extraIf)
    {
        using (Curvnet.Set(vnet))
        {
            DemoStack.DefaultTtl = ttl;
            DemoStack.Forwarding = forwarding;
            DemoStack.Attach(extraIf);
            for (int i = 0; i < packets; i++)
            {
                DemoStack.CountPacket();
            }
        }
    }
}
