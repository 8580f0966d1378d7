using Vimage.Cli.Commands;

namespace Vimage.Cli.Tests;

/// <summary>The shared getopt(3): clustering, attached and separate arguments, "--", "-", getopt's messages.</summary>
public sealed class GetoptTests
{
    private static List<string> Parse(string optstring, params string[] args)
    {
        var seen = new List<string>();
        var g = new Getopt("t", args, optstring);
        for (int ch; (ch = g.Next()) != -1;)
        {
            seen.Add(g.Optarg is null ? ((char)ch).ToString() : $"{(char)ch}={g.Optarg}");
        }

        seen.Add("|" + string.Join(",", g.Operands));
        return seen;
    }

    [Fact]
    public void Clustered_flags_and_an_attached_argument()
        => Assert.Equal(["n", "c=1", "|h"], Parse("nc:", "-nc1", "h"));

    [Fact]
    public void Separate_argument_even_when_it_starts_with_a_dash()
        => Assert.Equal(["c=-5", "|h"], Parse("c:", "-c", "-5", "h"));

    [Fact]
    public void Double_dash_ends_options_and_is_consumed()
        => Assert.Equal(["n", "|-c,1"], Parse("nc:", "-n", "--", "-c", "1"));

    [Fact]
    public void First_operand_stops_parsing_without_permutation()
        => Assert.Equal(["n", "|h,-c,1"], Parse("nc:", "-n", "h", "-c", "1"));

    [Fact]
    public void Lone_dash_is_an_operand()
        => Assert.Equal(["|-,x"], Parse("n", "-", "x"));

    [Fact]
    public void Illegal_option_is_getopts_message()
    {
        var e = Assert.Throws<UsageException>(() => Parse("nc:", "-nx"));
        Assert.Equal("t: illegal option -- x", e.Message);
    }

    [Fact]
    public void Missing_argument_is_getopts_message()
    {
        var e = Assert.Throws<UsageException>(() => Parse("nc:", "-nc"));
        Assert.Equal("t: option requires an argument -- c", e.Message);
    }

    [Fact]
    public void Colon_is_never_an_option()
        => Assert.Throws<UsageException>(() => Parse("c:", "-:"));

    [Fact]
    public void Long_options_only_when_listed()
    {
        var longs = new Dictionary<string, bool> { ["duration"] = true };
        var g = new Getopt("t", ["--duration=5", "--duration", "6"], "n", longs);
        Assert.Equal(Getopt.LongOption, g.Next());
        Assert.Equal(("duration", "5"), (g.LongName, g.Optarg));
        Assert.Equal(Getopt.LongOption, g.Next());
        Assert.Equal("6", g.Optarg);
        Assert.Equal(-1, g.Next());
        Assert.Equal("t: unrecognized option `--nope'", Assert.Throws<UsageException>(() => new Getopt("t", ["--nope"], "n", longs).Next()).Message);
    }
}

/// <summary>Every command parses with getopt: clustered flags, attached arguments and "--" work; messages and exit 64.</summary>
public sealed class CommandGetoptTests
{
    [Theory]
    [InlineData("ping -x 127.0.0.1", "ping: illegal option -- x\nusage: ping ")]
    [InlineData("ping 127.0.0.1 -c", "ping: too many arguments\nusage: ping ")]
    [InlineData("ping -c", "ping: option requires an argument -- c\nusage: ping ")]
    [InlineData("route -x get 127.0.0.1", "route: illegal option -- x\nroute: usage: route ")]
    [InlineData("jail -x", "jail: illegal option -- x\nusage: jail ")]
    [InlineData("jls -x", "jls: illegal option -- x\nusage: jls ")]
    [InlineData("jexec -x j ifconfig", "jexec: illegal option -- x\nusage: jexec ")]
    [InlineData("tcpdump -k", "tcpdump: illegal option -- k\nusage: tcpdump ")]
    [InlineData("tcpdump --nope", "tcpdump: unrecognized option `--nope'\nusage: tcpdump ")]
    [InlineData("arp -x", "arp: illegal option -- x\nusage: arp ", 1)] // arp's and sysctl's usage() exit 1
    [InlineData("sysctl -y kern", "sysctl: illegal option -- y\nusage: sysctl ", 1)]
    [InlineData("ifconfig -x", "ifconfig: illegal option -- x\nusage: ifconfig ", 1)]
    [InlineData("ifconfig -j", "ifconfig: option requires an argument -- j\nusage: ifconfig ", 1)]
    [InlineData("netstat -y", "netstat: illegal option -- y\nusage: netstat ", 1)]
    [InlineData("netstat -p", "netstat: option requires an argument -- p\nusage: netstat ", 1)]
    [InlineData("arp -ai", "arp: option requires an argument -- i\nusage: arp ", 1)]
    public void Bad_options_are_getopts_messages_and_exit_64(string line, string errStart, int exit = CommandDispatcher.ExitUsage)
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run(line);
        Assert.Equal(exit, r.Exit);
        Assert.StartsWith(errStart, r.Err);
    }

    [Theory]
    [InlineData("ping -nc1 127.0.0.1")]
    [InlineData("ping -c1 -t1 127.0.0.1")]
    [InlineData("ping -qc 1 -- 127.0.0.1")]
    [InlineData("ping -c 1 -W1000 127.0.0.1")]
    public void Ping_clustered_attached_and_double_dash(string line)
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run(line);
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("1 packets transmitted, 1 packets received, 0.0% packet loss", r.Out);
    }

    [Fact]
    public void Ifconfig_clustered_and_double_dash()
    {
        using var cli = new CliFixture();
        Assert.Contains("lo0", cli.Ok("ifconfig -lu"));
        Assert.StartsWith("lo0: flags=", cli.Ok("ifconfig -- lo0"));
        Assert.StartsWith("lo0: flags=", cli.Ok("ifconfig -nv lo0"));
    }

    [Fact]
    public void Route_clustered_and_double_dash()
    {
        using var cli = new CliFixture();
        Assert.Contains("route to: 127.0.0.1", cli.Ok("route -nv get 127.0.0.1"));
        Assert.Contains("route to: 127.0.0.1", cli.Ok("route -n -- get 127.0.0.1"));
    }

    [Fact]
    public void Arp_attached_interface_argument()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        Assert.Equal(0, cli.Run($"arp -ani{e}a").Exit);
        Assert.Equal(0, cli.Run($"arp -an -i {e}a").Exit);
        Assert.Equal(0, cli.Run("arp -an --").Exit);
    }

    [Fact]
    public void Netstat_clustered_and_attached()
    {
        using var cli = new CliFixture();
        Assert.Contains("Routing tables", cli.Ok("netstat -rnW"));
        Assert.Contains("Routing tables", cli.Ok("netstat -rn -finet"));
        Assert.Contains("icmp:", cli.Ok("netstat -spicmp"));
        Assert.Contains("Routing tables", cli.Ok("netstat -rn --"));
    }

    [Fact]
    public void Sysctl_clustered_and_double_dash()
    {
        using var cli = new CliFixture();
        Assert.Equal("64\n", cli.Ok("sysctl -nq net.inet.ip.ttl"));
        Assert.Equal("net.inet.ip.ttl: 64\n", cli.Ok("sysctl -- net.inet.ip.ttl"));
    }

    [SkippableFact]
    public void Jail_jls_jexec_use_getopt()
    {
        Skip.IfNot(Vimage.Core.Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        cli.Ok("jail -qc name=g1 vnet persist");
        Assert.Contains(" g1 ", cli.Ok("jls -N -jg1"));
        Assert.StartsWith("lo0: flags=", cli.Ok("jexec -l -- g1 ifconfig lo0"));
        Assert.StartsWith("lo0: flags=", cli.Ok("ifconfig -jg1 lo0"));
        Assert.Contains("g1: removed", cli.Ok("jail -vr g1"));
    }

    [Fact]
    public void Tcpdump_attached_arguments()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("tcpdump -nilo0 --duration=0.2");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("listening on lo0", r.Err);
    }

    [Theory]
    [InlineData("ping -C 3 127.0.0.1", "ping: -C: ")]
    [InlineData("route -6 get ::1", "route: -6: ")]
    [InlineData("netstat -x", "netstat: -x: ")]
    [InlineData("arp -f file", "arp: cannot open file: ")]
    [InlineData("sysctl -b kern", "sysctl: -b: ")]
    [InlineData("jexec -u root j ifconfig", "jexec: -u: ")]
    public void Options_of_missing_features_fail_with_exit_1(string line, string errStart)
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run(line);
        Assert.Equal(1, r.Exit);
        Assert.StartsWith(errStart, r.Err);
        Assert.Equal("", r.Out);
    }
}
