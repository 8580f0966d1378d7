namespace Vimage.Cli.Tests;

/// <summary>sysctl(8) on the congestion-control knobs: cc_default_algo's answers as the tool prints them.</summary>
public sealed class TcpSysctlCliTests
{
    [Fact]
    public void CcAlgorithmIsSetByNameAndAnUnknownNameChangesNothing()
    {
        using var cli = new CliFixture();
        Assert.Equal("net.inet.tcp.cc.available: newreno, cubic\n", cli.Ok("sysctl net.inet.tcp.cc.available"));
        string before = cli.Ok("sysctl -n net.inet.tcp.cc.algorithm").Trim();
        try
        {
            CliResult bad = cli.Run("sysctl net.inet.tcp.cc.algorithm=bbr");
            Assert.Equal((1, "sysctl: net.inet.tcp.cc.algorithm=bbr: No such process\n"), (bad.Exit, bad.Err));
            Assert.Equal(before + "\n", cli.Ok("sysctl -n net.inet.tcp.cc.algorithm"));
            Assert.Equal($"net.inet.tcp.cc.algorithm: {before} -> newreno\n", cli.Ok("sysctl net.inet.tcp.cc.algorithm=newreno"));
            Assert.NotEqual(0, cli.Run("sysctl net.inet.tcp.cc.available=cubic").Exit);
        }
        finally
        {
            cli.Ok($"sysctl net.inet.tcp.cc.algorithm={before}");
        }
    }
}
