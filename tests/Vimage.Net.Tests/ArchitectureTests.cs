using System.Text.RegularExpressions;

namespace Vimage.Net.Tests;

/// <summary>
/// Keeps Vimage.Net's structure (docs/architecture.md): every file's namespace follows its folder, the namespaces
/// form no cycle, and each one names only layers below it. A namespace names another when a file in it has a
/// using of it, a qualified name through it, or a name through its last segment (what
/// /work/shared/tools/nscycles.py counts).
/// </summary>
public sealed partial class ArchitectureTests
{
    private const string Root = "Vimage.Net";

    /// <summary>The layers, lowest first; a namespace may name only namespaces of a lower rank.</summary>
    private static readonly Dictionary<string, int> Rank = new()
    {
        ["Vimage.Net.Bpf"] = 0,           // capture, under the interface
        ["Vimage.Net"] = 1,               // mbufs, ifnet, errno, sockaddr, callout: the base every layer uses
        ["Vimage.Net.Iflib"] = 2,         // driver framework
        ["Vimage.Net.Pfil"] = 2,          // packet filter hook heads, under ip_input/ip_output
        ["Vimage.Net.Dummynet"] = 3,      // link emulation: pipes and the timer wheel (reinjects through a registered continuation)
        ["Vimage.Net.Netisr"] = 2,        // netisr registration table
        ["Vimage.Net.Route"] = 2,         // family-independent routing (nhop, flags)
        ["Vimage.Net.Sockets"] = 2,       // socket layer, domains, protocol switch
        ["Vimage.Net.Ether"] = 3,         // link layers and drivers
        ["Vimage.Net.Loopback"] = 3,
        ["Vimage.Net.Epair"] = 3,
        ["Vimage.Net.Tap"] = 3,
        ["Vimage.Net.Inet"] = 4,          // the AF_INET domain and its protocols
        ["Vimage.Net.Arp"] = 5,           // IPv4 over Ethernet
        ["Vimage.Net.Tcp.Cc"] = 4,        // congestion-control modules (mod_cc), beneath the tcpcb that calls them
        ["Vimage.Net.Udp"] = 5,           // UDP, an inet protocol registering itself
        ["Vimage.Net.Tcp"] = 5,           // TCP, an inet protocol registering itself
        ["Vimage.Net.Ipfw"] = 5,          // the firewall: a pfil hook over IPv4, feeding dummynet
        ["Vimage.Net.Netdb"] = 5,         // libc's resolver side: the per-vnet hosts table (gethostbyname)
        ["Vimage.Net.Stack"] = 6,         // the composition root
    };

    [Fact]
    public void Namespaces_follow_folders()
    {
        string dir = SourceDir();
        var wrong = new List<string>();
        foreach ((string path, string ns, _) in Files(dir))
        {
            string folder = Path.GetRelativePath(dir, Path.GetDirectoryName(path)!);
            string expected = folder == "." ? Root : Root + "." + folder.Replace(Path.DirectorySeparatorChar, '.');
            if (ns != expected)
            {
                wrong.Add($"{Path.GetRelativePath(dir, path)}: namespace {ns}, folder says {expected}");
            }
        }

        Assert.Empty(wrong);
    }

    [Fact]
    public void Every_namespace_has_a_layer()
    {
        string[] unknown = Files(SourceDir()).Select(f => f.Namespace).Distinct().Where(ns => !Rank.ContainsKey(ns)).ToArray();
        Assert.Empty(unknown);
    }

    [Fact]
    public void Lower_layers_never_name_upper_ones()
    {
        Dictionary<string, HashSet<string>> edges = Edges(SourceDir());
        var upward = new List<string>();
        foreach ((string from, HashSet<string> tos) in edges)
        {
            foreach (string to in tos)
            {
                if (Rank.TryGetValue(from, out int a) && Rank.TryGetValue(to, out int b) && b >= a)
                {
                    upward.Add($"{from} (layer {a}) names {to} (layer {b})");
                }
            }
        }

        Assert.Empty(upward);
    }

    [Fact]
    public void Namespaces_form_no_cycle()
    {
        Assert.Empty(Cycles(Edges(SourceDir())));
    }

    [Fact]
    public void The_cycle_finder_finds_a_cycle()
    {
        var graph = new Dictionary<string, HashSet<string>>
        {
            ["A"] = ["B"],
            ["B"] = ["C"],
            ["C"] = ["A"],
            ["D"] = ["A"],
        };
        List<string[]> cycles = Cycles(graph);
        Assert.Equal(["A", "B", "C"], Assert.Single(cycles));
    }

    private static Dictionary<string, HashSet<string>> Edges(string dir)
    {
        var files = Files(dir).ToList();
        string[] spaces = files.Select(f => f.Namespace).Distinct().ToArray();
        var edges = new Dictionary<string, HashSet<string>>();
        foreach ((_, string ns, string text) in files)
        {
            foreach (string other in spaces)
            {
                if (other == ns || other == Root)
                {
                    continue; // the root namespace is a prefix of every name here: its types are checked below
                }

                string escaped = Regex.Escape(other);
                bool names = Regex.IsMatch(text, $@"\busing\s+{escaped}\s*;|\b{escaped}\.\w");
                if (!names && other.StartsWith(Root + ".", StringComparison.Ordinal))
                {
                    string last = Regex.Escape(other[(Root.Length + 1)..]);
                    names = Regex.IsMatch(text, $@"(?<![\w.]){last}\.[A-Z]\w*");
                }

                if (names && !ns.StartsWith(other + ".", StringComparison.Ordinal))
                {
                    (edges.TryGetValue(ns, out HashSet<string>? set) ? set : edges[ns] = []).Add(other);
                }
            }
        }

        // A child naming the root namespace's types is an edge like any other (C# lets it omit the using).
        string[] rootTypes = files.Where(f => f.Namespace == Root).SelectMany(f => TypeDeclaration().Matches(f.Text).Select(m => m.Groups[1].Value)).Distinct().ToArray();
        var rootType = new Regex($@"\b({string.Join('|', rootTypes)})\b");
        foreach ((_, string ns, string text) in files.Where(f => f.Namespace != Root))
        {
            if (rootType.IsMatch(text))
            {
                (edges.TryGetValue(ns, out HashSet<string>? set) ? set : edges[ns] = []).Add(Root);
            }
        }

        return edges;
    }

    /// <summary>Strongly connected components with more than one member (Tarjan).</summary>
    private static List<string[]> Cycles(Dictionary<string, HashSet<string>> edges)
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var result = new List<string[]>();
        int next = 0;

        void Visit(string v)
        {
            index[v] = low[v] = next++;
            stack.Push(v);
            onStack.Add(v);
            foreach (string w in edges.TryGetValue(v, out HashSet<string>? tos) ? tos : [])
            {
                if (!index.ContainsKey(w))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                {
                    low[v] = Math.Min(low[v], index[w]);
                }
            }

            if (low[v] == index[v])
            {
                var component = new List<string>();
                string w;
                do
                {
                    w = stack.Pop();
                    onStack.Remove(w);
                    component.Add(w);
                }
                while (w != v);
                if (component.Count > 1)
                {
                    result.Add([.. component.Order(StringComparer.Ordinal)]);
                }
            }
        }

        foreach (string v in edges.Keys.Order(StringComparer.Ordinal))
        {
            if (!index.ContainsKey(v))
            {
                Visit(v);
            }
        }

        return result;
    }

    private static IEnumerable<(string Path, string Namespace, string Text)> Files(string dir)
    {
        foreach (string path in Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(dir, path);
            if (rel.StartsWith("obj" + Path.DirectorySeparatorChar, StringComparison.Ordinal) || rel.StartsWith("bin" + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                continue;
            }

            string text = File.ReadAllText(path);
            Match m = NamespaceLine().Match(text);
            if (m.Success)
            {
                yield return (path, m.Groups[1].Value, text);
            }
        }
    }

    /// <summary>src/Vimage.Net, found from the test's output directory upwards.</summary>
    private static string SourceDir()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "src", "Vimage.Net");
            if (File.Exists(Path.Combine(candidate, "Vimage.Net.csproj")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("src/Vimage.Net not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^\s*(?:(?:public|internal|sealed|static|abstract|readonly|partial|file)\s+)+(?:class|struct|enum|interface|record(?:\s+struct|\s+class)?|delegate\s+[\w<>?\[\]]+)\s+(\w+)", RegexOptions.Multiline)]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"^namespace\s+([\w.]+)", RegexOptions.Multiline)]
    private static partial Regex NamespaceLine();
}
