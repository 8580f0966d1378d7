namespace Vimage.Cli.Tests;

public sealed class RouteTests
{
    private static string Setup(CliFixture cli)
    {
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        return e;
    }

    [Fact]
    public void Add_net_get_and_delete()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        Assert.Equal("add net 198.51.100.0: gateway 192.0.2.2\n", cli.Ok("route add -net 198.51.100.0/24 192.0.2.2"));

        string get = cli.Ok("route get 198.51.100.2");
        Assert.StartsWith(
            "   route to: 198.51.100.2\n" +
            "destination: 198.51.100.0\n" +
            "       mask: 255.255.255.0\n" +
            "    gateway: 192.0.2.2\n" +
            "        fib: 0\n" +
            $"  interface: {e}a\n" +
            "      flags: <UP,GATEWAY,DONE,STATIC>\n" +
            " recvpipe  sendpipe  ssthresh  rtt,msec    mtu        weight    expire\n", get);
        Assert.EndsWith("      1500         1         0 \n", get);

        Assert.Equal("delete net 198.51.100.0\n", cli.Ok("route delete 198.51.100.0/24"));
        CliResult again = cli.Run("route delete 198.51.100.0/24");
        Assert.Equal(1, again.Exit);
        Assert.Equal("route: route has not been found\n", again.Err); // rtmsg's ESRCH warning
        Assert.Equal("delete net 198.51.100.0 fib 0: not in table\n", again.Out); // newroute's printf
    }

    [Fact]
    public void Default_host_and_classful_net()
    {
        using var cli = new CliFixture();
        Setup(cli);
        Assert.Equal("add net default: gateway 192.0.2.254\n", cli.Ok("route add default 192.0.2.254"));
        Assert.Equal("add host 203.0.113.7: gateway 192.0.2.3\n", cli.Ok("route -n add -host 203.0.113.7 192.0.2.3"));
        Assert.Equal("add net 10.0.0.0: gateway 192.0.2.4\n", cli.Ok("route add -net 10.0.0.0 192.0.2.4"));

        string get = cli.Ok("route -n get 203.0.113.99");
        Assert.Contains("destination: default\n       mask: default\n    gateway: 192.0.2.254\n", get);
        Assert.Contains("destination: 203.0.113.7\n    gateway: 192.0.2.3\n", cli.Ok("route get 203.0.113.7"));
        Assert.Contains("      flags: <UP,GATEWAY,HOST,DONE,STATIC>\n", cli.Ok("route get 203.0.113.7"));
        Assert.Contains("       mask: 255.0.0.0\n", cli.Ok("route get 10.1.2.3"));

        string table = cli.Ok("netstat -rn");
        Assert.Contains("\ndefault            192.0.2.254        UGS ", table);
        Assert.Contains("\n203.0.113.7        192.0.2.3          UGHS", table);
        Assert.Contains("\n10.0.0.0/8         192.0.2.4          UGS ", table);

        Assert.Equal("delete net default\n", cli.Ok("route delete default"));
        Assert.Equal("delete host 203.0.113.7\n", cli.Ok("route delete 203.0.113.7"));
    }

    [Fact]
    public void Connected_route_get_has_no_gateway()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        string get = cli.Ok("route get 192.0.2.77");
        Assert.StartsWith($"   route to: 192.0.2.77\ndestination: 192.0.2.0\n       mask: 255.255.255.0\n        fib: 0\n  interface: {e}a\n      flags: <UP,DONE,PINNED>\n", get);
    }

    [Fact]
    public void Errors_exist_unreachable_and_not_found()
    {
        using var cli = new CliFixture();
        Setup(cli);
        cli.Ok("route add 198.51.100.0/24 192.0.2.2");
        CliResult dup = cli.Run("route add 198.51.100.0/24 192.0.2.2"); // the same gateway: another would be a second path (multipath)
        Assert.Equal(1, dup.Exit);
        Assert.Equal("", dup.Err); // rtmsg leaves EEXIST to newroute, which prints on stdout
        Assert.Equal("add net 198.51.100.0: gateway 192.0.2.2 fib 0: route already in table\n", dup.Out);

        CliResult unreachable = cli.Run("route add 10.20.0.0/16 10.9.9.9");
        Assert.Equal(1, unreachable.Exit);
        Assert.Equal("route: writing to routing socket: Network is unreachable\n", unreachable.Err);
        Assert.Equal("add net 10.20.0.0: gateway 10.9.9.9 fib 0: Network is unreachable\n", unreachable.Out);

        CliResult none = cli.Run("route get 203.0.113.99");
        Assert.Equal(1, none.Exit);
        Assert.Equal("route: route has not been found\n", none.Err);

        CliResult quiet = cli.Run("route -q add 198.51.100.0/24 192.0.2.2");
        Assert.Equal(1, quiet.Exit);
        Assert.Equal("", quiet.Err);
        Assert.Equal("", quiet.Out);
    }

    [Fact]
    public void Blackhole_reject_and_interface_routes()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        Assert.Equal("add host 198.51.100.2\n", cli.Ok("route add 198.51.100.2 -blackhole -fib 0"));
        Assert.Equal("add net 198.51.101.0\n", cli.Ok("route add 198.51.101.0/24 -reject"));
        Assert.Equal($"add net 203.0.113.0: gateway {e}a\n", cli.Ok($"route add 203.0.113.0/24 -interface {e}a"));

        string table = cli.Ok("netstat -rn");
        Assert.Matches(@"\n198\.51\.100\.2 +link#\d+ +UHSB +lo0\n", table);
        Assert.Matches(@"\n198\.51\.101\.0/24 +link#\d+ +URS +lo0\n", table);
        Assert.Matches($@"\n203\.0\.113\.0/24 +link#\d+ +US +{e}a\n", table);
        Assert.Contains("      flags: <UP,HOST,DONE,STATIC,BLACKHOLE>\n", cli.Ok("route get 198.51.100.2"));

        Assert.Equal("delete host 198.51.100.2\n", cli.Ok("route delete 198.51.100.2"));

        int n = int.Parse(cli.Ok("sysctl -n net.fibs").Trim(), System.Globalization.CultureInfo.InvariantCulture); // vnet0's may have grown (FibCommandTests)
        CliResult fib = cli.Run($"route add 198.51.100.9 -blackhole -fib {n}");
        Assert.Equal(64, fib.Exit); // errx(EX_USAGE, "invalid fib number: %s"): a fib at or above net.fibs
        Assert.Equal($"route: invalid fib number: {n}\n", fib.Err);
    }

    [Fact]
    public void Flush_removes_gateway_routes()
    {
        using var cli = new CliFixture();
        Setup(cli);
        cli.Ok("route add default 192.0.2.254");
        cli.Ok("route add 198.51.100.0/24 192.0.2.2");
        string flushed = cli.Ok("route -n flush");
        Assert.Contains("default              192.0.2.254          -fib 0   done\n", flushed);
        Assert.Contains("198.51.100           192.0.2.2            -fib 0   done\n", flushed); // netname(): trailing zero octets dropped
        Assert.DoesNotContain("192.0.2.254", cli.Ok("netstat -rn"));
        Assert.Contains("192.0.2.0/24", cli.Ok("netstat -rn")); // connected routes stay
    }

    [Fact]
    public void Usage_errors()
    {
        using var cli = new CliFixture();
        foreach (string line in new[] { "route", "route add", "route frob 1.2.3.4", "route -x get 1.2.3.4", "route add 198.51.100.0/24", "route get", "route add 1.2.3.4 -bogus 5.6.7.8" })
        {
            CliResult r = cli.Run(line);
            Assert.True(r.Exit == 64, $"{line}: {r}");
            Assert.Contains("usage: route", r.Err);
        }

        CliResult badAddress = cli.Run("route add 300.1.1.1 192.0.2.1");
        Assert.Equal(1, badAddress.Exit);
        Assert.Equal("route: bad address: 300.1.1.1\n", badAddress.Err);
    }
}
