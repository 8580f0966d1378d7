namespace Vimage.Generators.Tests;

public class DiagnosticTests
{
    private static GeneratorRun Run(string body, bool vimage = true)
        => GeneratorHarness.Run("using System.Collections.Generic;\nusing Vimage.Core;\n" + body, vimage);

    [Theory]
    [InlineData("VIM001", "partial class C { [Vnet] int s_x; }")]
    [InlineData("VIM001", "partial class C { [Vnet] static readonly int s_x = 1; }")]
    [InlineData("VIM001", "partial class C { [PerCpu] const int s_x = 1; }")]
    [InlineData("VIM001", "partial class C { [PerCpu] static volatile int s_x; }")]
    [InlineData("VIM002", "partial class C { [PerCpu] static string s_x = \"\"; }")]
    [InlineData("VIM002", "partial class C { [PerCpu] static KeyValuePair<string, int> s_x; }")]
    [InlineData("VIM003", "class C { [Vnet] static int s_x; }")]
    [InlineData("VIM003", "partial class O { private partial class C { [Vnet] static int s_x; } }")]
    [InlineData("VIM003", "partial class O { protected partial class C { [PerCpu] static int s_x; } }")]
    [InlineData("VIM003", "partial class C<T> { [Vnet] static int s_x; }")]
    [InlineData("VIM003", "class O { internal partial class C { [Vnet] static int s_x; } }")]
    [InlineData("VIM003", "class C { [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_ANY)] static void M() { } }")]
    [InlineData("VIM005", "partial class C { [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_ANY)] void M() { } }")]
    [InlineData("VIM005", "partial class C { [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_ANY)] static int M() => 0; }")]
    [InlineData("VIM005", "partial class C { [VnetSysuninit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_ANY)] static void M(int a) { } }")]
    [InlineData("VIM005", "partial class C { [VnetSysuninit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_ANY)] static void M<T>() { } }")]
    [InlineData("VIM006", "partial class C { [VnetSysinit(SiSub.SI_SUB_VNET, SiOrder.SI_ORDER_ANY)] static void M() { } }")]
    [InlineData("VIM006", "partial class C { [VnetSysinit(SiSub.SI_SUB_KLD, SiOrder.SI_ORDER_ANY)] static void M() { } }")]
    [InlineData("VIM006", "partial class C { [VnetSysuninit((SiSub)0xdc00001, SiOrder.SI_ORDER_ANY)] static void M() { } }")]
    [InlineData("VIM007", "unsafe partial class C { [Vnet] static int* s_x; }")]
    [InlineData("VIM007", "unsafe partial class C { [PerCpu] static int* s_x; }")]
    [InlineData("VIM007", "partial class C { [Vnet] static KeyValuePair<string, int> s_x; }")]
    [InlineData("VIM007", "partial class C { [PerCpu] static int? s_x; }")]
    [InlineData("VIM007", "partial class C { [Vnet] static long? s_x; }")]
    [InlineData("VIM007", "partial class C { private sealed class Table { } [Vnet] static Table s_x = new(); }")]
    [InlineData("VIM007", "partial class C { private struct Slot { public int V; } [PerCpu] static Slot s_x; }")]
    [InlineData("VIM007", "partial class C { private sealed class Table { } [Vnet] static List<Table> s_x = new(); }")]
    [InlineData("VIM008", "partial class C { [Vnet] static int s_x; [Vnet] static int _x; }")]
    [InlineData("VIM008", "partial class C { [Vnet, PerCpu] static int s_x; }")]
    public void BadInputReportsDiagnostic(string id, string body)
    {
        GeneratorRun run = Run(body);
        Diagnostic diagnostic = Assert.Single(run.GeneratorDiagnostics, d => d.Id == id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        string message = diagnostic.GetMessage();
        Assert.True(message.Contains("'s_x'", StringComparison.Ordinal) || message.Contains("'M'", StringComparison.Ordinal), message);
        Assert.NotEqual(Location.None, diagnostic.Location);
        Assert.True(diagnostic.Location.GetLineSpan().StartLinePosition.Line >= 2);

        // Broken items are left out rather than emitted into code that cannot compile.
        Assert.DoesNotContain(run.CompilerProblems, d => d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true);
    }

    [Theory]
    [InlineData("partial class C { [Vnet] static int s_x; [PerCpu] static int s_y; }")]
    [InlineData("partial class C { [Vnet] static List<int>? s_x; [Vnet] static int[] s_y = new int[4]; }")]
    [InlineData("partial class O { internal partial class C { [Vnet] static int s_x; } }")]
    [InlineData("partial class O { protected internal partial class C { [Vnet] static int s_x; } }")]
    [InlineData("partial class C { [VnetSysinit((SiSub)0x21E0001, SiOrder.SI_ORDER_ANY)] static void M() { } }")]
    [InlineData("partial class C { [VnetSysinit(SiSub.SI_SUB_VNET_DONE, SiOrder.SI_ORDER_ANY)] static void M() { } }")]
    [InlineData("partial struct C { [PerCpu] static S s_x; } struct S { public int? A; public long B; }")]
    [InlineData("readonly partial struct C { [Vnet] static int s_x; }")]
    [InlineData("partial record C { [Vnet] static System.Action? s_x; }")]
    [InlineData("partial class C { [Vnet] static int @class; [Vnet] static int s_event; }")]
    [InlineData("partial class C { internal sealed class Table { } [Vnet] static Dictionary<int, Table> s_x = new(); }")]
    public void GoodInputReportsNothing(string body)
    {
        Run(body, vimage: true).AssertCompiles();
        Run(body, vimage: false).AssertCompiles();
    }

    [Fact]
    public void MessagesNameTheMember()
    {
        Diagnostic d = Run("partial class C { [PerCpu] static string s_name = \"\"; }").GeneratorDiagnostics.Single();
        Assert.Equal("DPCPU variables must be unmanaged: 'string' is a reference type or contains references (field 's_name')", d.GetMessage());

        d = Run("class C { [Vnet] static int s_x; }").GeneratorDiagnostics.Single();
        Assert.Contains("'s_x'", d.GetMessage());
        Assert.Contains("'C'", d.GetMessage());
    }
}
