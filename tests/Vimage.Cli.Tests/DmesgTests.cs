using Vimage.Cli.Commands;

namespace Vimage.Cli.Tests;

/// <summary>dmesg(8) over the host's message buffer (the stacks' log(9) lines).</summary>
public sealed class DmesgTests
{
    [Fact]
    public void Prints_clears_and_bounds_the_buffer()
    {
        using var cli = new CliFixture();
        cli.Ok("dmesg -c");
        KernelLog.Append("arp: test line one");
        KernelLog.Append("arp: test line two");
        Assert.Equal("arp: test line one\narp: test line two\n", cli.Ok("dmesg -a"));
        Assert.Equal("arp: test line one\narp: test line two\n", cli.Ok("dmesg -c"));
        Assert.Equal("", cli.Ok("dmesg"));

        for (int i = 0; i < KernelLog.Capacity + 10; i++)
        {
            KernelLog.Append($"line {i}");
        }

        string[] lines = cli.Ok("dmesg -c").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(KernelLog.Capacity, lines.Length);
        Assert.Equal("line 10", lines[0]); // the oldest went first
        Assert.Equal(1, cli.Run("dmesg -M core").Exit);
    }
}
