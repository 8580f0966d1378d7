using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>ifconfig(8) parameters and options against sbin/ifconfig (ifgroup.c, iffib.c, af_inet.c, af_link.c).</summary>
public sealed class IfconfigFreeBsdTests
{
    [Fact]
    public void Groups_are_added_listed_filtered_and_removed()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a group test group web");
        Assert.Contains("\tgroups: epair test web\n", cli.Ok($"ifconfig {e}a"));
        Assert.Equal("", cli.Ok($"ifconfig {e}a group test")); // EEXIST is no error
        Assert.Equal($"{e}a\n", cli.Ok("ifconfig -l -g test"));
        Assert.Contains($"{e}b", cli.Ok("ifconfig -l -g epair"));
        Assert.DoesNotContain($"{e}a", cli.Ok("ifconfig -l -G test"));
        Assert.Contains("lo0", cli.Ok("ifconfig -l -g all"));
        Assert.StartsWith($"{e}a: flags=", cli.Ok("ifconfig -g web"));

        cli.Ok($"ifconfig {e}a -group test");
        Assert.Contains("\tgroups: epair web\n", cli.Ok($"ifconfig {e}a"));
        Assert.Equal("", cli.Ok($"ifconfig {e}a -group nothere")); // ENOENT is no error
        Assert.Equal("\n", cli.Ok("ifconfig -l -g test"));

        CliResult digit = cli.Run($"ifconfig {e}a group web2");
        Assert.Equal(1, digit.Exit);
        Assert.Equal("ifconfig: setifgroup: group names may not end in a digit\n", digit.Err);
        Assert.Equal("ifconfig: unsetifgroup: group name too long\n", cli.Run($"ifconfig {e}a -group abcdefghijklmnopq").Err);
        Assert.Equal(1, cli.RunIn(Vnet.Vnet0, "ifconfig", $"{e}a", "group", "").Exit);
    }

    [Fact]
    public void Description_alias_name_and_mtu()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a description \"uplink to router\" mtu 1400");
        string status = cli.Ok($"ifconfig {e}a");
        Assert.StartsWith($"{e}a: flags=8802<BROADCAST,SIMPLEX,MULTICAST> metric 0 mtu 1400\n\tdescription: uplink to router\n", status);
        cli.Ok($"ifconfig {e}a -description");
        Assert.DoesNotContain("description", cli.Ok($"ifconfig {e}a"));
        cli.Ok($"ifconfig {e}a descr short");
        Assert.Contains("\tdescription: short\n", cli.Ok($"ifconfig {e}a"));

        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24");
        cli.Ok($"ifconfig {e}a inet 192.0.2.2/32 alias");
        Assert.Contains("\tinet 192.0.2.1 netmask 0xffffff00 broadcast 192.0.2.255\n\tinet 192.0.2.2 netmask 0xffffffff\n", cli.Ok($"ifconfig {e}a"));
        cli.Ok($"ifconfig {e}a inet 192.0.2.2 -alias");
        Assert.DoesNotContain("inet 192.0.2.2 ", cli.Ok($"ifconfig {e}a"));

        string renamed = "ren" + e[5..] + "x";
        Assert.Equal(renamed + "\n", cli.Ok($"ifconfig {e}a name {renamed}"));
        Assert.StartsWith(renamed + ": ", cli.Ok($"ifconfig {renamed}"));
        cli.Ok($"ifconfig {renamed} name {e}a");
    }

    [Fact]
    public void Formats_for_inet_and_ether()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/26");
        Assert.Contains("\tinet 192.0.2.1/26 broadcast 192.0.2.63\n", cli.Ok($"ifconfig -f inet:cidr {e}a"));
        Assert.Contains("\tinet 192.0.2.1 netmask 255.255.255.192 broadcast 192.0.2.63\n", cli.Ok($"ifconfig -f inet:dotted {e}a"));
        Assert.Contains("\tinet 192.0.2.1 netmask 0xffffffc0 broadcast", cli.Ok($"ifconfig -f inet:hex {e}a"));
        Assert.Matches(@"\tether 02(-[0-9a-f]{2}){4}-0a\n", cli.Ok($"ifconfig -f ether:dash {e}a"));
        Assert.Matches(@"\tether 02[0-9a-f]{2}\.[0-9a-f]{4}\.[0-9a-f]{2}0a\n", cli.Ok($"ifconfig -f ether:dotted,inet:cidr {e}a"));
    }

    [Fact]
    public void Pcp_and_fib_as_freebsd_reports_them()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        Assert.Equal("ifconfig: value for pcp out of range\n", cli.Run($"ifconfig {e}a pcp 9").Err);
        Assert.Equal("ifconfig: invalid value for pcp\n", cli.Run($"ifconfig {e}a pcp x").Err);
        CliResult pcp = cli.Run($"ifconfig {e}a up pcp 3");
        Assert.Equal(1, pcp.Exit);
        Assert.Equal("ifconfig: SIOCSLANPCP: Operation not supported\n", pcp.Err);
        Assert.DoesNotContain("<UP", cli.Ok($"ifconfig {e}a")); // refused before anything applied

        Assert.Equal("", cli.Ok($"ifconfig {e}a fib 0"));
        int n = int.Parse(cli.Ok("sysctl -n net.fibs").Trim(), System.Globalization.CultureInfo.InvariantCulture); // vnet0's may have grown (FibCommandTests)
        CliResult fib = cli.Run($"ifconfig {e}a fib {n} up");
        Assert.Equal(0, fib.Exit); // setiffib only warns
        Assert.Equal("ifconfig: ioctl (SIOCSIFFIB): Invalid argument\n", fib.Err);
        Assert.Contains("<UP,", cli.Ok($"ifconfig {e}a"));
        Assert.Equal("ifconfig: fib x not valid: Invalid argument\n", cli.Run($"ifconfig {e}a fib x").Err);
    }

    [Fact]
    public void Listing_options_up_down_all_and_names()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a up");
        Assert.Contains($"{e}a", cli.Ok("ifconfig -l -u"));
        Assert.DoesNotContain($"{e}a", cli.Ok("ifconfig -l -d"));
        Assert.Contains($"{e}b", cli.Ok("ifconfig -l -d"));
        Assert.Contains($"{e}b: flags=", cli.Ok("ifconfig -d"));
        Assert.DoesNotContain($"{e}a: flags=", cli.Ok("ifconfig -d"));
        Assert.Contains($"{e}a: flags=", cli.Ok("ifconfig -a"));
        string inetOnly = cli.Ok("ifconfig -a inet");
        Assert.Contains("lo0: flags=", inetOnly);
        Assert.DoesNotContain($"{e}a: flags=", inetOnly); // no inet address yet
        Assert.Equal(1, cli.Run("ifconfig -a -l").Exit); // usage() exits 1
        Assert.Contains("epair", cli.Ok("ifconfig -C"));
    }

    /// <summary>Regression: ifconfig -j J re-parsed only the words after -j, so options before it (-l) were lost.</summary>
    [SkippableFact]
    public void Jail_option_keeps_earlier_options()
    {
        Skip.IfNot(Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"jail -c name=ij vnet vnet.interface={e}b");
        string names = cli.Ok("ifconfig -l -j ij");
        Assert.Equal($"lo0 {e}b\n", names);
        Assert.Equal($"{e}b\n", cli.Ok("ifconfig -d -l -j ij -g epair"));
    }
}
