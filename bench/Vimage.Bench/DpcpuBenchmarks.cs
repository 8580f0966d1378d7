using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace Vimage.Bench;

/// <summary>
/// Figure 3: reading DPCPU_x (the current CPU's copy) against reading a plain static field. The plain read goes
/// through Volatile.Read (a plain mov on x64) so the JIT cannot hoist it out of the loop; the DPCPU read cannot be
/// hoisted anyway, since it asks for the current CPU on every access.
/// </summary>
public class DpcpuBenchmarks
{
    private const int N = 1024;
    private static long s_plain = 1;

    [GlobalSetup]
    public void Setup() => _ = BenchGlobals.DPCPU_pcpu_x; // boots DPCPU outside the measurement

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public long PlainStaticRead()
    {
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += Volatile.Read(ref s_plain);
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = N)]
    public long DpcpuRead()
    {
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += BenchGlobals.DPCPU_pcpu_x;
        }

        return sum;
    }

    /// <summary>Informative: the CPU-id lookup alone (rseq on Linux x64), the floor under any DPCPU access.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public long CurrentCpuId()
    {
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += Vimage.Core.CpuId.Current;
        }

        return sum;
    }

    /// <summary>Informative: the fallback without rseq (cached id, refreshed every CpuId.RefreshEvery reads).</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public long CachedCpuId()
    {
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += Vimage.Core.CpuId.Cached;
        }

        return sum;
    }

    /// <summary>Informative: Thread.GetCurrentProcessorId, what CpuId.Current called before rseq.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public long RuntimeProcessorId()
    {
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += Thread.GetCurrentProcessorId();
        }

        return sum;
    }

    public static void Run()
    {
        var summary = BenchmarkRunner.Run<DpcpuBenchmarks>(BenchConfig.Create());
        double baseline = Results.MedianNs(summary, nameof(PlainStaticRead));
        double dpcpu = Results.MedianNs(summary, nameof(DpcpuRead));
        double ratio = dpcpu / baseline;
        Results.Add("dpcpu", $"DPCPU_x read {Results.F(dpcpu, "0.000")} ns/op vs plain static read {Results.F(baseline, "0.000")} ns/op: ratio {Results.F(ratio)}x",
            ratio <= 2.0, "<= 2x");
        double cpuId = Results.MedianNs(summary, nameof(CurrentCpuId));
        double cached = Results.MedianNs(summary, nameof(CachedCpuId));
        double runtime = Results.MedianNs(summary, nameof(RuntimeProcessorId));
        Results.Add("dpcpu", $"CpuId.Current alone (source: {Vimage.Core.CpuId.Source}) {Results.F(cpuId, "0.000")} ns/op: {Results.F(cpuId / baseline)}x plain static (informative)");
        Results.Add("dpcpu", $"fallback cached id {Results.F(cached, "0.000")} ns/op, Thread.GetCurrentProcessorId {Results.F(runtime, "0.000")} ns/op: {Results.F(cached / baseline)}x / {Results.F(runtime / baseline)}x plain static (informative)");
    }
}
