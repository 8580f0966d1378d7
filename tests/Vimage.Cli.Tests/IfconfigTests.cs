using Vimage.Core;

namespace Vimage.Cli.Tests;

public sealed class IfconfigTests
{
    [Fact]
    public void Create_prints_the_new_name_and_lists_both_ends()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        string names = cli.Ok("ifconfig -l");
        Assert.Matches(@"^(\S+ )*lo0( \S+)*\n$", names);
        Assert.Contains($" {e}a {e}b", names);

        string status = cli.Ok($"ifconfig {e}a");
        Assert.Matches($@"^{e}a: flags=8802<BROADCAST,SIMPLEX,MULTICAST> metric 0 mtu 1500\n", status);
        Assert.Matches(@"\n\tether 02(:[0-9a-f]{2}){4}:0a\n", status);
        Assert.Contains("\n\tgroups: epair\n", status);
        Assert.DoesNotContain("\tinet ", status);
    }

    [Fact]
    public void Destroy_removes_the_pair()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        CliResult r = cli.Run($"ifconfig {e}a destroy");
        Assert.Equal(0, r.Exit);
        Assert.Equal("", r.Out);
        Assert.DoesNotContain(e, cli.Ok("ifconfig -l"));
        CliResult gone = cli.Run($"ifconfig {e}b");
        Assert.Equal(1, gone.Exit);
        Assert.Equal($"ifconfig: interface {e}b does not exist\n", gone.Err);
    }

    [Fact]
    public void Inet_with_prefix_and_up_in_one_line()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        Assert.Equal("", cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up"));

        string status = cli.Ok($"ifconfig {e}a");
        Assert.StartsWith($"{e}a: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500\n", status);
        Assert.Contains("\n\tinet 192.0.2.1 netmask 0xffffff00 broadcast 192.0.2.255\n", status);
        Assert.Contains("\n\tstatus: active\n", status);

        // ifconfig with no argument lists every interface in the same format.
        string all = cli.Ok("ifconfig");
        Assert.Contains(status, all);
        Assert.Matches(@"(^|\n)lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> metric 0 mtu 16384\n", all);
        Assert.Contains($"{e}a", cli.Ok("ifconfig -l -u"));
        Assert.DoesNotContain($"{e}a", cli.Ok("ifconfig -l -d"));
        Assert.Contains($"{e}b", cli.Ok("ifconfig -l -d"));

        cli.Ok($"ifconfig {e}a down");
        Assert.StartsWith($"{e}a: flags=8802<BROADCAST,SIMPLEX,MULTICAST>", cli.Ok($"ifconfig {e}a"));
    }

    [Fact]
    public void Netmask_alias_and_delete()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1 netmask 0xffffff00");
        cli.Ok($"ifconfig {e}a inet 198.51.100.1/25 alias");
        cli.Ok($"ifconfig {e}a inet 203.0.113.1 netmask 255.255.0.0 alias");
        string status = cli.Ok($"ifconfig {e}a");
        Assert.Contains("\tinet 192.0.2.1 netmask 0xffffff00 broadcast 192.0.2.255\n", status);
        Assert.Contains("\tinet 198.51.100.1 netmask 0xffffff80 broadcast 198.51.100.127\n", status);
        Assert.Contains("\tinet 203.0.113.1 netmask 0xffff0000 broadcast 203.0.255.255\n", status);

        cli.Ok($"ifconfig {e}a inet 198.51.100.1 -alias");
        cli.Ok($"ifconfig {e}a inet 203.0.113.1 delete");
        status = cli.Ok($"ifconfig {e}a");
        Assert.Contains("\tinet 192.0.2.1 ", status);
        Assert.DoesNotContain("198.51.100.1", status);
        Assert.DoesNotContain("203.0.113.1", status);

        CliResult missing = cli.Run($"ifconfig {e}a inet 198.51.100.1 -alias");
        Assert.Equal(1, missing.Exit);
        Assert.StartsWith("ifconfig: ioctl (SIOCDIFADDR): Can't assign requested address", missing.Err);
    }

    [Fact]
    public void Inet_without_alias_replaces_the_first_address()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24");
        cli.Ok($"ifconfig {e}a inet 192.0.2.5/24");
        string status = cli.Ok($"ifconfig {e}a");
        Assert.Contains("\tinet 192.0.2.5 netmask 0xffffff00", status);
        Assert.DoesNotContain("192.0.2.1 ", status);
    }

    [Fact]
    public void Mtu_name_description_and_promisc()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a mtu 9000 description \"to the jail\" promisc");
        string status = cli.Ok($"ifconfig {e}a");
        Assert.StartsWith($"{e}a: flags=8902<BROADCAST,PROMISC,SIMPLEX,MULTICAST> metric 0 mtu 9000\n\tdescription: to the jail\n", status);

        cli.Ok($"ifconfig {e}a -promisc -description");
        status = cli.Ok($"ifconfig {e}a");
        Assert.StartsWith($"{e}a: flags=8802<", status);
        Assert.DoesNotContain("description", status);

        Assert.Equal("uplink0\n", cli.Ok($"ifconfig {e}a name uplink0"));
        Assert.Contains("uplink0", cli.Ok("ifconfig -l"));
        Assert.StartsWith("uplink0: flags=", cli.Ok("ifconfig uplink0"));
        Assert.Equal(1, cli.Run($"ifconfig {e}a").Exit);

        CliResult bad = cli.Run("ifconfig uplink0 mtu 10");
        Assert.Equal(1, bad.Exit);
        Assert.Contains("mtu 10 out of range", bad.Err);
    }

    [Fact]
    public void Create_with_a_unit_and_loopback_clones()
    {
        using var cli = new CliFixture();
        Assert.Equal("epair57a\n", cli.Ok("ifconfig epair57 create"));
        Assert.Contains("epair57a epair57b", cli.Ok("ifconfig -l"));
        Assert.Equal(1, cli.Run("ifconfig epair57 create").Exit);

        // As in FreeBSD, the name is printed only when it differs from what was asked for.
        Assert.Equal("", cli.Ok("ifconfig lo7 create"));
        Assert.StartsWith("lo7: flags=8008<LOOPBACK,MULTICAST> metric 0 mtu 16384\n", cli.Ok("ifconfig lo7"));
        cli.Ok("ifconfig lo7 inet 10.7.0.1/8 up");
        Assert.Contains("\tinet 10.7.0.1 netmask 0xff000000\n", cli.Ok("ifconfig lo7"));
        cli.Ok("ifconfig lo7 destroy");
        Assert.DoesNotContain("lo7", cli.Ok("ifconfig -l"));

        Assert.Contains("epair", cli.Ok("ifconfig -C"));
    }

    [Fact]
    public void Errors_and_usage()
    {
        using var cli = new CliFixture();
        CliResult nope = cli.Run("ifconfig nope");
        Assert.Equal(1, nope.Exit);
        Assert.Equal("ifconfig: interface nope does not exist\n", nope.Err);

        CliResult lo0 = cli.Run("ifconfig lo0 destroy");
        Assert.Equal(1, lo0.Exit);
        Assert.Contains("SIOCIFDESTROY", lo0.Err);

        string e = cli.NewEpair();
        foreach (string line in new[] { "ifconfig -x", "ifconfig -j" })
        {
            CliResult r = cli.Run(line);
            Assert.True(r.Exit == 1, $"{line}: {r}"); // ifconfig's usage() exits 1
            Assert.Contains("usage: ifconfig", r.Err);
        }

        Assert.Equal("ifconfig: bogus: bad value\n", cli.Run($"ifconfig {e}a bogus").Err); // taken for an address
        Assert.Equal("ifconfig: 'mtu' requires argument\n", cli.Run($"ifconfig {e}a mtu").Err);
        Assert.Equal("ifconfig: 'description' requires argument\n", cli.Run($"ifconfig {e}a description").Err);
        Assert.Equal("ifconfig: vlanhwtag: not supported in Vimage\n", cli.Run($"ifconfig {e}a vlanhwtag").Err);

        CliResult badAddress = cli.Run($"ifconfig {e}a inet 192.0.2.300/24");
        Assert.Equal(1, badAddress.Exit);
        Assert.Equal("ifconfig: 192.0.2.300/24: bad value\n", badAddress.Err);

        CliResult badCloner = cli.Run("ifconfig bogus create");
        Assert.Equal(1, badCloner.Exit);
        Assert.StartsWith("ifconfig: SIOCIFCREATE2", badCloner.Err);

        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24");
        CliResult dup = cli.Run($"ifconfig {e}b inet 192.0.2.1/24");
        Assert.Equal(1, dup.Exit);
        Assert.Contains("File exists", dup.Err);
    }

    [SkippableFact]
    public void Jail_vnet_moves_and_minus_j()
    {
        Skip.IfNot(Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok("jail -c name=j1 vnet");
        cli.Ok($"ifconfig {e}b vnet j1");
        Assert.DoesNotContain($"{e}b", cli.Ok("ifconfig -l"));
        Assert.Contains($"{e}b", cli.Ok("ifconfig -j j1 -l"));

        cli.Ok($"jexec j1 ifconfig {e}b inet 192.0.2.2/24 up");
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        Assert.Contains("\tinet 192.0.2.2 netmask 0xffffff00 broadcast 192.0.2.255\n", cli.Ok($"ifconfig -j j1 {e}b"));
        Assert.DoesNotContain("inet 192.0.2.2 ", cli.Ok("ifconfig"));

        // Only the host moves interfaces.
        CliResult inJail = cli.Run($"jexec j1 ifconfig {e}b vnet j1");
        Assert.Equal(1, inJail.Exit);
        Assert.Contains("SIOCSIFVNET", inJail.Err);

        cli.Ok($"ifconfig {e}b -vnet j1");
        Assert.Contains($"{e}b", cli.Ok("ifconfig -l"));
        Assert.DoesNotContain($"{e}b", cli.Ok("ifconfig -j j1 -l"));
        Assert.DoesNotContain("inet", cli.Ok($"ifconfig {e}b")); // addresses stay behind (purged)

        // Cloners and unit numbers are per vnet: the jail's first epair is epair0 whatever the host has.
        Assert.Equal("epair0a\n", cli.Ok("ifconfig -j j1 epair create"));
        Assert.Equal("lo1\n", cli.Ok("jexec j1 ifconfig lo create"));
        Assert.Equal("lo0 epair0a epair0b lo1\n", cli.Ok("jexec j1 ifconfig -l"));
        Assert.Contains($"{e}a {e}b", cli.Ok("ifconfig -l"));

        CliResult noJail = cli.Run($"ifconfig {e}b vnet nosuch");
        Assert.Equal(1, noJail.Exit);
        Assert.Contains("nosuch", noJail.Err);
    }

    [SkippableFact]
    public void Jail_creation_with_vnet_interface()
    {
        Skip.IfNot(Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"jail -c name=j2 vnet vnet.interface={e}b");
        Assert.Equal($"lo0 {e}b\n", cli.Ok("jexec j2 ifconfig -l"));
        cli.Ok("jail -r j2");
        Assert.Contains($"{e}b", cli.Ok("ifconfig -l")); // loaned interfaces go home
    }
}
