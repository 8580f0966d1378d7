namespace Vimage.Generators.Tests;

public class GeneratedCodeTests
{
    internal const string GoodSource = """
        using System.Collections.Generic;
        using Vimage.Core;

        namespace Net.Inet
        {
            using Alias = System.Text.StringBuilder;

            public static partial class IpInput
            {
                [Vnet] private static int s_ip_defttl = 64;
                [Vnet] internal static long _ipstat;
                [Vnet] public static List<int> s_list = new() { 1, 2 };
                [Vnet] internal static Alias s_builder = new Alias("x");
                [Vnet] internal static string? s_name;
                [PerCpu] internal static long s_pcpu_count;
                [PerCpu] internal static Stats s_stats;

                [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_FIRST)]
                [VnetSysuninit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_FIRST)]
                private static void Both() { }

                [VnetSysinit(SiSub.SI_SUB_VNET_DONE, SiOrder.SI_ORDER_ANY)]
                private static void Init() => V_ip_defttl = 65;

                public static int Use(Vimage.Core.Vnet vnet)
                {
                    V_ipstat++;
                    V_list.Add(V_list_In(vnet).Count);
                    V_name ??= nameof(s_name);
                    DPCPU_pcpu_count += 1;
                    DPCPU_ID_stats(0).Packets++;
                    DpcpuVar<long> handle = DPCPU_VAR_pcpu_count;
                    return V_ip_defttl + V_ip_defttl_In(vnet) + (int)handle.Offset + V_builder.Length;
                }
            }

            public struct Stats { public long Packets; public int Drops; }

            public partial class Outer
            {
                internal partial struct Inner
                {
                    [Vnet] internal static int x;
                }
            }

            internal partial interface IVnetThing
            {
                [Vnet] static System.Guid s_id;
            }
        }

        public static partial class GlobalHolder
        {
            [PerCpu] public static int s_g;
        }
        """;

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void GoodSourceCompilesInBothModes(bool vimage, bool allowUnsafe)
    {
        GeneratorRun run = GeneratorHarness.Run(GoodSource, vimage, allowUnsafe);
        run.AssertCompiles();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AccessorsAreGenerated(bool vimage)
    {
        GeneratorRun run = GeneratorHarness.Run(GoodSource, vimage);
        HashSet<string> members = run.Type("Net.Inet.IpInput").GetMembers().Select(m => m.Name).ToHashSet();
        string[] expected =
        [
            "V_ip_defttl", "V_ip_defttl_In", "V_ip_defttl_Ptr", "V_ipstat", "V_ipstat_In", "V_ipstat_Ptr",
            "V_list", "V_list_In", "V_builder", "V_name", "V_name_In",
            "DPCPU_pcpu_count", "DPCPU_ID_pcpu_count", "DPCPU_VAR_pcpu_count", "DPCPU_stats", "DPCPU_ID_stats", "DPCPU_VAR_stats",
            "__vimage_ref_ip_defttl", "__vimage_ref_list", "__vimage_init_list", "__vimage_sysinit_Both", "__vimage_sysinit_Init",
        ];
        Assert.All(expected, name => Assert.Contains(name, members));
        Assert.DoesNotContain("V_list_Ptr", members);
        Assert.Contains("V_x", run.Type("Net.Inet.Outer+Inner").GetMembers().Select(m => m.Name));
        Assert.Contains("V_id", run.Type("Net.Inet.IVnetThing").GetMembers().Select(m => m.Name));
        Assert.Contains("DPCPU_g", run.Type("GlobalHolder").GetMembers().Select(m => m.Name));

        // Accessibility follows the field's.
        Assert.Equal(Microsoft.CodeAnalysis.Accessibility.Private,
            run.Type("Net.Inet.IpInput").GetMembers("V_ip_defttl").Single().DeclaredAccessibility);
        Assert.Equal(Microsoft.CodeAnalysis.Accessibility.Public,
            run.Type("Net.Inet.IpInput").GetMembers("V_list").Single().DeclaredAccessibility);
    }

    [Fact]
    public void LinkerSetClassIsOnePerAssembly()
    {
        GeneratorRun run = GeneratorHarness.Run(GoodSource, vimage: true);
        Microsoft.CodeAnalysis.INamedTypeSymbol set = run.Type("Vimage.Generated.LinkerSet_Test_Assembly");
        HashSet<string> members = set.GetMembers().Select(m => m.Name).ToHashSet();
        Assert.Contains("Vnet", members);
        Assert.Contains("PerCpu", members);
        Assert.Contains("Load", members);
        Assert.Contains("Pcpu_0", members);

        // 7 [Vnet] fields sorted by (type, name): Net.Inet.IVnetThing.s_id, Net.Inet.IpInput._ipstat, s_builder,
        // s_ip_defttl, s_list, s_name, Net.Inet.Outer.Inner.x.
        string[] slots = members.Where(m => m.StartsWith("Vnet", StringComparison.Ordinal) && m.Contains('_')).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["VnetRef_2", "VnetRef_4", "VnetRef_5", "Vnet_0", "Vnet_1", "Vnet_3", "Vnet_6"], slots);

        string text = run.Generated("VimageLinkerSet.g.cs");
        Assert.Contains("(global::Vimage.Core.SiSub)0x8800000u, (global::Vimage.Core.SiOrder)0x0u, \"Net.Inet.IpInput.Both\"", text);
        int register = text.IndexOf("VnetLinker.Register(", StringComparison.Ordinal);
        Assert.True(register >= 0 && register < text.IndexOf("Vnet.Offset(0)", StringComparison.Ordinal));
        Assert.Contains("SetVariable.Reference<global::System.Collections.Generic.List<int>>(\"Net.Inet.IpInput\", \"list\"", text);
        Assert.Contains("SetVariable.Value<long>(\"Net.Inet.IpInput\", \"ipstat\"", text);
    }

    [Fact]
    public void VimageModePicksIndirectAccessors()
    {
        string on = GeneratorHarness.Run(GoodSource, vimage: true).Generated("Vimage.Net.Inet.IpInput.g.cs");
        string off = GeneratorHarness.Run(GoodSource, vimage: false).Generated("Vimage.Net.Inet.IpInput.g.cs");

        Assert.Contains("VnetAccess.Ref<int>(global::Vimage.Generated.LinkerSet_Test_Assembly.Vnet_", on);
        Assert.Contains("VnetAccess.RefObjectIn<global::System.Collections.Generic.List<int>>(vnet,", on);
        Assert.DoesNotContain("CheckVnet0", on);

        Assert.Contains("get => ref s_ip_defttl;", off);
        Assert.Contains("VnetAccess.CheckVnet0(vnet); return ref s_ip_defttl;", off);
        Assert.DoesNotContain("VnetAccess.Ref<", off);

        // DPCPU accessors do not depend on VIMAGE.
        Assert.Contains("DpcpuAccess.Ptr<long>(", off);
        Assert.Contains("DpcpuAccess.Ptr<long>(", on);

        // The reference-type initializer is copied verbatim, with the file's usings.
        Assert.Contains("__vimage_init_list() => new() { 1, 2 };", on);
        Assert.Contains("using Alias = System.Text.StringBuilder;", on);
        Assert.Contains("__vimage_init_name() => default!;", on);
    }

    [Fact]
    public void PointerAccessorNeedsUnsafe()
    {
        GeneratorRun run = GeneratorHarness.Run(GoodSource, vimage: true, allowUnsafe: false);
        Assert.DoesNotContain("_Ptr", run.AllGenerated);
    }

    [Fact]
    public void NothingIsGeneratedWithoutAttributes()
    {
        GeneratorRun run = GeneratorHarness.Run("namespace N { public static class C { public static int s_x; } }", vimage: true);
        Assert.Empty(run.Result.GeneratedTrees);
        Assert.Empty(run.GeneratorDiagnostics);
    }

    [Fact]
    public void OnlySysinitsStillRegisterTheVnetSet()
    {
        GeneratorRun run = GeneratorHarness.Run("""
            using Vimage.Core;
            static partial class M
            {
                [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_MIDDLE)] static void Go() { }
            }
            """, vimage: false);
        run.AssertCompiles();
        string text = run.Generated("VimageLinkerSet.g.cs");
        Assert.Contains("VnetLinker.Register(", text);
        Assert.DoesNotContain("DpcpuLinker", text);
    }

    [Fact]
    public void OutputIsDeterministic()
    {
        Assert.Equal(GeneratorHarness.Run(GoodSource, vimage: true).AllGenerated, GeneratorHarness.Run(GoodSource, vimage: true).AllGenerated);
    }
}
