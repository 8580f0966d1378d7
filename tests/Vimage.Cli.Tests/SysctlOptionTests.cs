namespace Vimage.Cli.Tests;

/// <summary>sysctl(8)'s -i -q -e -A, several names and name=value lists in one call.</summary>
public sealed class SysctlOptionTests
{
    [Fact]
    public void Several_names_in_one_call()
        => Assert.Equal("net.inet.ip.ttl: 64\nnet.inet.ip.forwarding: 0\n", new CliFixture().Ok("sysctl net.inet.ip.ttl net.inet.ip.forwarding"));

    [Fact]
    public void Name_value_list_sets_each()
    {
        using var cli = new CliFixture();
        try
        {
            Assert.Equal("net.inet.ip.ttl: 64 -> 33\nnet.inet.ip.ttl: 33 -> 34\n", cli.Ok("sysctl net.inet.ip.ttl=33 net.inet.ip.ttl=34"));
        }
        finally
        {
            cli.Ok("sysctl net.inet.ip.ttl=64");
        }
    }

    [Fact]
    public void Ignore_unknown_names()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("sysctl -i no.such.oid net.inet.ip.ttl");
        Assert.Equal(0, r.Exit);
        Assert.Equal("net.inet.ip.ttl: 64\n", r.Out);
        Assert.Equal("", r.Err);
    }

    [Fact]
    public void Quiet_hides_the_error_not_the_status()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("sysctl -q no.such.oid");
        Assert.Equal(1, r.Exit);
        Assert.Equal("", r.Err);
        Assert.Equal("sysctl: unknown oid 'no.such.oid'\n", cli.Run("sysctl no.such.oid").Err);
    }

    [Fact]
    public void Equals_separator()
        => Assert.Equal("net.inet.ip.ttl=64\n", new CliFixture().Ok("sysctl -e net.inet.ip.ttl"));

    [Fact]
    public void Capital_a_lists_everything_with_opaque()
        => Assert.Contains("net.inet.ip.ttl: 64\n", new CliFixture().Ok("sysctl -A"));
}
