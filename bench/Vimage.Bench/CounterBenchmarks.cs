using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Vimage.Core;

namespace Vimage.Bench;

/// <summary>Figure 1: counter_u64_add on one thread against an atomic add on a private, uncontended long.</summary>
public class CounterBenchmarks
{
    private const int N = 1024;
    private Counter64 _counter;
    private long _private;

    [GlobalSetup]
    public void Setup() => _counter = Counter64.Alloc();

    [GlobalCleanup]
    public void Cleanup() => Counter64.Free(ref _counter);

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public long InterlockedPrivate()
    {
        for (int i = 0; i < N; i++)
        {
            Interlocked.Add(ref _private, 1);
        }

        return _private;
    }

    [Benchmark(OperationsPerInvoke = N)]
    public void Counter64Add()
    {
        Counter64 counter = _counter;
        for (int i = 0; i < N; i++)
        {
            counter.Add(1);
        }
    }

    public static void Run()
    {
        var summary = BenchmarkRunner.Run<CounterBenchmarks>(BenchConfig.Create());
        double baseline = Results.MedianNs(summary, nameof(InterlockedPrivate));
        double counter = Results.MedianNs(summary, nameof(Counter64Add));
        double ratio = counter / baseline;
        Results.Add("counter 1T", $"Counter64.Add {Results.F(counter, "0.000")} ns/op vs Interlocked.Add private long {Results.F(baseline, "0.000")} ns/op: ratio {Results.F(ratio)}x",
            ratio <= 2.0, "<= 2x");
    }
}
