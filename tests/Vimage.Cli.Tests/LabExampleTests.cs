using Vimage.Cli.Lab;
using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>The lab files in examples/: all valid; the small vnet-only ones deploy, behave, and leave nothing.</summary>
public sealed class LabExampleTests : IDisposable
{
    private readonly CliFixture _cli = new();

    public void Dispose()
    {
        LabRegistry.For(_cli.Jails).DestroyAll();
        _cli.Dispose();
    }

    private static string Examples()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "examples");
            if (File.Exists(Path.Combine(candidate, "demo.yml")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("examples/ not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void Every_example_validates()
    {
        string[] files = Directory.GetFiles(Examples(), "*.yml");
        Assert.True(files.Length >= 8, string.Join(", ", files));
        foreach (string file in files)
        {
            LabPlan plan = LabParser.ParseFile(file);
            Assert.NotEmpty(plan.Nodes);
        }

        Assert.Equal(10_000, LabParser.ParseFile(Path.Combine(Examples(), "chain10k.yml")).Nodes.Count);
        Assert.Equal(10_000, LabParser.ParseFile(Path.Combine(Examples(), "tree10k.yml")).Nodes.Count);
        Assert.Contains(LabParser.ParseFile(Path.Combine(Examples(), "host.yml")).Nodes, n => n.Base == NodeBase.Host);
    }

    [SkippableFact]
    public void The_scenario_labs_behave_like_their_scripts()
    {
        Skip.IfNot(Vnet.IsVimage, "labs need the VIMAGE build");
        int vnets = Vnet.List().Count;
        string dir = Examples();

        _cli.Ok($"lab deploy {dir}/forward_fast.yml");
        Assert.Equal(0, _cli.Run("jexec client ping -c 1 -W 5000 198.51.100.2").Exit);
        Assert.Contains("2 packets forwarded (2 packets fast forwarded)", _cli.Ok("jexec router netstat -sp ip"), StringComparison.Ordinal);
        _cli.Ok("lab destroy forward_fast");

        _cli.Ok($"lab deploy {dir}/blackhole.yml");
        Assert.Equal(2, _cli.Run("jexec client ping -c 1 -W 500 198.51.100.2").Exit);
        Assert.Contains("1 packet not forwardable", _cli.Ok("jexec router netstat -sp ip"), StringComparison.Ordinal);
        _cli.Ok("lab destroy blackhole");

        _cli.Ok($"lab deploy {dir}/arp_per_vnet.yml");
        Assert.Contains("90:10:00:01:02:03", _cli.Ok("jexec alpha arp -an"), StringComparison.Ordinal);
        Assert.DoesNotContain("90:10:00:01:02:03", _cli.Ok("jexec beta arp -an"), StringComparison.Ordinal);
        _cli.Ok("lab destroy arp_per_vnet");

        _cli.Ok($"lab deploy {dir}/demo.yml");
        Assert.Equal(0, _cli.Run("jexec client ping -c 1 -W 5000 198.51.100.2").Exit);
        _cli.Ok("lab destroy demo");

        _cli.Ok($"lab deploy {dir}/impaired.yml");
        string pipes = _cli.Ok("jexec left ipfw pipe show");
        Assert.Contains("100.000 Mbit/s", pipes, StringComparison.Ordinal);
        Assert.Contains("20 ms", pipes, StringComparison.Ordinal);
        _cli.Ok("lab destroy impaired");

        Assert.Equal(vnets, Vnet.List().Count);
    }
}
