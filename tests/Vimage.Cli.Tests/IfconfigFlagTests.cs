namespace Vimage.Cli.Tests;

/// <summary>
/// ifconfig(8)'s Ethernet parameters that were refused before: arp/-arp (IFF_NOARP), staticarp, monitor, debug and
/// link0-2 (setifflags), lladdr/link/ether ADDR (SIOCSIFLLADDR), each with FreeBSD's behaviour or message.
/// </summary>
public sealed class IfconfigFlagTests
{
    /// <summary>A host end at 192.0.2.1 (vnet0) and, with VIMAGE, a jail <paramref name="jail"/> holding the peer at 192.0.2.2.</summary>
    private static string HostAndJail(CliFixture cli, string jail)
    {
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        cli.Ok($"jail -c name={jail} vnet vnet.interface={e}b");
        cli.Ok($"jexec {jail} ifconfig {e}b inet 192.0.2.2/24 up");
        return e;
    }

    /// <summary>An epair end at 192.0.2.1 whose peer is up without an address: 192.0.2.9 never answers.</summary>
    private static string Silent(CliFixture cli)
    {
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        cli.Ok($"ifconfig {e}b up");
        return e;
    }

    [Theory]
    [InlineData("-arp", "NOARP", "arp")]
    [InlineData("debug", "DEBUG", "-debug")]
    [InlineData("link0", "LINK0", "-link0")]
    [InlineData("link1", "LINK1", "-link1")]
    [InlineData("link2", "LINK2", "-link2")]
    [InlineData("compress", "LINK0", "normal")]
    [InlineData("noicmp", "LINK1", "-link1")]
    [InlineData("monitor", "MONITOR", "-monitor")]
    [InlineData("staticarp", "STATICARP", "-staticarp")]
    public void Flag_words_set_and_clear_their_flag(string set, string shown, string clear)
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a {set}");
        Assert.Matches($@"^{e}a: flags=[0-9a-f]+<[A-Z0-9,]*\b{shown}\b", cli.Ok($"ifconfig {e}a"));
        cli.Ok($"ifconfig {e}a {clear}");
        Assert.DoesNotMatch($@"^{e}a: flags=[0-9a-f]+<[A-Z0-9,]*\b{shown}\b", cli.Ok($"ifconfig {e}a"));
    }

    [Fact]
    public void Noarp_flag_value_is_freebsds()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a -arp up");
        Assert.StartsWith($"{e}a: flags=88c3<UP,BROADCAST,RUNNING,NOARP,SIMPLEX,MULTICAST> ", cli.Ok($"ifconfig {e}a"));
    }

    /// <summary>-arp: no resolution for a neighbour without an entry (arpresolve_full's EINVAL), until arp again.</summary>
    [Fact]
    public void Noarp_does_not_resolve()
    {
        using var cli = new CliFixture();
        string e = Silent(cli);
        cli.Ok($"ifconfig {e}a -arp");
        CliResult r = cli.Run("ping -c 1 -t 1 192.0.2.9");
        Assert.Equal(2, r.Exit);
        Assert.Contains("ping: sendto: Invalid argument", r.Err);
        cli.Ok($"ifconfig {e}a arp");
        CliResult asked = cli.Run("ping -c 1 -t 1 192.0.2.9");
        Assert.Equal(2, asked.Exit);
        Assert.DoesNotContain("Invalid argument", asked.Err);
    }

    /// <summary>-arp: ARP requests are discarded (ether_demux), so the jail never learns us; arp again answers.</summary>
    [SkippableFact]
    public void Noarp_does_not_answer()
    {
        Skip.IfNot(Vimage.Core.Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = HostAndJail(cli, "noarpj");
        cli.Ok($"ifconfig {e}a -arp");
        Assert.Equal(2, cli.Run("jexec noarpj ping -c 1 -t 1 192.0.2.1").Exit);
        Assert.DoesNotMatch(@"\(192\.0\.2\.1\) at [0-9a-f]{2}:", cli.Ok("jexec noarpj arp -an"));
        cli.Ok($"ifconfig {e}a arp");
        CliResult ok = cli.Run("jexec noarpj ping -o -c 3 -i 0.2 -t 3 192.0.2.1");
        Assert.True(ok.Exit == 0, ok.ToString());
    }

    /// <summary>staticarp: only static entries are used for sending.</summary>
    [Fact]
    public void Staticarp_resolves_only_static_entries()
    {
        using var cli = new CliFixture();
        string e = Silent(cli);
        cli.Ok($"ifconfig {e}a staticarp");
        Assert.Contains("ping: sendto: Invalid argument", cli.Run("ping -c 1 -t 1 192.0.2.9").Err);
        cli.Ok("arp -s 192.0.2.9 02:00:00:00:00:09");
        CliResult sent = cli.Run("ping -c 1 -t 1 192.0.2.9");
        Assert.Equal(2, sent.Exit);
        Assert.Equal("", sent.Err);
        cli.Ok("arp -d 192.0.2.9");
    }

    /// <summary>staticarp: requests are still answered (in_arpinput's "goto reply") but nothing is learned.</summary>
    [SkippableFact]
    public void Staticarp_answers_but_does_not_learn()
    {
        Skip.IfNot(Vimage.Core.Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = HostAndJail(cli, "staticj");
        cli.Ok($"ifconfig {e}a staticarp");
        Assert.Equal(2, cli.Run("jexec staticj ping -c 1 -t 1 192.0.2.1").Exit); // our reply cannot be resolved
        Assert.Matches(@"\(192\.0\.2\.1\) at [0-9a-f]{2}:", cli.Ok("jexec staticj arp -an"));
        Assert.DoesNotMatch(@"\(192\.0\.2\.2\) at [0-9a-f]{2}:", cli.Ok($"arp -an -i {e}a"));
    }

    /// <summary>monitor: nothing is sent (ether_output's ENETDOWN); -monitor sends again.</summary>
    [Fact]
    public void Monitor_sends_nothing()
    {
        using var cli = new CliFixture();
        string e = Silent(cli);
        cli.Ok($"ifconfig {e}a monitor");
        Assert.Contains("ping: sendto: Network is down", cli.Run("ping -c 1 -t 1 192.0.2.9").Err);
        cli.Ok($"ifconfig {e}a -monitor");
        Assert.DoesNotContain("Network is down", cli.Run("ping -c 1 -t 1 192.0.2.9").Err);
    }

    /// <summary>monitor: what arrives is not processed, so the jail's pings go unanswered.</summary>
    [SkippableFact]
    public void Monitor_processes_nothing()
    {
        Skip.IfNot(Vimage.Core.Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = HostAndJail(cli, "monj");
        cli.Ok($"arp -s 192.0.2.2 {EtherOf(cli.Ok($"jexec monj ifconfig {e}b"))}");
        cli.Ok($"ifconfig {e}a monitor");
        Assert.Equal(2, cli.Run("jexec monj ping -c 1 -t 1 192.0.2.1").Exit);
        cli.Ok($"ifconfig {e}a -monitor");
        CliResult ok = cli.Run("jexec monj ping -o -c 3 -i 0.2 -t 3 192.0.2.1");
        Assert.True(ok.Exit == 0, ok.ToString());
        cli.Ok("arp -d 192.0.2.2");
    }

    [Theory]
    [InlineData("lladdr")]
    [InlineData("link")]
    [InlineData("ether")]
    public void Link_level_address_is_changed(string keyword)
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a {keyword} 02:aa:bb:cc:dd:0{keyword.Length}");
        Assert.Contains($"\tether 02:aa:bb:cc:dd:0{keyword.Length}\n", cli.Ok($"ifconfig {e}a"));
    }

    /// <summary>The new address is the one the peer learns, and frames to it are accepted.</summary>
    [SkippableFact]
    public void Changed_link_level_address_is_used_on_the_wire()
    {
        Skip.IfNot(Vimage.Core.Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = HostAndJail(cli, "llj");
        cli.Ok($"ifconfig {e}a ether 02:aa:bb:cc:dd:ee");
        CliResult ok = cli.Run("jexec llj ping -o -c 3 -i 0.2 -t 3 192.0.2.1");
        Assert.True(ok.Exit == 0, ok.ToString());
        Assert.Matches(@"\(192\.0\.2\.1\) at 02:aa:bb:cc:dd:ee ", cli.Ok("jexec llj arp -an"));
    }

    [Fact]
    public void Random_link_level_address_is_local_unicast()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a ether random");
        byte first = Convert.ToByte(EtherOf(cli.Ok($"ifconfig {e}a"))[..2], 16);
        Assert.Equal(0x02, first & 0x03);
    }

    [Fact]
    public void Ether_followed_by_a_command_is_only_the_family()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        string before = EtherOf(cli.Ok($"ifconfig {e}a"));
        cli.Ok($"ifconfig {e}a ether up");
        Assert.Contains("<UP,", cli.Ok($"ifconfig {e}a"));
        Assert.Equal(before, EtherOf(cli.Ok($"ifconfig {e}a")));
    }

    [Theory]
    [InlineData("epair_a lladdr 02:00:00:00:01", "ifconfig: SIOCAIFADDR: Invalid argument")]
    [InlineData("epair_a ether zz:00:00:00:00:01", "ifconfig: SIOCAIFADDR: Invalid argument")]
    [InlineData("epair_a link 1:2:3:4:5:6:7:8:9:10:11:12:13:14:15", "ifconfig: malformed link-level address")]
    [InlineData("lo0 lladdr 02:00:00:00:00:01", "ifconfig: SIOCAIFADDR: Invalid argument")]
    public void Bad_link_level_addresses_are_refused(string line, string message)
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        string before = EtherOf(cli.Ok($"ifconfig {e}a"));
        CliResult r = cli.Run("ifconfig " + line.Replace("epair_a", e + "a", StringComparison.Ordinal));
        Assert.Equal(1, r.Exit);
        Assert.Equal(message + "\n", r.Err);
        Assert.Equal(before, EtherOf(cli.Ok($"ifconfig {e}a")));
    }

    private static string EtherOf(string status)
        => CliFixture.LineMatching(status, @"^\tether ").Trim()["ether ".Length..];
}
