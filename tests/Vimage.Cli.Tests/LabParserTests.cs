using Vimage.Cli.Lab;
using Vimage.Net.Inet;

namespace Vimage.Cli.Tests;

/// <summary>Topology files: every error at once with its line and column; generators' shapes and address plans.</summary>
public sealed class LabParserTests
{
    private static LabValidationException Invalid(string yaml) =>
        Assert.Throws<LabValidationException>(() => LabParser.Parse("t.yml", yaml));

    private static void HasError(LabValidationException e, int line, int column, string fragment) =>
        Assert.True(e.Errors.Any(x => x.Where.Line == line && x.Where.Column == column && x.Message.Contains(fragment, StringComparison.Ordinal)),
            $"no error at {line}:{column} containing '{fragment}'; got:\n{e.Message}");

    [Fact]
    public void Every_error_is_reported_at_once_with_file_line_and_column()
    {
        const string yaml = """
            name: bad
            nodes:
              a:
                interfaces:
                  eth0: 10.0.0.1/24
                  eth1: 10.0.0.300/24
                  eth2: 10.0.1.1/33
                colour: blue
              b:
                kind: switch
              a:
                interfaces: {eth0: 10.0.2.1/24}
              c: {}
            links:
              - endpoints: ["a:eth0", "b:eth0"]
              - endpoints: ["a:eth0", "c:eth0"]
              - endpoints: ["nosuch:eth0", "c:eth1"]
              - endpoints: ["c:eth2", "c:eth3"]
            """;
        LabValidationException e = Invalid(yaml);
        HasError(e, 6, 13, "bad address '10.0.0.300/24'");
        HasError(e, 7, 13, "bad prefix '/33'");
        HasError(e, 8, 5, "unknown key 'colour'");
        HasError(e, 10, 11, "unknown kind 'switch'");
        HasError(e, 11, 3, "duplicate node name 'a' (first defined at 3:3)");
        HasError(e, 16, 17, "interface a:eth0 used twice");
        HasError(e, 17, 17, "unknown node 'nosuch'");
        HasError(e, 18, 5, "link joins node 'c' to itself");
        Assert.All(e.Errors, x => Assert.Equal("t.yml", x.Where.File));
        Assert.StartsWith("t.yml:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Syntax_errors_and_structural_mistakes_point_at_their_line()
    {
        HasError(Invalid("name: x\nnodes:\n  a: [unclosed\n"), 4, 1, "");
        HasError(Invalid("name: x\nnodes: {a: {}}\nlinks: {a: b}\n"), 3, 8, "links: expected a list");
        HasError(Invalid("nodes: {a: {}}\n"), 1, 1, "missing key 'name'");
        HasError(Invalid("name: x\nnodes:\n  a:\n    interfaces: {eth0: 10.0.0.1/24}\n    routes: [\"default via 192.0.2.1\"]\n  b: {interfaces: {eth0: 10.0.0.2/24}}\nlinks: [{endpoints: [\"a:eth0\", \"b:eth0\"]}]\n"),
            5, 14, "gateway 192.0.2.1");
        HasError(Invalid("name: x\nnodes:\n  a: {interfaces: {eth0: 10.0.0.0/24}}\n  b: {}\nlinks: [{endpoints: [\"a:eth0\", \"b:eth0\"]}]\n"), 3, 26, "network address");
        HasError(Invalid("name: x\nnodes:\n  a: {sysctls: {net.inet.ip.nosuch: 1}}\n"), 3, 17, "unknown sysctl");
        HasError(Invalid("name: x\nnodes: {a: {}, b: {}}\nlinks: [{endpoints: [\"a:e0\", \"b:e0\"], delay: soon}]\n"), 3, 46, "bad impairment");
        HasError(Invalid("name: x\nnodes:\n  a: {interfaces: {eth9: 10.0.0.1/24}}\n"), 3, 20, "is on no link");
    }

    [Fact]
    public void A_valid_file_merges_defaults_kinds_and_nodes()
    {
        LabPlan plan = LabParser.Parse("ok.yml", """
            name: ok
            defaults: {mtu: 1400, sysctls: {net.inet.ip.ttl: 32}}
            kinds:
              router: {base: vnet, sysctls: {net.inet.ip.forwarding: 1}, ipfw: ["add 100 allow ip from any to any"]}
            nodes:
              r: {kind: router, interfaces: {eth0: 10.0.0.1/24}}
              s: {interfaces: {eth0: [10.0.0.2/24, 10.0.9.2/24]}, routes: ["default via 10.0.0.1", "10.1.0.0/16 via 10.0.0.1"]}
            links:
              - {endpoints: ["r:eth0", "s:eth0"], mtu: 9000, delay: 10ms, loss: 1%}
            """);
        LabNode r = plan.ByName["r"], s = plan.ByName["s"];
        Assert.Equal("router", r.Kind);
        Assert.Equal(1400, r.Mtu);
        Assert.Equal(["net.inet.ip.ttl=32", "net.inet.ip.forwarding=1"], r.Sysctls.Select(x => $"{x.Key}={x.Value}"));
        Assert.Single(r.Ipfw);
        Assert.Equal(2, s.Interfaces[0].Addresses.Count);
        Assert.Equal(["default via 10.0.0.1", "10.1.0.0/16 via 10.0.0.1"], s.Routes.Select(x => x.ToString()));
        LabLink link = Assert.Single(plan.Links);
        Assert.Equal(9000, link.Mtu);
        Assert.Equal(["delay", "10ms", "loss", "1%"], link.Impairment.Parameters());
    }

    [Fact]
    public void A_node_of_another_kind_than_the_default_gets_only_its_own_kinds_settings()
    {
        LabPlan plan = LabParser.Parse("k.yml", """
            name: k
            defaults: {kind: router}
            kinds:
              router: {sysctls: {net.inet.ip.forwarding: 1}}
            nodes:
              r: {}
              plain: {kind: vnet}
            """);
        Assert.Equal("router", plan.ByName["r"].Kind);
        Assert.Single(plan.ByName["r"].Sysctls);
        Assert.Equal("vnet", plan.ByName["plain"].Kind);
        Assert.Empty(plan.ByName["plain"].Sysctls);
    }

    [Fact]
    public void Chain_generator_addresses_each_link_and_routes_both_ways()
    {
        LabPlan plan = LabParser.Parse("g.yml", """
            name: g
            generators:
              - {shape: chain, count: 5, prefix: r, subnet: 10.0.0.0/16, routing: static}
            """);
        Assert.Equal(5, plan.Nodes.Count);
        Assert.Equal(4, plan.Links.Count);
        Assert.Equal(["r1", "r2", "r3", "r4", "r5"], plan.Nodes.Select(n => n.Name));
        LabNode r3 = plan.ByName["r3"];
        Assert.Equal(["eth0", "eth1"], r3.Interfaces.Select(i => i.Name));
        Assert.Equal("10.0.0.6/30", r3.Interfaces[0].Addresses[0].ToString()); // link 1, second end
        Assert.Equal("10.0.0.9/30", r3.Interfaces[1].Addresses[0].ToString()); // link 2, first end
        // default to the right, link 0 (10.0.0.0/30) to the left
        Assert.Equal(["default via 10.0.0.10", "10.0.0.0/30 via 10.0.0.5"], r3.Routes.Select(x => x.ToString()));
        Assert.Contains(new KeyValuePair<string, string>("net.inet.ip.forwarding", "1"), r3.Sysctls);
        Assert.Equal(["default via 10.0.0.13"], plan.ByName["r5"].Routes.Select(x => x.ToString()));
        Assert.DoesNotContain(plan.ByName["r1"].Sysctls, s => s.Key == "net.inet.ip.forwarding");
    }

    [Fact]
    public void Tree_star_ring_and_grid_generators_make_their_shapes()
    {
        LabPlan plan = LabParser.Parse("g.yml", """
            name: shapes
            generators:
              - {shape: tree, count: 7, fanout: 2, prefix: t, subnet: 10.1.0.0/24, routing: static}
              - {shape: star, count: 4, prefix: s}
              - {shape: ring, count: 5, prefix: o}
              - {shape: grid, count: 6, columns: 3, prefix: g}
            """);
        Assert.Equal(7 + 4 + 5 + 6, plan.Nodes.Count);
        Assert.Equal(6 + 3 + 5 + 7, plan.Links.Count);
        // tree: t1 is the root with children t2, t3; t2's subtree is t4, t5 (links numbered depth first)
        LabNode root = plan.ByName["t1"];
        Assert.Equal(2, root.Interfaces.Count);
        Assert.DoesNotContain(root.Routes, r => r.Length == 0);
        LabNode t4 = plan.ByName["t4"];
        Assert.Equal(["default via " + t4.Interfaces[0].Link!.AIf.Addresses[0].Address], t4.Routes.Select(x => x.ToString()));
        // the root reaches t2's subtree (links 1 and 2: 10.1.0.4/30, 10.1.0.8/30) as one /29 through t2
        Assert.Contains(root.Routes, r => r.ToString() == "10.1.0.4/30 via 10.1.0.2" || r.ToString() == "10.1.0.8/29 via 10.1.0.2" || r.Destination == InAddr.Parse("10.1.0.4"));
        Assert.Equal(3, plan.ByName["s1"].Interfaces.Count);
        Assert.All(plan.Nodes.Where(n => n.Name.StartsWith('o')), n => Assert.Equal(2, n.Interfaces.Count));
        Assert.Equal(3, plan.ByName["g2"].Interfaces.Count); // left, right, down
    }

    [Fact]
    public void Tree_routes_cover_every_subtree_exactly()
    {
        LabPlan plan = LabParser.Parse("g.yml", "name: t\ngenerators: [{shape: tree, count: 40, fanout: 3, prefix: n, subnet: 10.2.0.0/16, routing: static}]\n");
        // from the root, every address in the lab is reached either directly or through the child whose subtree holds it
        LabNode root = plan.ByName["n1"];
        foreach (LabNode node in plan.Nodes.Skip(1))
        {
            InAddr a = node.Interfaces[0].Addresses[0].Address;
            bool connected = root.Interfaces.Any(i => i.Addresses.Any(p => ((p.Address.Value ^ a.Value) & InAddr.MaskOf(p.Length)) == 0));
            LabRoute? best = root.Routes.Where(r => ((r.Destination.Value ^ a.Value) & InAddr.MaskOf(r.Length)) == 0)
                .OrderByDescending(r => r.Length).Cast<LabRoute?>().FirstOrDefault();
            Assert.True(connected || best is not null, $"root has no route to {node.Name} ({a})");
        }
    }

    [Fact]
    public void Generator_mistakes_are_reported()
    {
        HasError(Invalid("name: x\ngenerators:\n  - {shape: chain, count: 1000, prefix: r, subnet: 10.0.0.0/24}\n"), 3, 52, "holds 64 /30 link networks");
        HasError(Invalid("name: x\ngenerators:\n  - {shape: hexagon, count: 3, prefix: r}\n"), 3, 13, "unknown shape");
        HasError(Invalid("name: x\ngenerators:\n  - {shape: ring, count: 4, prefix: r, subnet: 10.0.0.0/24, routing: static}\n"), 3, 70, "routing: static is computed");
        HasError(Invalid("name: x\nnodes: {r2: {}}\ngenerators:\n  - {shape: chain, count: 3, prefix: r}\n"), 4, 5, "duplicate node name 'r2'");
    }

    [Fact]
    public void Ten_thousand_nodes_are_a_few_lines()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        LabPlan plan = LabParser.Parse("big.yml", "name: big\ngenerators: [{shape: chain, count: 10000, prefix: r, subnet: 10.0.0.0/8, routing: static}]\n");
        Assert.Equal(10_000, plan.Nodes.Count);
        Assert.Equal(9_999, plan.Links.Count);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"parsing took {clock.Elapsed}");
    }
}
