using System.Diagnostics;
using System.Globalization;
using Vimage.Bench.Net;
using Vimage.Core;

// dotnet run -c Release --project bench/Vimage.Bench.Net -- [frames] [--seconds N] [--warmup S] [--mode paced|flood|both] [--rx-budget N] [--no-baseline] [--alloc-trace]
// dotnet run -c Release --project bench/Vimage.Bench.Net -- inet [--seconds N] [--warmup S] [--count N] [--dispatch direct|hybrid|deferred|all] [--no-baseline] [--alloc-trace]
// dotnet run -c Release --project bench/Vimage.Bench.Net -- chain [--routers N] [--seconds N] [--warmup S] [--count N] [--dispatch direct|hybrid|deferred|all] [--no-baseline]
// dotnet run -c Release --project bench/Vimage.Bench.Net -- tcp [--seconds N] [--warmup S] [--count N] [--idle-connections N] [--connections N] [--idle S] [--rows bulk,rr,memory,cps,many] [--no-baseline] [--alloc-trace]
// dotnet run -c Release --project bench/Vimage.Bench.Net -- lab [--sizes 100,1000,10000] [--shapes chain,tree]
// dotnet run -c Release --project bench/Vimage.Bench.Net -- dummynet [--seconds N (10)] [--senders N] [--svg docs/dummynet.svg]
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
if (args.Length > 0 && args[0] == "inet")
{
    return InetMode.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "tcp")
{
    return TcpMode.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "chain")
{
    return InetMode.Run(args[1..], chain: true);
}

if (args.Length > 0 && args[0] == "lab")
{
    return LabMode.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "dummynet")
{
    return DummynetMode.Run(args[1..]);
}

if (args.Length > 0 && args[0] == "frames")
{
    args = args[1..];
}

string mode = "both";
int rxBudget = 0;
bool FramesOption(string[] a, ref int i)
{
    switch (a[i])
    {
        case "--mode" when i + 1 < a.Length && a[i + 1] is "paced" or "flood" or "both":
            mode = a[++i];
            return true;
        case "--rx-budget" when i + 1 < a.Length && int.TryParse(a[i + 1], CultureInfo.InvariantCulture, out int budget) && budget >= 0:
            rxBudget = budget;
            i++;
            return true;
        default:
            return false;
    }
}

if (BenchCli.Parse(args, BenchCli.Usage, FramesOption) is not { } options)
{
    return 2;
}

double seconds = options.Seconds, warmupSeconds = options.WarmupSeconds;
TimeSpan measure = TimeSpan.FromSeconds(seconds), warmup = TimeSpan.FromSeconds(warmupSeconds);
Stopwatch total = BenchCli.PrintHeader("Vimage.Bench.Net");
Console.WriteLine($"each run: {warmupSeconds:0.##} s warm-up, then {seconds:0.##} s measured; frames are Ethernet/IPv4/UDP, 16 flows (UDP source ports) per sender");

using AllocTrace? tracer = options.Trace ? new AllocTrace() : null;
using var epair = new EpairBench { RxBudget = rxBudget };
Console.WriteLine($"vimage: {epair.Placement}, rx_budget {(rxBudget == 0 ? "16 (default)" : rxBudget.ToString(CultureInfo.InvariantCulture))}");
if (!Vnet.IsVimage)
{
    Console.WriteLine("NOTE: non-VIMAGE build, so both ends share vnet0; the figures do not cross a vnet boundary.");
}

VethBaseline? veth = BenchCli.CreateBaseline<VethBaseline>(options.Baseline, VethBaseline.TryCreate, v => v.Description, out string baselineNote);

// JIT warm-up, not measured: one short flood run on each queue count so the measured rows run optimized code
// (whether the flood path allocates depends on the JIT; see README.md).
epair.Run(64, 1, reconfig: false, paced: false, warmup, TimeSpan.FromSeconds(0.5));
epair.Run(64, 2, reconfig: true, paced: false, warmup, TimeSpan.FromSeconds(0.5));

var rows = new List<(int Size, int Queues, bool Reconfig, bool Paced, RunResult Vimage, RunResult? Veth)>();
var vethCache = new Dictionary<(int, int), RunResult>();
try
{
    foreach (int size in new[] { 64, 1500 })
    {
        foreach ((int queues, bool reconfig, bool paced) in new[]
                 { (1, false, true), (2, false, true), (2, true, true), (1, false, false), (2, false, false), (2, true, false) })
        {
            if ((paced && mode == "flood") || (!paced && mode == "paced"))
            {
                continue;
            }

            string label = $"{size} B, {(reconfig ? "1<->2" : queues.ToString(CultureInfo.InvariantCulture))} queue(s), {(paced ? "paced" : "flood")}";
            if (tracer is not null)
            {
                tracer.Active = true;
            }

            RunResult v = epair.Run(size, queues, reconfig, paced, warmup, measure);
            if (tracer is not null)
            {
                tracer.Active = false;
            }

            Console.WriteLine($"  vimage {label}: {Fps(v.Fps)} fps; {v.Details}");
            RunResult? l = null;
            if (veth is not null)
            {
                int senders = reconfig ? 2 : queues;
                if (!vethCache.TryGetValue((size, senders), out l))
                {
                    l = veth.Run(size, senders, warmup, measure);
                    vethCache[(size, senders)] = l;
                    Console.WriteLine($"  veth   {size} B, {senders} sender(s): {Fps(l.Fps)} fps; {l.Details}");
                }
            }

            rows.Add((size, queues, reconfig, paced, v, l));
        }
    }
}
finally
{
    veth?.Dispose();
}

Console.WriteLine();
Console.WriteLine("| frames | queues | reconfig | sender | vimage fps | veth fps | ratio | drops (vimage) | drops (veth) | B alloc/frame |");
Console.WriteLine("| ---: | :---: | :---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: |");
foreach (var (size, queues, reconfig, paced, v, l) in rows)
{
    string q = reconfig ? "1<->2" : queues.ToString(CultureInfo.InvariantCulture);
    string r = reconfig ? "every 50 ms" : "no";
    string vethFps = l is null ? "n/a" : Fps(l.Fps) + (reconfig || queues > 1 ? " (2 senders, 2 receivers)" : "");
    string ratio = l is null || l.Fps == 0 ? "n/a" : $"{v.Fps / l.Fps:0.00}x";
    string alloc = reconfig
        ? $"{v.AllocPerFrame:0.###} ({Math.Max(0, v.AllocPerFrameExcludingReconfig):0.###} excl. reconfig)"
        : $"{v.AllocPerFrame:0.###}";
    Console.WriteLine($"| {size} B | {q} | {r} | {(paced ? "paced" : "flood")} | {Fps(v.Fps)} | {vethFps} | {ratio} | {Drops(v)} | {(l is null ? "n/a" : Drops(l))} | {alloc} |");
}

Console.WriteLine();
Console.WriteLine($"sender: paced = vimage senders keep at most {EpairBench.Window} frames in flight (offered - delivered - dropped), as a");
Console.WriteLine("sender backing off on ENOBUFS would; flood = no limit, a full mp_ring drops. veth senders use blocking send() either way.");
Console.WriteLine("receiver: both sides copy every frame out into a 2 KiB buffer, one receiving thread per queue (vimage: a BPF tap on each");
Console.WriteLine("RX worker, then ether_input/ip_input drop it; veth: recv() per socket, 2 sockets in a PACKET_FANOUT_HASH group, ip_rcv drops it).");
Console.WriteLine("ratio = vimage fps / veth fps (above 1 = Vimage faster). fps = frames delivered to the receiver per second of the");
Console.WriteLine("measured window. drops = frames offered in the window but dropped (vimage: OQDROPS+OERRORS on the sender end,");
Console.WriteLine("IQDROPS+IERRORS on the receiver end, empty mbuf pool; veth: send() ENOBUFS + receiving socket drops), with the share");
Console.WriteLine("of frames offered. B alloc/frame = GC.GetTotalAllocatedBytes(precise) delta over the window / frames delivered, all threads.");
Console.WriteLine(baselineNote);

foreach (bool paced in rows.Select(x => x.Paced).Distinct())
{
    double worst = rows.Where(x => x.Paced == paced).Max(x => x.Reconfig ? Math.Max(0, x.Vimage.AllocPerFrameExcludingReconfig) : x.Vimage.AllocPerFrame);
    string kind = paced ? "paced (no drops)" : "flood (overload, drops)";
    Console.WriteLine(worst < 0.01
        ? $"allocation, {kind}: ~0 B per frame (goal met)"
        : $"allocation, {kind}: up to {worst:0.###} B per frame excluding reconfiguration (goal: ~0); --alloc-trace shows which types");
}

BenchCli.PrintFooter(tracer, "the vimage windows", total);
return 0;

static string Fps(double fps) => fps >= 1e6 ? $"{fps / 1e6:0.00} M" : $"{fps / 1e3:0.0} k";

static string Drops(RunResult r)
{
    long offered = Math.Max(1, r.Offered);
    string count = r.Drops >= 1_000_000 ? $"{r.Drops / 1e6:0.00} M" : r.Drops >= 1000 ? $"{r.Drops / 1e3:0.0} k" : r.Drops.ToString(CultureInfo.InvariantCulture);
    return $"{count} ({100.0 * r.Drops / offered:0.#}%)";
}
