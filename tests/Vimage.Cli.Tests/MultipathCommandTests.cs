using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>
/// route(8) with multipath (net.route.multipath=1, FreeBSD 14's default): a second gateway for a prefix is a second
/// path, each listed by netstat -rn, each deleted by its gateway. VIMAGE: in a vnet jail; without: in vnet0.
/// </summary>
public sealed class MultipathCommandTests
{
    [Fact]
    public void A_prefix_takes_several_gateways_and_loses_them_one_by_one()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        string p = "";
        if (Vnet.IsVimage)
        {
            cli.Ok($"jail -c name=mpj vnet vnet.interface={e}a");
            p = "jexec mpj ";
        }

        try
        {
            cli.Ok($"{p}ifconfig {e}a inet 192.0.2.1/24 up");
            Assert.Equal("1\n", cli.Ok(p + "sysctl -n net.route.multipath"));
            Assert.Equal("add net 198.51.100.0: gateway 192.0.2.2\n", cli.Ok(p + "route add -net 198.51.100.0/24 192.0.2.2 -weight 2"));
            Assert.Equal("add net 198.51.100.0: gateway 192.0.2.3\n", cli.Ok(p + "route add -net 198.51.100.0/24 192.0.2.3"));
            string[] paths = cli.Ok(p + "netstat -rn").Split('\n').Where(l => l.StartsWith("198.51.100.0/24 ", StringComparison.Ordinal)).ToArray();
            Assert.Equal(2, paths.Length);
            Assert.Contains(paths, l => l.Contains("192.0.2.2", StringComparison.Ordinal));
            Assert.Contains(paths, l => l.Contains("192.0.2.3", StringComparison.Ordinal));

            CliResult dup = cli.Run(p + "route add -net 198.51.100.0/24 192.0.2.3");
            Assert.Equal(1, dup.Exit);
            Assert.Equal("add net 198.51.100.0: gateway 192.0.2.3 fib 0: route already in table\n", dup.Out);

            Assert.Equal("delete net 198.51.100.0: gateway 192.0.2.2\n", cli.Ok(p + "route delete -net 198.51.100.0/24 192.0.2.2"));
            string left = Assert.Single(cli.Ok(p + "netstat -rn").Split('\n'), l => l.StartsWith("198.51.100.0/24 ", StringComparison.Ordinal));
            Assert.Contains("192.0.2.3", left, StringComparison.Ordinal);

            cli.Ok(p + "sysctl net.route.multipath=0");
            Assert.Equal("add net 198.51.100.0: gateway 192.0.2.2 fib 0: route already in table\n", cli.Run(p + "route add -net 198.51.100.0/24 192.0.2.2").Out);
            Assert.Equal("delete net 198.51.100.0\n", cli.Ok(p + "route delete -net 198.51.100.0/24"));
        }
        finally
        {
            cli.Run(p + "sysctl net.route.multipath=1");
        }
    }
}
