using System.Text.Json;
using System.Xml.Linq;
using Vimage.Cli.Lab;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Tap;

namespace Vimage.Cli.Tests;

/// <summary>lab deploy / inspect / save / graph / destroy through the command dispatcher, as the host runs them.</summary>
public sealed class LabDeployTests : IDisposable
{
    private readonly CliFixture _cli = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("vimage-lab-").FullName;

    public void Dispose()
    {
        LabDeployer.StepHook = null;
        HostNode.UnsupportedOverride = null;
        LabRegistry.For(_cli.Jails).DestroyAll();
        _cli.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    internal const string Demo = """
        name: demo
        kinds:
          router: {base: vnet, sysctls: {net.inet.ip.forwarding: 1}}
        nodes:
          client:
            interfaces: {eth0: 192.0.2.1/24}
            routes: ["default via 192.0.2.2"]
          router:
            kind: router
            interfaces: {eth0: 192.0.2.2/24, eth1: 198.51.100.1/24}
          server:
            interfaces: {eth0: 198.51.100.2/24}
            routes: ["default via 198.51.100.1"]
        links:
          - endpoints: ["client:eth0", "router:eth0"]
          - {endpoints: ["router:eth1", "server:eth0"], mtu: 1400, delay: 5ms}
        """;

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>What a lab leaves behind: vnets, jails, vnet0's interfaces, TAP devices, Linux namespaces and links.</summary>
    private (int Vnets, int Jails, int Vnet0Ifs, int Taps, int Netns, int LinuxLinks) Census()
    {
        int netns = Directory.Exists("/var/run/netns") ? Directory.GetFiles("/var/run/netns").Length : 0;
        int links = Directory.Exists("/sys/class/net") ? Directory.GetDirectories("/sys/class/net").Length : 0;
        return (Vnet.List().Count, _cli.Jails.Count, Ifnets.Of(Vnet.Vnet0).Count, TapLimits.Count, netns, links);
    }

    [SkippableFact]
    public void Deploy_then_ping_through_the_router_then_destroy_leaves_nothing()
    {
        Skip.IfNot(Vnet.IsVimage, "labs are made of vnet jails: needs the VIMAGE build");
        var before = Census();
        string file = Write("demo.yml", Demo);
        string deployed = _cli.Ok($"lab deploy {file}");
        Assert.Matches(@"^lab demo: deployed 3 nodes, 2 links in \d+\.\d+ s", deployed);
        Assert.Equal(before.Vnets + 3, Vnet.List().Count);

        CliResult ping = _cli.Run("jexec client ping -c 1 -W 5000 198.51.100.2");
        Assert.True(ping.Exit == 0, ping.ToString());
        Assert.Contains("1 packets received", ping.Out, StringComparison.Ordinal);
        Assert.Contains("net.inet.ip.forwarding: 1", _cli.Ok("jexec router sysctl net.inet.ip.forwarding"), StringComparison.Ordinal);
        Assert.Contains("mtu 1400", _cli.Ok("jexec router ifconfig eth1"), StringComparison.Ordinal);
        Assert.Contains("pipe", _cli.Ok("jexec router ipfw list"), StringComparison.Ordinal);

        string list = _cli.Ok("lab list");
        Assert.Matches(@"(?m)^demo\s+3\s+2\s", list);

        Assert.Equal("lab demo: destroyed 3 nodes\n", _cli.Ok("lab destroy demo"));
        Assert.Equal(before, Census());
        Assert.Equal(1, _cli.Run("lab inspect demo").Exit);
    }

    [SkippableFact]
    public void Inspect_shows_nodes_interfaces_addresses_and_state_as_a_table_and_as_json()
    {
        Skip.IfNot(Vnet.IsVimage, "needs the VIMAGE build");
        _cli.Ok($"lab deploy {Write("demo.yml", Demo)}");
        string table = _cli.Ok("lab inspect demo");
        Assert.Matches(@"(?m)^client\s+vnet\s+jid \d+\s+running\s+eth0\s+1500 yes 192\.0\.2\.1/24\s+router:eth0", table);
        Assert.Matches(@"(?m)^\s+eth1\s+1400 yes 198\.51\.100\.1/24\s+server:eth0", table);

        using JsonDocument json = JsonDocument.Parse(_cli.Ok("lab inspect demo --json"));
        JsonElement nodes = json.RootElement.GetProperty("nodes");
        Assert.Equal(["client", "router", "server"], nodes.EnumerateArray().Select(n => n.GetProperty("name").GetString()));
        JsonElement router = nodes[1];
        Assert.Equal("router", router.GetProperty("kind").GetString());
        Assert.Equal("running", router.GetProperty("state").GetString());
        Assert.Equal("198.51.100.1/24", router.GetProperty("interfaces")[1].GetProperty("addresses")[0].GetString());
        Assert.Equal("default via 192.0.2.2", nodes[0].GetProperty("routes")[0].GetString());

        // a node removed behind the lab's back shows as removed, and destroy still cleans up
        _cli.Ok("jail -r client");
        Assert.Matches(@"(?m)^client\s+vnet\s+jid \d+\s+removed", _cli.Ok("lab inspect demo"));
        _cli.Ok("lab destroy demo");
    }

    [SkippableFact]
    public void Save_gives_a_file_that_deploys_to_the_same_lab()
    {
        Skip.IfNot(Vnet.IsVimage, "needs the VIMAGE build");
        _cli.Ok($"lab deploy {Write("demo.yml", Demo)}");
        _cli.Ok("jexec server ifconfig eth0 inet 203.0.113.5/24 alias"); // a change made after the deploy is saved too
        string first = Strip(_cli.Ok("lab inspect demo --json"));
        string saved = Path.Combine(_dir, "saved.yml");
        Assert.Equal($"lab demo: saved to {saved}\n", _cli.Ok($"lab save demo -o {saved}"));
        _cli.Ok("lab destroy demo");

        _cli.Ok($"lab deploy {saved}");
        Assert.Equal(first, Strip(_cli.Ok("lab inspect demo --json")));
        Assert.Equal(0, _cli.Run("jexec client ping -c 1 -W 5000 198.51.100.2").Exit);
        Assert.Equal(File.ReadAllText(saved), _cli.Ok("lab save demo").Replace($"deployed from {saved}", $"deployed from {Path.Combine(_dir, "demo.yml")}", StringComparison.Ordinal));

        static string Strip(string json)
        {
            using JsonDocument doc = JsonDocument.Parse(json);
            return string.Join("\n", doc.RootElement.GetProperty("nodes").EnumerateArray().Select(n =>
                $"{n.GetProperty("name")} {n.GetProperty("kind")} {n.GetProperty("state")} {n.GetProperty("interfaces")} {n.GetProperty("routes")}"));
        }
    }

    [SkippableFact]
    public void A_failure_half_way_tears_down_everything_made_so_far()
    {
        Skip.IfNot(Vnet.IsVimage, "needs the VIMAGE build");
        var before = Census();
        // the last node's start-up command fails: by then every jail, epair, address and route exists
        string file = Write("fail.yml", Demo + "\n" + """
            generators:
              - {shape: chain, count: 20, prefix: f, subnet: 10.9.0.0/16, routing: static}
            """.Replace("nodes:", "nodes:", StringComparison.Ordinal));
        string text = File.ReadAllText(file).Replace("    routes: [\"default via 198.51.100.1\"]",
            "    routes: [\"default via 198.51.100.1\"]\n    exec: [\"route add 203.0.113.0/24 10.99.99.99\"]", StringComparison.Ordinal);
        File.WriteAllText(file, text);
        CliResult r = _cli.Run($"lab deploy {file}");
        Assert.Equal(1, r.Exit);
        Assert.Contains("node server: 'route add 203.0.113.0/24 10.99.99.99' failed", r.Err, StringComparison.Ordinal);
        Assert.Contains("Network is unreachable", r.Err, StringComparison.Ordinal);
        Assert.Equal(before, Census());
        Assert.Equal(1, _cli.Run("lab inspect demo").Exit);

        // and at every other step, through the test hook
        text = text.Replace("    exec: [\"route add 203.0.113.0/24 10.99.99.99\"]\n", "", StringComparison.Ordinal);
        File.WriteAllText(file, text);
        foreach (string step in new[] { "nodes", "links", "addresses", "routes", "sysctls", "impairments", "ipfw", "exec", "done" })
        {
            LabDeployer.StepHook = s =>
            {
                if (s == step)
                {
                    throw new Vimage.Cli.Commands.CommandException($"lab: injected failure at {s}");
                }
            };
            CliResult injected = _cli.Run($"lab deploy {file}");
            Assert.True(injected.Exit == 1, $"step {step}: {injected}");
            Assert.True(injected.Err.Contains($"injected failure at {step}", StringComparison.Ordinal), injected.ToString());
            Assert.Equal(before, Census());
        }

        LabDeployer.StepHook = null;
        _cli.Ok($"lab deploy {file}");
        Assert.Equal(before.Vnets + 23, Vnet.List().Count);
        _cli.Ok("lab destroy demo");
        Assert.Equal(before, Census());
    }

    [SkippableFact]
    public void Nothing_is_made_when_a_name_is_taken_or_the_file_is_invalid()
    {
        Skip.IfNot(Vnet.IsVimage, "needs the VIMAGE build");
        _cli.Ok("jail -c name=router vnet");
        var before = Census();
        CliResult taken = _cli.Run($"lab deploy {Write("demo.yml", Demo)}");
        Assert.Equal(1, taken.Exit);
        Assert.Contains("node router: a jail or node of that name already exists", taken.Err, StringComparison.Ordinal);
        Assert.Equal(before, Census());

        CliResult invalid = _cli.Run($"lab deploy {Write("bad.yml", "name: bad\nnodes:\n  a: {interfaces: {eth0: 1.2.3/24}}\n  b: {}\nlinks: [{endpoints: [\"a:eth0\", \"b:eth0\"]}]\n")}");
        Assert.Equal(1, invalid.Exit);
        Assert.Contains("bad.yml:3:26: bad address '1.2.3/24'", invalid.Err, StringComparison.Ordinal);
        Assert.Contains("1 error, nothing deployed", invalid.Err, StringComparison.Ordinal);
        Assert.Equal(before, Census());
        Assert.Equal(64, _cli.Run("lab").Exit);
        Assert.Equal(64, _cli.Run("lab frobnicate").Exit);
    }

    [SkippableFact]
    public void Graph_is_dot_on_stdout_and_a_well_formed_svg_naming_every_node()
    {
        Skip.IfNot(Vnet.IsVimage, "needs the VIMAGE build");
        string file = Write("g.yml", Demo + "\ngenerators:\n  - {shape: tree, count: 15, fanout: 2, prefix: t, subnet: 10.8.0.0/24}\n");
        _cli.Ok($"lab deploy {file}");
        string dot = _cli.Ok("lab graph demo");
        Assert.StartsWith("graph \"demo\" {", dot, StringComparison.Ordinal);
        Assert.Contains("\"client\" -- \"router\" [taillabel=\"eth0\", headlabel=\"eth0\", label=\"192.0.2.0/24\"];", dot, StringComparison.Ordinal);
        Assert.Contains("label=\"198.51.100.0/24 delay 5ms\"", dot, StringComparison.Ordinal);

        string svgPath = Path.Combine(_dir, "demo.svg");
        _cli.Ok($"lab graph demo -o {svgPath}");
        XDocument svg = XDocument.Load(svgPath); // throws if not well-formed
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        var texts = svg.Descendants(ns + "text").Select(t => t.Value).ToHashSet();
        string[] names = ["client", "router", "server", .. Enumerable.Range(1, 15).Select(i => $"t{i}")];
        Assert.All(names, n => Assert.Contains(n, texts));
        Assert.Equal(names.Length, svg.Descendants(ns + "g").Count(g => (string?)g.Attribute("class") == "node"));
        Assert.Equal(2 + 14, svg.Descendants(ns + "line").Count());
        CliResult unwritable = _cli.Run($"lab graph demo -o {_dir}/no/such/dir/x.svg");
        Assert.Equal(1, unwritable.Exit);
        Assert.StartsWith("lab: ", unwritable.Err, StringComparison.Ordinal);
        // deterministic
        string again = Path.Combine(_dir, "again.svg");
        _cli.Ok($"lab graph demo -o {again}");
        Assert.Equal(File.ReadAllText(svgPath), File.ReadAllText(again));
    }

    [SkippableFact]
    public void A_ping_crosses_a_chain_of_100_routers()
    {
        Skip.IfNot(Vnet.IsVimage, "needs the VIMAGE build");
        // 100 routers would exhaust the default TTL of 64 both ways: the server answers with 255, ping sends 255
        string file = Write("chain.yml", "name: chain100\ndefaults: {sysctls: {net.inet.ip.ttl: 255}}\n" +
            "generators:\n  - {shape: chain, count: 102, prefix: c, subnet: 10.0.0.0/16, routing: static}\n");
        _cli.Ok($"lab deploy {file}");
        // c1 is the client, c2..c101 the 100 routers, c102 the server: link 100's second end, 10.0.0.0 + 100*4 + 2
        CliResult ping = _cli.Run("jexec c1 ping -c 1 -m 255 -W 10000 10.0.1.146");
        Assert.True(ping.Exit == 0, ping.ToString());
        Assert.Contains("ttl=155 ", ping.Out, StringComparison.Ordinal); // 255 less one per router on the way back
        _cli.Ok("lab destroy chain100");
    }

    [Fact]
    public void Host_nodes_without_root_fail_with_a_clear_error_naming_the_node()
    {
        HostNode.UnsupportedOverride = "host nodes need root (test)";
        var before = Census();
        CliResult r = _cli.Run($"lab deploy {Write("h.yml", HostLab)}");
        Assert.Equal(1, r.Exit);
        Assert.Contains("node linux is a host node, which cannot be made here: host nodes need root (test)", r.Err, StringComparison.Ordinal);
        Assert.Equal(before, Census());
    }

    internal const string HostLab = """
        name: hostlab
        kinds:
          router: {base: vnet, sysctls: {net.inet.ip.forwarding: 1}}
        nodes:
          linux:
            kind: host
            interfaces: {eth0: 192.0.2.10/24}
            routes: ["default via 192.0.2.1"]
          router:
            kind: router
            interfaces: {eth0: 192.0.2.1/24, eth1: 198.51.100.1/24}
          server:
            interfaces: {eth0: 198.51.100.2/24}
            routes: ["default via 198.51.100.1"]
        links:
          - endpoints: ["linux:eth0", "router:eth0"]
          - endpoints: ["router:eth1", "server:eth0"]
        """;

    [SkippableFact]
    public void A_Linux_host_node_pings_a_vnet_node_across_a_router()
    {
        Skip.IfNot(Vnet.IsVimage, "needs the VIMAGE build");
        string? reason = HostNode.UnsupportedReason();
        Skip.If(reason is not null, reason);
        Skip.If(!File.Exists("/bin/ping") && !File.Exists("/usr/bin/ping"), "host node test needs Linux's ping (iputils-ping)");
        var before = Census();
        string lab = HostLab.Replace("    routes: [\"default via 192.0.2.1\"]", "    routes: [\"default via 192.0.2.1\"]\n    exec: [\"sleep 300 &\"]", StringComparison.Ordinal);
        _cli.Ok($"lab deploy {Write("h.yml", lab)}");
        Assert.True(File.Exists("/var/run/netns/vimage-hostlab-linux"));
        // the background start-up command runs in the namespace until the lab goes
        int sleeper = 0;
        Assert.True(CliFixture.WaitFor(() =>
        {
            (int exit, string pids) = HostNode.RunCaptured("ip", ["netns", "pids", "vimage-hostlab-linux"]);
            return exit == 0 && int.TryParse(pids.Split('\n')[0].Trim(), out sleeper);
        }), "no process in the namespace");

        CliResult ping = _cli.Run("jexec linux ping -c 1 -W 5 198.51.100.2");
        Assert.True(ping.Exit == 0, ping.ToString());
        Assert.Contains("1 received", ping.Out, StringComparison.Ordinal);
        // the real Linux program runs in the namespace: it sees eth0 with the file's address
        Assert.Contains("192.0.2.10/24", _cli.Ok("jexec linux ip -4 addr show dev eth0"), StringComparison.Ordinal);
        Assert.Matches(@"(?m)^linux\s+host\s+netns vimage-hostlab-linux\s+running\s+eth0\s+1500 yes 192\.0\.2\.10/24\s+router:eth0", _cli.Ok("lab inspect hostlab"));
        Assert.Contains("kind: \"host\"", _cli.Ok("lab save hostlab"), StringComparison.Ordinal);

        _cli.Ok("lab destroy hostlab");
        Assert.False(File.Exists("/var/run/netns/vimage-hostlab-linux"));
        Assert.True(CliFixture.WaitFor(() => !IsSleeping(sleeper)), "the background command outlived its lab");

        static bool IsSleeping(int pid)
        {
            try
            {
                return File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("sleep", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        }
        Assert.Equal(before, Census());
    }

    [SkippableFact]
    public void A_failing_host_node_start_up_command_removes_its_namespace_and_taps()
    {
        Skip.IfNot(Vnet.IsVimage, "needs the VIMAGE build");
        string? reason = HostNode.UnsupportedReason();
        Skip.If(reason is not null, reason);
        var before = Census();
        string text = HostLab.Replace("    routes: [\"default via 192.0.2.1\"]", "    routes: [\"default via 192.0.2.1\"]\n    exec: [\"exit 3\"]", StringComparison.Ordinal);
        CliResult r = _cli.Run($"lab deploy {Write("h.yml", text)}");
        Assert.Equal(1, r.Exit);
        Assert.Contains("host node linux: exec 'exit 3' failed (exit 3)", r.Err, StringComparison.Ordinal);
        Assert.False(File.Exists("/var/run/netns/vimage-hostlab-linux"));
        Assert.Equal(before, Census());
    }

    [SkippableFact]
    public void Labs_need_the_vimage_build()
    {
        Skip.If(Vnet.IsVimage, "this build has VIMAGE: labs work");
        CliResult r = _cli.Run($"lab deploy {Write("demo.yml", Demo)}");
        Assert.Equal(1, r.Exit);
        Assert.Contains("labs need vnet jails, and this build has -p:Vimage=false", r.Err, StringComparison.Ordinal);
        Assert.Contains("lab demo: 3 nodes, 2 links: OK", _cli.Ok($"lab validate {Path.Combine(_dir, "demo.yml")}"), StringComparison.Ordinal);
    }
}
