using Vimage.Core;
using Vimage.Net;

namespace Vimage.Cli.Tests;

/// <summary>dmesg(8) over the message buffers (the stacks' log(9) lines): each vnet's own, the host's with all.</summary>
public sealed class DmesgTests
{
    [Fact]
    public void Prints_clears_and_bounds_the_buffer()
    {
        using var cli = new CliFixture();
        cli.Ok("dmesg -c");
        Log(Vnet.Vnet0, "arp: test line one");
        Log(Vnet.Vnet0, "arp: test line two");
        Assert.Equal("arp: test line one\narp: test line two\n", cli.Ok("dmesg -a"));
        Assert.Equal("arp: test line one\narp: test line two\n", cli.Ok("dmesg -c"));
        Assert.Equal("", cli.Ok("dmesg"));

        for (int i = 0; i < MsgBuf.Capacity + 10; i++)
        {
            Log(Vnet.Vnet0, $"line {i}");
        }

        string[] lines = cli.Ok("dmesg -c").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(MsgBuf.Capacity, lines.Length);
        Assert.Equal("line 10", lines[0]); // the oldest went first
        Assert.Equal(1, cli.Run("dmesg -M core").Exit);
    }

    [SkippableFact]
    public void A_jail_reads_its_own_lines_and_the_host_reads_every_jails()
    {
        Skip.IfNot(Vnet.IsVimage, "jails need the VIMAGE build");
        using var cli = new CliFixture();
        cli.Ok("jail -c name=dm1 vnet");
        cli.Ok("jail -c name=dm2 vnet");
        cli.Ok("dmesg -c");
        Log(cli.Jails.Find("dm1").Vnet, "ipfw: from dm1");
        Log(cli.Jails.Find("dm2").Vnet, "ipfw: from dm2");
        Assert.Equal("ipfw: from dm1\n", cli.Ok("jexec dm1 dmesg"));
        Assert.Equal("ipfw: from dm2\n", cli.Ok("jexec dm2 dmesg -c"));
        Assert.Equal("", cli.Ok("jexec dm2 dmesg"));
        Assert.Equal("ipfw: from dm1\nipfw: from dm2\n", cli.Ok("dmesg -c"));
        Assert.Equal("ipfw: from dm1\n", cli.Ok("jexec dm1 dmesg")); // the host's -c clears only the host's
    }

    private static void Log(Vnet vnet, string line)
    {
        using (Curvnet.Set(vnet))
        {
            MsgBuf.Log(line);
        }
    }
}
