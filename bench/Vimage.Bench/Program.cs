using Vimage.Bench;
using Vimage.Core;

// dotnet run -c Release --project bench/Vimage.Bench -- [all|counter|dpcpu|vnet-access|vnet-lifecycle|vnet-memory]
string[] known = ["all", "counter", "dpcpu", "vnet-access", "vnet-lifecycle", "vnet-memory"];
string[] selected = args.Length == 0 ? ["all"] : args;
if (selected.Any(a => !known.Contains(a)))
{
    Console.Error.WriteLine($"usage: Vimage.Bench [{string.Join('|', known)}]...");
    return 2;
}

// VNET_MODMIN must be set before anything boots: the reserve holds Set64K (64 KiB), then Set16K.
VnetSystem.Configure(modMin: 128 * 1024);

Console.WriteLine($"Vimage.Bench: VIMAGE={(Vnet.IsVimage ? "on" : "off")}, load average at the start: {Results.LoadAverage()}");
double idle = Results.IdlePercent();
if (idle < 80)
{
    Results.Note("WARNING", $"the machine was busy at the start ({Results.F(idle, "0")}% idle over 1 s before any benchmark): figures are skewed");
}

bool Wants(string name) => selected.Contains("all") || selected.Contains(name);

if (Wants("counter"))
{
    CounterBenchmarks.Run();
    CounterScaling.Run();
}

if (Wants("dpcpu"))
{
    DpcpuBenchmarks.Run();
}

if (Wants("vnet-access"))
{
    VnetAccessBenchmarks.Run();
}

if (Wants("vnet-lifecycle"))
{
    VnetLifecycle.Run();
}

if (Wants("vnet-memory"))
{
    VnetMemory.Run();
}

Results.PrintAll();
return 0;
