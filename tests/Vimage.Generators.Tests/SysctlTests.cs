namespace Vimage.Generators.Tests;

/// <summary>[Sysctl] on [Vnet] and plain static fields: the Sysctls array, Load() order and VIM009–VIM012.</summary>
public class SysctlTests
{
    private const string Decl = "global::Vimage.Core.SysctlDeclaration.";
    private const string Flags = "(global::Vimage.Core.SysctlFlags)";

    internal const string Source = """
        using Vimage.Core;

        namespace Net.Inet
        {
            public enum IpStat { ips_total, ips_badsum }

            public static partial class Ip
            {
                [Vnet, Sysctl("net.inet.ip.ttl", SysctlFlags.RW | SysctlFlags.VNET, "Maximum TTL on IP packets", Min = 1, Max = 255)]
                internal static int s_ip_defttl = 64;

                [Vnet, Sysctl("net.inet.ip.stats", SysctlFlags.RW | SysctlFlags.VNET | SysctlFlags.STATS, "IP statistics")]
                internal static VnetPcpuStat<IpStat> s_ipstat;

                [Vnet] internal static long s_other;

                // No CTLFLAG_VNET on a [Vnet] variable: the OID shows the master copy.
                [Vnet, Sysctl("net.inet.ip.name", SysctlFlags.RD, "Master copy name", MaxLength = 32)]
                internal static string? s_vname;

                [Sysctl("net.inet.ip.quoted", SysctlFlags.RD, "Says \"hi\" \\ back\n")]
                internal static bool s_quoted;

                [PerCpu] internal static long s_pcpu;

                public static int Use() => V_ip_defttl + (V_vname?.Length ?? 0) + (s_quoted ? 1 : 0) + (int)DPCPU_pcpu + (int)V_other;

                public static void Count() => V_ipstat.Inc(IpStat.ips_total);
            }

            public partial class Udp
            {
                [Sysctl("net.inet.udp.maxdgram", SysctlFlags.RW, "Maximum outgoing UDP datagram size", Min = 0, Max = 65535)]
                public static int udp_sendspace = 9216;

                [Sysctl("kern.hostname", SysctlFlags.RW | SysctlFlags.PRISON, "Host name", MaxLength = 255)]
                private static string s_hostname = "";

                [Sysctl("kern.domain", SysctlFlags.RW, "Domain")]
                internal static string? s_domain;

                [Sysctl("kern.u", SysctlFlags.RD, "u")] private static uint s_u;
                [Sysctl("kern.ul", SysctlFlags.RD | SysctlFlags.TUN, "ul")] private static ulong s_ul;
                [Sysctl("kern.l", SysctlFlags.RD, "l", Min = long.MinValue, Max = -1)] private static long s_l = -1;

                // Globals are read and written directly: no VIM004.
                public static long Use() => udp_sendspace + s_hostname.Length + (s_domain?.Length ?? 0) + s_u + (long)s_ul + s_l;
            }

            internal partial interface IKnobs
            {
                [Sysctl("kern.iface", SysctlFlags.RW, "in an interface")] static int s_iface;
            }

            internal readonly partial struct Knobs
            {
                [Sysctl("kern.ro_struct", SysctlFlags.RW, "in a readonly struct")] internal static int s_knob;
            }
        }
        """;

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void SourceCompilesInBothModes(bool vimage, bool allowUnsafe)
        => GeneratorHarness.Run(Source, vimage, allowUnsafe).AssertCompiles();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void SysctlsArrayListsEveryOidInNameOrder(bool vimage)
    {
        GeneratorRun run = GeneratorHarness.Run(Source, vimage);
        string text = run.Generated("VimageLinkerSet.g.cs");
        string[] expected =
        [
            Decl + "ForGlobal(\"kern.domain\", " + Flags + "0xC0000000u, \"Domain\", -9223372036854775808L, 9223372036854775807L, 255,",
            "    global::Vimage.Core.Linker.SetVariable.Reference<string?>(\"Net.Inet.Udp\", \"domain\", global::Net.Inet.Udp.__vimage_ref_domain, static () => null!)),",
            Decl + "ForGlobal(\"kern.hostname\", " + Flags + "0xC4000000u, \"Host name\", -9223372036854775808L, 9223372036854775807L, 255,",
            "    global::Vimage.Core.Linker.SetVariable.Reference<string>(\"Net.Inet.Udp\", \"hostname\", global::Net.Inet.Udp.__vimage_ref_hostname, static () => null!)),",
            Decl + "ForGlobal(\"kern.iface\", " + Flags + "0xC0000000u, \"in an interface\", -9223372036854775808L, 9223372036854775807L, 255,",
            "    global::Vimage.Core.Linker.SetVariable.Value<int>(\"Net.Inet.IKnobs\", \"iface\", global::Net.Inet.IKnobs.__vimage_ref_iface)),",
            Decl + "ForGlobal(\"kern.l\", " + Flags + "0x80000000u, \"l\", -9223372036854775808L, -1L, 255,",
            "    global::Vimage.Core.Linker.SetVariable.Value<long>(\"Net.Inet.Udp\", \"l\", global::Net.Inet.Udp.__vimage_ref_l)),",
            Decl + "ForGlobal(\"kern.ro_struct\", " + Flags + "0xC0000000u, \"in a readonly struct\", -9223372036854775808L, 9223372036854775807L, 255,",
            "    global::Vimage.Core.Linker.SetVariable.Value<int>(\"Net.Inet.Knobs\", \"knob\", global::Net.Inet.Knobs.__vimage_ref_knob)),",
            Decl + "ForGlobal(\"kern.u\", " + Flags + "0x80000000u, \"u\", -9223372036854775808L, 9223372036854775807L, 255,",
            "    global::Vimage.Core.Linker.SetVariable.Value<uint>(\"Net.Inet.Udp\", \"u\", global::Net.Inet.Udp.__vimage_ref_u)),",
            Decl + "ForGlobal(\"kern.ul\", " + Flags + "0x80080000u, \"ul\", -9223372036854775808L, 9223372036854775807L, 255,",
            "    global::Vimage.Core.Linker.SetVariable.Value<ulong>(\"Net.Inet.Udp\", \"ul\", global::Net.Inet.Udp.__vimage_ref_ul)),",
            Decl + "ForVnet(\"net.inet.ip.name\", " + Flags + "0x80000000u, \"Master copy name\", -9223372036854775808L, 9223372036854775807L, 32, Vnet, 3),",
            Decl + "ForGlobal(\"net.inet.ip.quoted\", " + Flags + "0x80000000u, \"Says \\\"hi\\\" \\\\ back\\n\", -9223372036854775808L, 9223372036854775807L, 255,",
            "    global::Vimage.Core.Linker.SetVariable.Value<bool>(\"Net.Inet.Ip\", \"quoted\", global::Net.Inet.Ip.__vimage_ref_quoted)),",
            Decl + "ForVnet(\"net.inet.ip.stats\", " + Flags + "0xC0022000u, \"IP statistics\", -9223372036854775808L, 9223372036854775807L, 255, Vnet, 1),",
            Decl + "ForVnet(\"net.inet.ip.ttl\", " + Flags + "0xC0020000u, \"Maximum TTL on IP packets\", 1L, 255L, 255, Vnet, 0),",
            Decl + "ForGlobal(\"net.inet.udp.maxdgram\", " + Flags + "0xC0000000u, \"Maximum outgoing UDP datagram size\", 0L, 65535L, 255,",
            "    global::Vimage.Core.Linker.SetVariable.Value<int>(\"Net.Inet.Udp\", \"udp_sendspace\", global::Net.Inet.Udp.__vimage_ref_udp_sendspace)),",
        ];
        Assert.Equal(expected, ArrayBody(text, "Sysctls"));

        // The index each ForVnet passes is the variable's position in the registered [Vnet] set.
        string[] vnet = ArrayBody(text, "Vnet");
        Assert.Equal(4, vnet.Length);
        Assert.Contains("\"ip_defttl\"", vnet[0]);
        Assert.Contains("SetVariable.Value<global::Vimage.Core.VnetPcpuStat<global::Net.Inet.IpStat>>(\"Net.Inet.Ip\", \"ipstat\"", vnet[1]);
        Assert.Contains("\"other\"", vnet[2]);
        Assert.Contains("SetVariable.Reference<string?>(\"Net.Inet.Ip\", \"vname\"", vnet[3]);
    }

    [Fact]
    public void SysctlsFollowTheSetsAndLoadRegistersThemBeforeLinking()
    {
        string text = GeneratorHarness.Run(Source, vimage: true).Generated("VimageLinkerSet.g.cs");

        // Static initializers run in textual order: the array reads Vnet, so it comes after every set and offset.
        int sysctls = text.IndexOf("internal static readonly global::Vimage.Core.SysctlDeclaration[] Sysctls =", StringComparison.Ordinal);
        Assert.True(sysctls > text.IndexOf("VnetLinker.Register(", StringComparison.Ordinal));
        Assert.True(sysctls > text.IndexOf("Vnet.Offset(", StringComparison.Ordinal));
        Assert.True(sysctls > text.IndexOf("Vnet.ReferenceIndex(", StringComparison.Ordinal));
        Assert.True(sysctls > text.IndexOf("PerCpu.Offset(", StringComparison.Ordinal));

        string load = text[text.IndexOf("internal static void Load()", StringComparison.Ordinal)..];
        string[] calls = load.Split('\n').Select(l => l.Trim()).Where(l => l.EndsWith(';')).ToArray();
        Assert.Equal(
        [
            "global::System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(LinkerSet_Test_Assembly).TypeHandle);",
            "global::Vimage.Core.SysctlLinker.Register(typeof(LinkerSet_Test_Assembly).Assembly, Sysctls);",
            "global::Vimage.Core.Linker.VnetLinker.Link(Vnet);",
        ], calls);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PlainSysctlFieldsGetOnlyTheRefHelper(bool vimage)
    {
        GeneratorRun run = GeneratorHarness.Run(Source, vimage);
        HashSet<string> udp = run.Type("Net.Inet.Udp").GetMembers().Select(m => m.Name).ToHashSet();
        Assert.Contains("__vimage_ref_udp_sendspace", udp);
        Assert.Contains("__vimage_ref_hostname", udp);
        Assert.DoesNotContain(udp, m => m.StartsWith("V_", StringComparison.Ordinal) || m.StartsWith("__vimage_init_", StringComparison.Ordinal));

        // [Vnet] fields with [Sysctl] keep their accessors and get no second helper.
        HashSet<string> ip = run.Type("Net.Inet.Ip").GetMembers().Select(m => m.Name).ToHashSet();
        Assert.Contains("V_ip_defttl", ip);
        Assert.Contains("V_ipstat", ip);
        Assert.Contains("__vimage_ref_quoted", ip);
        Assert.DoesNotContain("V_quoted", ip);
        Assert.Single(run.Type("Net.Inet.Ip").GetMembers("__vimage_ref_ip_defttl"));

        string partial = run.Generated("Vimage.Net.Inet.Udp.g.cs");
        Assert.Contains("// [Sysctl(\"net.inet.udp.maxdgram\")] udp_sendspace", partial);
        Assert.Contains("internal static ref string? __vimage_ref_domain() => ref s_domain;", partial);
    }

    [Fact]
    public async Task DirectAccessToPlainSysctlFieldsIsNotReported()
    {
        GeneratorRun run = GeneratorHarness.Run(Source + """

            namespace Net.Inet
            {
                static class Reader
                {
                    static long Read() => Udp.udp_sendspace + Ip.s_quoted.GetHashCode();
                    static int Bad() => Ip.s_ip_defttl;
                }
            }
            """, vimage: true);
        Diagnostic[] vim004 = [.. (await run.AnalyzeAsync()).Where(d => d.Id == "VIM004")];
        Diagnostic only = Assert.Single(vim004);
        Assert.StartsWith("'s_ip_defttl' is the reference copy", only.GetMessage());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AssemblyWithOnlyPlainSysctlsGetsALinkerSet(bool vimage)
    {
        GeneratorRun run = GeneratorHarness.Run("""
            using Vimage.Core;
            namespace Knobs
            {
                public static partial class Kern
                {
                    [Sysctl("kern.maxfiles", SysctlFlags.RW | SysctlFlags.TUN, "Maximum number of files", Min = 1)]
                    public static int s_maxfiles = 1024;
                }
            }
            """, vimage);
        run.AssertCompiles();
        string text = run.Generated("VimageLinkerSet.g.cs");
        Assert.DoesNotContain("VnetLinker", text);
        Assert.DoesNotContain("DpcpuLinker", text);
        Assert.Contains("SysctlLinker.Register(typeof(LinkerSet_Test_Assembly).Assembly, Sysctls);", text);
        Assert.Equal(
        [
            Decl + "ForGlobal(\"kern.maxfiles\", " + Flags + "0xC0080000u, \"Maximum number of files\", 1L, 9223372036854775807L, 255,",
            "    global::Vimage.Core.Linker.SetVariable.Value<int>(\"Knobs.Kern\", \"maxfiles\", global::Knobs.Kern.__vimage_ref_maxfiles)),",
        ], ArrayBody(text, "Sysctls"));

        HashSet<string> set = run.Type("Vimage.Generated.LinkerSet_Test_Assembly").GetMembers().Select(m => m.Name).ToHashSet();
        Assert.Equal(["Load", "Sysctls"], set.Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void WithoutSysctlsLoadIsUnchanged()
    {
        string text = GeneratorHarness.Run(GeneratedCodeTests.GoodSource, vimage: true).Generated("VimageLinkerSet.g.cs");
        Assert.DoesNotContain("Sysctl", text);
    }

    [Fact]
    public void OutputIsDeterministic()
        => Assert.Equal(GeneratorHarness.Run(Source, vimage: true).AllGenerated, GeneratorHarness.Run(Source, vimage: true).AllGenerated);

    /// <summary>The element lines of a generated array (Sysctls, or the first SetVariable[] of the Vnet set), outer indent removed.</summary>
    private static string[] ArrayBody(string text, string name)
    {
        string[] lines = text.Split('\n');
        int start = name == "Vnet"
            ? Array.FindIndex(lines, l => l.Contains("new global::Vimage.Core.Linker.SetVariable[]", StringComparison.Ordinal)) + 1
            : Array.FindIndex(lines, l => l.Contains("SysctlDeclaration[] " + name + " =", StringComparison.Ordinal)) + 1;
        Assert.True(start > 0, text);
        string open = lines[start];
        int indent = open.Length - open.TrimStart().Length + 4;
        List<string> body = [];
        for (int i = start + 1; lines[i].Trim() is not ("};" or "},"); i++)
        {
            body.Add(lines[i][indent..]);
        }

        return [.. body];
    }
}

public class SysctlDiagnosticTests
{
    private static GeneratorRun Run(string body, bool vimage = true)
        => GeneratorHarness.Run("using Vimage.Core;\nenum E { A }\n" + body, vimage);

    [Theory]
    [InlineData("VIM009", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW | SysctlFlags.VNET, \"d\")] static int s_x; }")]
    [InlineData("VIM009", "partial class C { [Sysctl(\"a.b\", SysctlFlags.VNET, \"d\")] internal static string? s_x; }")]
    [InlineData("VIM010", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static double s_x; }")]
    [InlineData("VIM010", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int? s_x; }")]
    [InlineData("VIM010", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static E s_x; }")]
    [InlineData("VIM010", "partial class C { [Vnet, Sysctl(\"a.b\", SysctlFlags.RW | SysctlFlags.VNET, \"d\")] static double s_x; }")]
    [InlineData("VIM010", "partial class C { [Vnet, Sysctl(\"a.b\", SysctlFlags.RW | SysctlFlags.VNET, \"d\")] static int[]? s_x; }")]
    [InlineData("VIM010", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static VnetPcpuStat<E> s_x; }")]
    [InlineData("VIM010", "partial class C { [PerCpu, Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM010", "partial class C { [PerCpu, Sysctl(\"a.b\", SysctlFlags.RW | SysctlFlags.VNET, \"d\")] static int s_x; }")]
    [InlineData("VIM010", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] int s_x; }")]
    [InlineData("VIM010", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RD, \"d\")] static readonly int s_x = 1; }")]
    [InlineData("VIM010", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RD, \"d\")] const int s_x = 1; }")]
    [InlineData("VIM010", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static volatile int s_x; }")]
    [InlineData("VIM011", "partial class C { [Sysctl(\"\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM011", "partial class C { [Sysctl(null!, SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM011", "partial class C { [Sysctl(\"net..ip\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM011", "partial class C { [Sysctl(\".net.ip\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM011", "partial class C { [Sysctl(\"net.ip.\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM011", "partial class C { [Sysctl(\".\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM011", "partial class C { [Sysctl(\"net.ip ttl\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM011", "partial class C { [Sysctl(\"net.\\tip\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM011", "partial class C { [Vnet, Sysctl(\"a b\", SysctlFlags.RW | SysctlFlags.VNET, \"d\")] static int s_x; }")]
    [InlineData("VIM011", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_y; [Sysctl(\"a.b\", SysctlFlags.RD, \"e\")] static int s_x; }")]
    [InlineData("VIM011", "partial class C { [Vnet, Sysctl(\"a.b\", SysctlFlags.RW | SysctlFlags.VNET, \"d\")] static int s_y; [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static long s_x; }")]
    [InlineData("VIM011", "partial class C { [Sysctl(\"a.b.c\", SysctlFlags.RW, \"d\")] static int s_y; [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM012", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\", Min = 10, Max = 1)] static int s_x; }")]
    [InlineData("VIM012", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\", MaxLength = -1)] static string s_x = \"\"; }")]
    [InlineData("VIM003", "class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM003", "partial class C<T> { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    [InlineData("VIM003", "partial class O { private partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_x; } }")]
    [InlineData("VIM008", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int _x; [Vnet] static int s_x; }")]
    [InlineData("VIM008", "partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int _x; [Sysctl(\"a.c\", SysctlFlags.RW, \"d\")] static int s_x; }")]
    public void BadInputReportsDiagnostic(string id, string body)
    {
        foreach (bool vimage in new[] { true, false })
        {
            GeneratorRun run = Run(body, vimage);
            Diagnostic diagnostic = Assert.Single(run.GeneratorDiagnostics);
            Assert.Equal(id, diagnostic.Id);
            Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
            Assert.Contains("'s_x'", diagnostic.GetMessage());
            Assert.NotEqual(Location.None, diagnostic.Location);
            Assert.True(diagnostic.Location.GetLineSpan().StartLinePosition.Line >= 2);

            // Broken declarations are left out rather than emitted into code that cannot compile.
            Assert.DoesNotContain(run.CompilerProblems, d => d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true);
        }
    }

    [Theory]
    [InlineData("partial class C { [Vnet, Sysctl(\"a.b\", SysctlFlags.RW | SysctlFlags.VNET, \"d\")] static int s_x; }")]
    [InlineData("partial class C { [Vnet, Sysctl(\"a.b\", SysctlFlags.RW, \"master copy\")] static long s_x; }")]
    [InlineData("partial class C { [Vnet, Sysctl(\"a.b\", SysctlFlags.RW | SysctlFlags.VNET | SysctlFlags.STATS, \"d\")] static VnetPcpuStat<E> s_x; }")]
    [InlineData("partial class C { [Vnet, Sysctl(\"a.b\", SysctlFlags.RW | SysctlFlags.VNET, \"d\", MaxLength = 16)] static string s_x = \"x\"; }")]
    [InlineData("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\", Min = 5, Max = 5)] static uint s_x; }")]
    [InlineData("partial class C { [Sysctl(\"a\", SysctlFlags.RW, \"d\")] static bool s_x; }")]
    [InlineData("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\", MaxLength = 0)] static string? s_x; }")]
    [InlineData("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static ulong s_x; [Sysctl(\"a.bc\", SysctlFlags.RW, \"d\")] static long s_y; }")]
    [InlineData("partial class C { [Sysctl(\"dev.em.0.%desc\", SysctlFlags.RD, \"\")] public static string s_x = \"\"; }")]
    [InlineData("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, null!)] static int s_x; }")]
    [InlineData("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"x\\u2028y\\r\\n\\0\\\\\")] static int s_x; }")]
    [InlineData("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int @class; [Sysctl(\"a.c\", SysctlFlags.RW, \"d\")] static int s_event; }")]
    [InlineData("partial class O { internal partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] private static int s_x; } }")]
    [InlineData("partial record C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_x; [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_ANY)] static void M() { } }")]
    [InlineData("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_x; } partial class D { [PerCpu] static int s_x; }")]
    public void GoodInputReportsNothing(string body)
    {
        Run(body, vimage: true).AssertCompiles();
        Run(body, vimage: false).AssertCompiles();
    }

    [Fact]
    public void ReadonlyVnetSysctlIsReportedOnceAsVim001()
    {
        GeneratorRun run = Run("partial class C { [Vnet, Sysctl(\"a.b\", SysctlFlags.RD | SysctlFlags.VNET, \"d\")] static readonly int s_x = 1; }");
        Assert.Equal(["VIM001"], run.GeneratorIds);
        Assert.DoesNotContain("Sysctl", run.AllGenerated);
    }

    [Fact]
    public void NonPartialVnetSysctlIsReportedOnceAsVim003()
    {
        GeneratorRun run = Run("class C { [Vnet, Sysctl(\"a.b\", SysctlFlags.RW | SysctlFlags.VNET, \"d\")] static int s_x; }");
        Assert.Equal(["VIM003"], run.GeneratorIds);
    }

    [Fact]
    public void MessagesSayWhatIsWrong()
    {
        static string Message(string body) => Assert.Single(Run(body).GeneratorDiagnostics).GetMessage();

        Assert.Equal(
            "CTLFLAG_VNET needs a [Vnet] variable: 's_x' is a plain global (drop SysctlFlags.VNET or make the field [Vnet])",
            Message("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW | SysctlFlags.VNET, \"d\")] static int s_x; }"));
        Assert.Equal(
            "[Sysctl] field 's_x' has type 'double': a sysctl variable must be int, uint, long, ulong, bool, string or (on a [Vnet] field) VnetPcpuStat<T>",
            Message("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static double s_x; }"));
        Assert.Equal(
            "[Sysctl] field 's_x' has type 'global::Vimage.Core.VnetPcpuStat<global::E>': VNET_PCPUSTAT statistics must be a [Vnet] field",
            Message("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static VnetPcpuStat<E> s_x; }"));
        Assert.Equal(
            "[Sysctl] on 's_x': the sysctl name 'net..ip' has an empty component",
            Message("partial class C { [Sysctl(\"net..ip\", SysctlFlags.RW, \"d\")] static int s_x; }"));
        Assert.Equal(
            "[Sysctl] on 's_x': the sysctl name 'a.b' is already declared by 'C.s_y'",
            Message("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_y; [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_x; }"));
        Assert.Equal(
            "[Sysctl] on 's_x': the sysctl 'a.b' is a variable, but 'a.b.c' (on 'C.s_y') places an OID under it",
            Message("partial class C { [Sysctl(\"a.b.c\", SysctlFlags.RW, \"d\")] static int s_y; [Sysctl(\"a.b\", SysctlFlags.RW, \"d\")] static int s_x; }"));
        Assert.Equal(
            "[Sysctl] on 's_x': Min (10) is greater than Max (1)",
            Message("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"d\", Min = 10, Max = 1)] static int s_x; }"));
    }

    [Fact]
    public void DroppedDuplicateLeavesTheFirstDeclaration()
    {
        GeneratorRun run = Run("partial class C { [Sysctl(\"a.b\", SysctlFlags.RW, \"first\")] static int s_y; [Sysctl(\"a.b\", SysctlFlags.RW, \"second\")] static int s_x; }");
        string text = run.Generated("VimageLinkerSet.g.cs");
        Assert.Contains("\"first\"", text);
        Assert.DoesNotContain("\"second\"", text);
        Assert.DoesNotContain(run.CompilerProblems, d => d.Location.SourceTree?.FilePath.EndsWith(".g.cs", StringComparison.Ordinal) == true);
    }
}
