using System.Diagnostics;
using System.Globalization;
using Vimage.Cli.Commands;
using Vimage.Cli.Lab;
using Vimage.Core;

namespace Vimage.Bench.Net;

/// <summary>
/// <c>lab</c> mode: deploys and destroys generated labs (chain and tree of 100, 1,000 and 10,000 vnet nodes, links
/// addressed, static routes, forwarding on) through the same parser and deployer <c>vimage lab deploy</c> uses, and
/// prints nodes/s and memory per node (VmRSS delta after a full GC). Baselines, same run: the same number of bare
/// <c>Vnet.Create</c> calls (a lab cannot be cheaper than its stacks), and, as root, 100 Linux network namespaces
/// with <c>ip netns add</c>. Goals (issue 18): 10,000 nodes with links and addresses in under 10 s, under 50 KiB per node.
/// </summary>
internal static class LabMode
{
    public static int Run(string[] args)
    {
        int[] sizes = [100, 1_000, 10_000];
        string[] shapes = ["chain", "tree"];
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--sizes" && i + 1 < args.Length)
            {
                sizes = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            }
            else if (args[i] == "--shapes" && i + 1 < args.Length)
            {
                shapes = args[++i].Split(',');
            }
            else if (args[i] == "--one" && i + 2 < args.Length)
            {
                return One(args[i + 1], int.Parse(args[i + 2], CultureInfo.InvariantCulture));
            }
            else
            {
                Console.Error.WriteLine("usage: Vimage.Bench.Net lab [--sizes 100,1000,10000] [--shapes chain,tree]");
                return 2;
            }
        }

        if (!Vnet.IsVimage)
        {
            Console.WriteLine("lab: needs VIMAGE (-p:Vimage=true): skipped");
            return 0;
        }

        Console.WriteLine($"Vimage.Bench.Net lab   load average {MachineInfo.LoadAverage()}   {Environment.ProcessorCount} CPUs");
        Console.WriteLine("each figure from a fresh process (so freed memory of an earlier lab is not reused): deploy = parse + deploy");
        var rows = new List<string>();
        bool goalTime = true, goalMemory = true;
        foreach (int n in sizes)
        {
            string[] bare = Child("bare", n);
            double bareSeconds = double.Parse(bare[0], CultureInfo.InvariantCulture), bareBytes = double.Parse(bare[2], CultureInfo.InvariantCulture);
            foreach (string shape in shapes)
            {
                string[] r = Child(shape, n);
                double deploy = double.Parse(r[0], CultureInfo.InvariantCulture), destroy = double.Parse(r[1], CultureInfo.InvariantCulture);
                double perNode = double.Parse(r[2], CultureInfo.InvariantCulture) / n;
                string row = string.Create(CultureInfo.InvariantCulture,
                    $"| {shape} | {n:N0} | {deploy:0.000} s | {n / deploy:N0} | {destroy:0.000} s | {n / destroy:N0} | {perNode / 1024:0.0} KiB | {n / bareSeconds:N0} ({deploy / bareSeconds:0.0}x) | {bareBytes / n / 1024:0.0} KiB |");
                rows.Add(row);
                Console.WriteLine(row + "   " + r[3]);
                if (n == 10_000)
                {
                    goalTime &= deploy < 10;
                    goalMemory &= perNode < 50 * 1024;
                }
            }
        }

        string netns = NetnsBaseline(100);
        Console.WriteLine();
        Console.WriteLine("| shape | nodes | deploy | nodes/s | destroy | nodes/s | RSS / node | bare Vnet.Create nodes/s (lab time / bare) | bare vnet RSS / node |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        rows.ForEach(Console.WriteLine);
        Console.WriteLine(netns);
        if (sizes.Contains(10_000))
        {
            Console.WriteLine($"goal: 10,000 nodes deployed in < 10 s: {(goalTime ? "met" : "MISSED")}; < 50 KiB per node: {(goalMemory ? "met" : "MISSED")}");
        }

        Console.WriteLine($"load average at the end {MachineInfo.LoadAverage()}");
        return 0;
    }

    /// <summary>Runs one case in a child process; its last line is "deploy destroy bytes steps".</summary>
    private static string[] Child(string what, int n)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(LabMode).Assembly.Location);
        }

        foreach (string a in new[] { "lab", "--one", what, n.ToString(CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        return last.Split('\t');
    }

    /// <summary>One case in this (fresh) process: prints "deploy\tdestroy\tbytes\tsteps".</summary>
    private static int One(string what, int n)
    {
        var jails = new JailRegistry();
        var context = new CommandContext(Vnet.Vnet0, TextWriter.Null, Console.Error, jails);
        if (Environment.GetEnvironmentVariable("VIMAGE_LAB_DESCRIPTORS") is { } d)
        {
            int descriptors = int.Parse(d, CultureInfo.InvariantCulture);
            LabDeployer.LinkQueues = new(1, 1, descriptors, descriptors, TxRingSize: 2 * descriptors);
        }

        if (what == "bare")
        {
            _ = Vnet.Create("warm");
            (double seconds, double bytes) = BareVnets(n);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{seconds}\t0\t{bytes}\t-"));
            return 0;
        }

        // warm-up: JIT the path on a 3-node chain whose few freed pages cannot skew the measured lab much
        Deploy(context, "chain", 3, out _, out _, out _, out _);
        Deploy(context, what, n, out double deploy, out double destroy, out double used, out string steps);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{deploy}\t{destroy}\t{used}\t{steps}"));
        return 0;
    }

    private static string Yaml(string shape, int n) => shape == "tree"
        ? $"name: bench\ngenerators:\n  - {{shape: tree, count: {n}, fanout: 4, prefix: b, subnet: 10.0.0.0/8, routing: static}}\n"
        : $"name: bench\ngenerators:\n  - {{shape: chain, count: {n}, prefix: b, subnet: 10.0.0.0/8, routing: static}}\n";

    private static void Deploy(CommandContext context, string shape, int n, out double deploy, out double destroy, out double bytes, out string steps)
    {
        long rss0 = Rss();
        long managed0 = GC.GetTotalMemory(true);
        TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        LabPlan plan = LabParser.Parse("bench.yml", Yaml(shape, n));
        List<(string Step, long Rss, long Managed)>? marks = Environment.GetEnvironmentVariable("VIMAGE_LAB_BREAKDOWN") is null ? null : [];
        if (marks is not null)
        {
            LabDeployer.StepHook = step => marks.Add((step, Rss(), GC.GetTotalMemory(true)));
        }

        LabRuntime lab = LabDeployer.Deploy(context, plan);
        deploy = clock.Elapsed.TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds; // all threads: less load-dependent than the wall time
        LabDeployer.StepHook = null;
        PrintBreakdown(marks, n);
        plan = null!;
        long rss1 = Rss();
        bytes = rss1 - rss0;
        long managed = GC.GetTotalMemory(true) - managed0;
        if (Environment.GetEnvironmentVariable("VIMAGE_LAB_PAUSE") is not null)
        {
            Console.Error.WriteLine($"deployed; pid {Environment.ProcessId}");
            Thread.Sleep(40_000);
        }

        steps = string.Create(CultureInfo.InvariantCulture, $"deploy CPU {cpu:0.00} s; managed {managed / n / 1024.0:0.0} KiB/node; ") + string.Join(", ", lab.StepTimes.Where(s => s.Value.TotalSeconds >= 0.0005).Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Key} {s.Value.TotalSeconds:0.000} s")));
        clock.Restart();
        LabRegistry labs = LabRegistry.For(context.Jails);
        labs.DestroyAll();
        destroy = clock.Elapsed.TotalSeconds;
        GC.KeepAlive(lab);
    }

    /// <summary>VIMAGE_LAB_BREAKDOWN: RSS and managed heap per node grown by each deploy step (full GCs between steps skew the times).</summary>
    private static void PrintBreakdown(List<(string Step, long Rss, long Managed)>? marks, int n)
    {
        for (int i = 0; marks is not null && i + 1 < marks.Count; i++)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{marks[i].Step,-12} RSS {(marks[i + 1].Rss - marks[i].Rss) / (double)n / 1024,7:0.0} KiB/node, managed {(marks[i + 1].Managed - marks[i].Managed) / (double)n / 1024,7:0.0} KiB/node"));
        }
    }

    private static (double Seconds, double Bytes) BareVnets(int n)
    {
        long rss0 = Rss();
        var vnets = new Vnet[n];
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < n; i++)
        {
            vnets[i] = Vnet.Create("bare" + i.ToString(CultureInfo.InvariantCulture));
        }

        double seconds = clock.Elapsed.TotalSeconds;
        long rss1 = Rss();
        foreach (Vnet v in vnets)
        {
            v.Destroy();
        }

        return (seconds, rss1 - rss0);
    }

    /// <summary>Creating and deleting Linux network namespaces with ip(8), as root; the rate per node.</summary>
    private static string NetnsBaseline(int n)
    {
        if (Native.GetEuid() != 0)
        {
            return "Linux netns baseline: skipped (needs root)";
        }

        string prefix = $"vbench-lab-{Environment.ProcessId}-";
        var clock = Stopwatch.StartNew();
        int made = 0;
        try
        {
            for (; made < n; made++)
            {
                if (NetnsPair.TryRun("ip", $"netns add {prefix}{made}").Code != 0)
                {
                    break;
                }
            }

            double add = clock.Elapsed.TotalSeconds;
            clock.Restart();
            return string.Create(CultureInfo.InvariantCulture, $"Linux baseline: {made} x `ip netns add` in {add:0.000} s = {made / add:N0} namespaces/s (no links or addresses)");
        }
        finally
        {
            for (int i = 0; i < made; i++)
            {
                NetnsPair.TryRun("ip", $"netns del {prefix}{i}");
            }
        }
    }

    private static long Rss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }
}
