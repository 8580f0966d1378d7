using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Vimage.Core;

namespace Vimage.Bench;

/// <summary>
/// Figure 4: V_x += 1 against the same read-modify-write on a plain static, a [ThreadStatic], a ThreadLocal&lt;T&gt; and
/// an AsyncLocal&lt;T&gt;. Every iteration calls a NoInlining method so no load or store is hoisted or merged.
/// The loop runs in vnet0 (the accessor is the same for every vnet). Without VIMAGE, V_x is the static field itself.
/// CurvnetSetRestore is one CURVNET_SET + CURVNET_RESTORE pair per iteration (what a direct-dispatch hop adds).
/// </summary>
public class VnetAccessBenchmarks
{
    private const int N = 1024;
    private static long s_plain;

    [ThreadStatic]
    private static long t_x;

    private readonly ThreadLocal<long> _threadLocal = new();
    private readonly AsyncLocal<long> _asyncLocal = new();
    private readonly AsyncLocal<StrongBox<long>> _asyncLocalBox = new();
    private CurvnetScope _scope;
    private int _setupThread;

    [GlobalSetup]
    public void Setup()
    {
        _scope = Curvnet.Set(Vnet.Vnet0);
        _setupThread = Environment.CurrentManagedThreadId;
        _asyncLocalBox.Value = new StrongBox<long>();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (Environment.CurrentManagedThreadId == _setupThread)
        {
            _scope.Dispose();
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public long PlainStatic()
    {
        for (int i = 0; i < N; i++)
        {
            s_plain += 1;
            Opaque();
        }

        return s_plain;
    }

    /// <summary>Informative: the loop and the NoInlining call alone, to show each variant's cost net of it.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public void EmptyLoop()
    {
        for (int i = 0; i < N; i++)
        {
            Opaque();
        }
    }

    [Benchmark(OperationsPerInvoke = N)]
    public long VnetV()
    {
        for (int i = 0; i < N; i++)
        {
            BenchGlobals.V_access_x += 1;
            Opaque();
        }

        return BenchGlobals.V_access_x;
    }

    /// <summary>CURVNET_SET(vnet0) / CURVNET_RESTORE around the same V_x += 1: the pair's cost is this minus VnetV.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public long CurvnetSetRestore()
    {
        Vnet vnet = Vnet.Vnet0;
        for (int i = 0; i < N; i++)
        {
            using (Curvnet.Set(vnet))
            {
                BenchGlobals.V_access_x += 1;
            }

            Opaque();
        }

        return BenchGlobals.V_access_x;
    }

    [Benchmark(OperationsPerInvoke = N)]
    public long ThreadStaticField()
    {
        for (int i = 0; i < N; i++)
        {
            t_x += 1;
            Opaque();
        }

        return t_x;
    }

    [Benchmark(OperationsPerInvoke = N)]
    public long ThreadLocalValue()
    {
        ThreadLocal<long> local = _threadLocal;
        for (int i = 0; i < N; i++)
        {
            local.Value += 1;
            Opaque();
        }

        return local.Value;
    }

    [Benchmark(OperationsPerInvoke = N)]
    public long AsyncLocalValue()
    {
        AsyncLocal<long> local = _asyncLocal;
        for (int i = 0; i < N; i++)
        {
            local.Value += 1;
            Opaque();
        }

        return local.Value;
    }

    /// <summary>The usual AsyncLocal idiom for mutable state: the AsyncLocal holds a box, the box is mutated.</summary>
    [Benchmark(OperationsPerInvoke = N)]
    public long AsyncLocalBox()
    {
        AsyncLocal<StrongBox<long>> local = _asyncLocalBox;
        for (int i = 0; i < N; i++)
        {
            local.Value!.Value += 1;
            Opaque();
        }

        return local.Value!.Value;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Opaque()
    {
    }

    public static void Run()
    {
        var summary = BenchmarkRunner.Run<VnetAccessBenchmarks>(BenchConfig.Create());
        double plain = Results.MedianNs(summary, nameof(PlainStatic));
        double v = Results.MedianNs(summary, nameof(VnetV));
        double threadStatic = Results.MedianNs(summary, nameof(ThreadStaticField));
        double threadLocal = Results.MedianNs(summary, nameof(ThreadLocalValue));
        double asyncLocal = Results.MedianNs(summary, nameof(AsyncLocalValue));
        double asyncLocalBox = Results.MedianNs(summary, nameof(AsyncLocalBox));
        double empty = Results.MedianNs(summary, nameof(EmptyLoop));
        double pair = Results.MedianNs(summary, nameof(CurvnetSetRestore));
        string mode = Vnet.IsVimage ? "VIMAGE on" : "VIMAGE off";

        double ratio = v / plain;
        Results.Add("vnet-access", $"{mode}: V_x += 1 {Results.F(v, "0.000")} ns/op vs plain static {Results.F(plain, "0.000")} ns/op: ratio {Results.F(ratio)}x",
            Vnet.IsVimage ? ratio <= 1.3 : ratio <= 1.05, Vnet.IsVimage ? "<= 1.3x" : "1.0x (<= 1.05x)");
        Results.Add("vnet-access", $"{mode}: [ThreadStatic] {Results.F(threadStatic, "0.000")} ns/op: {Results.F(threadStatic / plain)}x plain static, {Results.F(v / threadStatic)}x V_x (informative)");
        Results.Add("vnet-access", $"{mode}: ThreadLocal<long> {Results.F(threadLocal, "0.000")} ns/op: {Results.F(threadLocal / plain)}x plain static, V_x is {Results.F(threadLocal / v)}x faster (informative)");
        Results.Add("vnet-access", $"{mode}: AsyncLocal<long> {Results.F(asyncLocal, "0.000")} ns/op: {Results.F(asyncLocal / plain)}x plain static, V_x is {Results.F(asyncLocal / v)}x faster (informative)");
        Results.Add("vnet-access", $"{mode}: AsyncLocal<StrongBox<long>> (box mutated) {Results.F(asyncLocalBox, "0.000")} ns/op: {Results.F(asyncLocalBox / plain)}x plain static, V_x is {Results.F(asyncLocalBox / v)}x faster (informative)");
        Results.Add("vnet-access", $"{mode}: net of the loop+call ({Results.F(empty, "0.000")} ns): plain {Net(plain)}, V_x {Net(v)}, [ThreadStatic] {Net(threadStatic)}, ThreadLocal {Net(threadLocal)}, AsyncLocal {Net(asyncLocal)} ns/op");
        Results.Add("vnet-access", $"{mode}: net ThreadLocal<long> / V_x {NetRatio(threadLocal)}", NetAtLeast(threadLocal, 5.0), ">= 5x");
        Results.Add("vnet-access", $"{mode}: net AsyncLocal<long> / V_x {NetRatio(asyncLocal)}", NetAtLeast(asyncLocal, 30.0), ">= 30x");
        Results.Add("vnet-access", $"{mode}: CURVNET_SET + CURVNET_RESTORE pair {Results.F(pair - v, "0.000")} ns ({Results.F(pair, "0.000")} ns/op with the V_x += 1 inside, minus V_x alone; informative)");

        // Net of the loop a V_x access may cost less than timer noise; a floor of 0.05 ns keeps the ratio finite.
        bool NetAtLeast(double ns, double goal) => (ns - empty) / Math.Max(0.05, v - empty) >= goal;
        string Net(double ns) => Results.F(ns - empty, "0.000");
        string NetRatio(double ns) => v - empty > 0.05
            ? Results.F((ns - empty) / (v - empty)) + "x"
            : ">= " + Results.F((ns - empty) / 0.05) + "x (V_x costs under 0.05 ns net, below the timer's resolution)";
    }
}
