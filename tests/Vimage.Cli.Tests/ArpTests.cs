using Vimage.Core;

namespace Vimage.Cli.Tests;

public sealed class ArpTests
{
    [Fact]
    public void Static_add_list_lookup_and_delete()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 198.51.100.1/24 up");

        // arp.sh arp_add_success / arp_del_success.
        Assert.Equal("", cli.Ok("arp -s 198.51.100.2 90:10:00:01:02:03"));
        string all = cli.Ok("arp -an");
        Assert.Contains($"? (198.51.100.2) at 90:10:00:01:02:03 on {e}a permanent [ethernet]\n", all);
        Assert.Matches($@"(^|\n)\? \(198\.51\.100\.1\) at 02(:[0-9a-f]{{2}}){{4}}:0a on {e}a permanent \[ethernet\]\n", all);
        Assert.Equal(all, cli.Ok("arp -a"));

        Assert.Equal($"? (198.51.100.2) at 90:10:00:01:02:03 on {e}a permanent [ethernet]\n", cli.Ok("arp -n 198.51.100.2"));
        Assert.Equal($"? (198.51.100.2) at 90:10:00:01:02:03 on {e}a permanent [ethernet]\n", cli.Ok("arp 198.51.100.2"));

        Assert.Equal("198.51.100.2 (198.51.100.2) deleted\n", cli.Ok("arp -d 198.51.100.2"));
        CliResult none = cli.Run("arp -n 198.51.100.2");
        Assert.Equal(1, none.Exit);
        Assert.Equal("198.51.100.2 (198.51.100.2) -- no entry\n", none.Out);

        CliResult again = cli.Run("arp -d 198.51.100.2");
        Assert.Equal(1, again.Exit);
        Assert.Equal("arp: delete: cannot locate 198.51.100.2\n", again.Err);
    }

    [Fact]
    public void Single_digit_octets_interface_filter_and_delete_all()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 198.51.100.1/24 up");
        cli.Ok("arp -s 198.51.100.3 0:1:2:a:b:c");
        cli.Ok("arp -s 198.51.100.4 00:11:22:33:44:55 temp");
        Assert.Contains("? (198.51.100.3) at 00:01:02:0a:0b:0c on", cli.Ok($"arp -an -i {e}a"));
        Assert.Equal("", cli.Ok("arp -an -i lo0"));

        string deleted = cli.Ok("arp -d -a");
        Assert.Contains("198.51.100.3 (198.51.100.3) deleted\n", deleted);
        Assert.Contains("198.51.100.4 (198.51.100.4) deleted\n", deleted);
        Assert.DoesNotContain("198.51.100.1", deleted); // own addresses are not in the table
        Assert.DoesNotContain("198.51.100.3", cli.Ok("arp -an"));
    }

    [Fact]
    public void Errors_and_usage()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 198.51.100.1/24 up");

        CliResult noRoute = cli.Run("arp -s 203.0.113.5 90:10:00:01:02:03");
        Assert.Equal(1, noRoute.Exit);
        Assert.Equal("arp: cannot intuit interface index and type for 203.0.113.5\n", noRoute.Err);

        CliResult badMac = cli.Run("arp -s 198.51.100.2 90:10:00:01:02");
        Assert.Equal(1, badMac.Exit);
        Assert.Contains("invalid Ethernet address", badMac.Err);

        CliResult badIf = cli.Run("arp -a -i nope0");
        Assert.Equal(1, badIf.Exit);

        foreach (string line in new[] { "arp", "arp -s 198.51.100.2", "arp -x", "arp -a 198.51.100.2", "arp -d", "arp -s 198.51.100.2 90:10:00:01:02:03 bogus" })
        {
            CliResult r = cli.Run(line);
            Assert.True(r.Exit == 1, $"{line}: {r}"); // arp's usage() exits 1
            Assert.Contains("usage: arp", r.Err);
        }
    }

    /// <summary>arp.sh arp_lookup_host: per-vnet ARP tables — a jail's entries are invisible to the host.</summary>
    [SkippableFact]
    public void Jail_tables_are_separate()
    {
        Skip.IfNot(Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"jail -c name=a1 vnet vnet.interface={e}b");
        cli.Ok($"ifconfig {e}a inet 198.51.100.1/24 up");
        cli.Ok($"jexec a1 ifconfig {e}b inet 198.51.100.2/24 up");
        Assert.Equal(1, cli.Run("arp -n 198.51.100.2").Exit);
        cli.Ok("jexec a1 arp -s 198.51.100.9 90:10:00:01:02:03");
        Assert.Contains($"? (198.51.100.9) at 90:10:00:01:02:03 on {e}b permanent [ethernet]", cli.Ok("jexec a1 arp -an"));
        Assert.DoesNotContain("198.51.100.9", cli.Ok("arp -an"));

        Assert.Equal(0, CliFixture.SendEcho(Vnet.Vnet0, "198.51.100.2"));
        Assert.True(CliFixture.WaitFor(() => cli.Run("arp -n 198.51.100.2") is { Exit: 0 } r && !r.Out.Contains("incomplete")), cli.Run("arp -n 198.51.100.2").ToString());
        Assert.Matches($@"^\? \(198\.51\.100\.2\) at 02(:[0-9a-f]{{2}}){{4}}:0b on {e}a expires in \d+ seconds \[ethernet\]\n$", cli.Ok("arp -n 198.51.100.2"));
    }
}
