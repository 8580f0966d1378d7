namespace Vimage.Generators.Tests;

public class DirectAccessAnalyzerTests
{
    private static async Task<Diagnostic[]> AnalyzeAsync(string body, bool vimage = true)
    {
        GeneratorRun run = GeneratorHarness.Run("using System;\nusing Vimage.Core;\n" + body, vimage);
        return [.. (await run.AnalyzeAsync()).Where(d => d.Id == "VIM004")];
    }

    [Theory]
    [InlineData("partial class C { [Vnet] static int s_x; static int Read() => s_x; }", "s_x", "V_x")]
    [InlineData("partial class C { [Vnet] static int s_x; static void Write() => s_x = 3; }", "s_x", "V_x")]
    [InlineData("partial class C { [Vnet] internal static int s_x; } class D { int Read() => C.s_x; }", "s_x", "V_x")]
    [InlineData("partial class C { [PerCpu] static long _n; static void Bump() { _n++; } }", "_n", "DPCPU_n")]
    [InlineData("partial class C { [Vnet] static int s_x; static unsafe int* P() { fixed (int* p = &s_x) return p; } }", "s_x", "V_x")]
    [InlineData("partial class C { [Vnet] static int s_x; [Vnet] static int s_y = s_x + 1; }", "s_x", "V_x")]
    public async Task DirectAccessIsReported(string body, string field, string accessor)
    {
        foreach (bool vimage in new[] { true, false })
        {
            Diagnostic diagnostic = Assert.Single(await AnalyzeAsync(body, vimage));
            Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
            Assert.StartsWith($"'{field}' is the reference copy of a virtualized global; use {accessor}", diagnostic.GetMessage());
        }
    }

    [Theory]
    [InlineData("partial class C { [Vnet] static int s_x = 5; static int Read() => V_x + V_x_In(Vnet.Vnet0); }")]
    [InlineData("partial class C { [PerCpu] static long s_n; static long Read() => DPCPU_n + DPCPU_ID_n(0); }")]
    [InlineData("partial class C { [Vnet] static int s_x; static string Name() => nameof(s_x) + nameof(C.s_x); }")]
    [InlineData("partial class C { [Vnet] static Func<int>? s_f = () => s_f is null ? 0 : 1; }")]
    [InlineData("partial class C { static int s_plain; static int Read() => s_plain; }")]
    public async Task AccessorsNameofAndOwnInitializerAreAllowed(string body)
    {
        Assert.Empty(await AnalyzeAsync(body, vimage: true));
        Assert.Empty(await AnalyzeAsync(body, vimage: false));
    }

    [Fact]
    public async Task GeneratedCodeIsExempt()
    {
        GeneratorRun run = GeneratorHarness.Run(GeneratedCodeTests.GoodSource, vimage: false);
        Assert.DoesNotContain(await run.AnalyzeAsync(), d => d.Id == "VIM004");
    }
}
