using System.Text.Json;
using Vimage.Core;
using Vimage.Net.Arp;

namespace Vimage.Cli.Tests;

/// <summary>arp(8) option by option against usr.sbin/arp/arp.c (FreeBSD 14) and in_arpinput's knobs.</summary>
public sealed class ArpOptionTests
{
    private static string Setup(CliFixture cli)
    {
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 198.51.100.1/24 up");
        return e;
    }

    [Fact]
    public void Replace_prints_deleted_only_over_an_existing_entry()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        Assert.Equal("", cli.Ok("arp -S 198.51.100.7 90:10:00:01:02:03"));
        Assert.Contains($"? (198.51.100.7) at 90:10:00:01:02:03 on {e}a permanent [ethernet]", cli.Ok("arp -an"));
        Assert.Equal("198.51.100.7 (198.51.100.7) deleted\n", cli.Ok("arp -S 198.51.100.7 90:10:00:01:02:04"));
        Assert.Contains("? (198.51.100.7) at 90:10:00:01:02:04 on", cli.Ok("arp -n 198.51.100.7"));
        cli.Ok("arp -d 198.51.100.7");
    }

    [Fact]
    public void Temp_entry_expires_after_max_age_and_pub_is_published()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        cli.Ok("arp -s 198.51.100.8 90:10:00:01:02:05 temp");
        Assert.Matches($@"\? \(198\.51\.100\.8\) at 90:10:00:01:02:05 on {e}a expires in 1200 seconds \[ethernet\]", cli.Ok("arp -n 198.51.100.8"));
        cli.Ok("arp -d 198.51.100.8");

        string old = cli.Ok("sysctl -n net.link.ether.inet.max_age").Trim();
        try
        {
            cli.Ok("sysctl net.link.ether.inet.max_age=60");
            cli.Ok("arp -s 198.51.100.8 90:10:00:01:02:05 temp");
            Assert.Contains(" expires in 60 seconds ", cli.Ok("arp -n 198.51.100.8"));
        }
        finally
        {
            cli.Ok($"sysctl net.link.ether.inet.max_age={old}");
            cli.Run("arp -d 198.51.100.8");
        }

        cli.Ok("arp -s 198.51.100.9 90:10:00:01:02:06 pub only");
        Assert.Contains("? (198.51.100.9) at 90:10:00:01:02:06 on " + e + "a permanent published [ethernet]", cli.Ok("arp -an"));
        cli.Ok("arp -d 198.51.100.9");

        string auto = cli.Ok("arp -s 198.51.100.10 auto pub");
        Assert.Matches($@"^using interface {e}a for proxy with address 02(:[0-9a-f]{{2}}){{5}}\n$", auto);
        cli.Ok("arp -d 198.51.100.10");
    }

    /// <summary>A published entry answers requests for its address with its MAC (proxy ARP, LLE_PUB).</summary>
    [SkippableFact]
    public void Published_entry_answers_requests()
    {
        Skip.IfNot(Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"jail -c name=pa vnet vnet.interface={e}b");
        cli.Ok($"ifconfig {e}a inet 198.51.100.1/24 up");
        cli.Ok($"jexec pa ifconfig {e}b inet 198.51.100.2/24 up");
        cli.Ok("arp -s 198.51.100.50 90:10:00:0a:0b:0c pub");
        cli.Run("jexec pa ping -c 1 -t 1 198.51.100.50");
        Assert.True(CliFixture.WaitFor(() => cli.Run("jexec pa arp -n 198.51.100.50").Out.Contains("90:10:00:0a:0b:0c", StringComparison.Ordinal)),
            cli.Run("jexec pa arp -an").ToString());
    }

    [Fact]
    public void Keyword_and_usage_errors_exit_1()
    {
        using var cli = new CliFixture();
        Setup(cli);
        CliResult both = cli.Run("arp -s 198.51.100.7 90:10:00:01:02:03 blackhole reject");
        Assert.Equal(1, both.Exit);
        Assert.Equal("arp: Choose one of blackhole or reject, not both.\n", both.Err);
        CliResult bad = cli.Run("arp -s 198.51.100.7 90:10:00:01:02:03 frob");
        Assert.Equal(1, bad.Exit);
        Assert.StartsWith("arp: Invalid parameter 'frob'\nusage: arp [-n] [-i interface] hostname\n", bad.Err);
        Assert.EndsWith("       arp -f filename\n", bad.Err);
        Assert.Equal("", cli.Ok("arp -s 198.51.100.7 90:10:00:01:02:03 reject"));
        cli.Ok("arp -d 198.51.100.7");

        CliResult twoFuncs = cli.Run("arp -s -d 198.51.100.7");
        Assert.Equal(1, twoFuncs.Exit);
        Assert.StartsWith("usage: arp", twoFuncs.Err);
        CliResult notHere = cli.Run("arp -s 198.51.100.7 90:10:00:01:02:03 -i lo0");
        Assert.Equal(1, notHere.Exit);
        Assert.StartsWith("arp: Invalid parameter '-i'\nusage: arp", notHere.Err); // getopt stops at the first operand: -i is a keyword here
        CliResult iset = cli.Run("arp -i lo0 -s 198.51.100.7 90:10:00:01:02:03");
        Assert.Equal(1, iset.Exit);
        Assert.Equal("arp: -i not applicable to this operation\n", iset.Err);
        Assert.Equal("arp: interface nope0 does not exist\n", cli.Run("arp -a -i nope0").Err);
    }

    [Fact]
    public void Delete_all_on_one_interface_keeps_own_addresses()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        string f = cli.NewEpair();
        cli.Ok($"ifconfig {f}a inet 203.0.113.1/24 up");
        cli.Ok("arp -s 198.51.100.20 90:10:00:01:02:20");
        cli.Ok("arp -s 203.0.113.20 90:10:00:01:02:21");
        Assert.Equal("198.51.100.20 (198.51.100.20) deleted\n", cli.Ok($"arp -d -a -i {e}a"));
        string left = cli.Ok("arp -an");
        Assert.Contains("(203.0.113.20)", left);
        Assert.Contains($"(198.51.100.1) at", left); // our own address is pinned
        Assert.Contains("(203.0.113.20)", cli.Ok($"arp -an -i {f}a"));
        Assert.DoesNotContain("(198.51.100.1)", cli.Ok($"arp -an -i {f}a"));
        cli.Ok("arp -d 203.0.113.20");
    }

    [Fact]
    public void Libxo_json_lists_the_cache()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        cli.Ok("arp -s 198.51.100.30 90:10:00:01:02:30");
        cli.Ok("arp -s 198.51.100.31 90:10:00:01:02:31 temp pub");
        using JsonDocument doc = JsonDocument.Parse(cli.Ok($"arp -an -i {e}a --libxo json"));
        JsonElement cache = doc.RootElement.GetProperty("arp").GetProperty("arp-cache");
        JsonElement perm = cache.EnumerateArray().First(x => x.GetProperty("ip-address").GetString() == "198.51.100.30");
        Assert.Equal("90:10:00:01:02:30", perm.GetProperty("mac-address").GetString());
        Assert.Equal($"{e}a", perm.GetProperty("interface").GetString());
        Assert.Equal("true", perm.GetProperty("permanent").GetString());
        Assert.Equal("ethernet", perm.GetProperty("type").GetString());
        JsonElement temp = cache.EnumerateArray().First(x => x.GetProperty("ip-address").GetString() == "198.51.100.31");
        Assert.InRange(temp.GetProperty("expires").GetInt32(), 1190, 1200);
        Assert.Equal("true", temp.GetProperty("published").GetString());

        using JsonDocument one = JsonDocument.Parse(cli.Ok("arp -n 198.51.100.30 --libxo json"));
        Assert.Single(one.RootElement.GetProperty("arp").GetProperty("arp-cache").EnumerateArray());
        cli.Ok("arp -d 198.51.100.30");
        cli.Ok("arp -d 198.51.100.31");
    }

    [Fact]
    public void Log_knobs_exist_with_freebsd_defaults()
    {
        using var cli = new CliFixture();
        Assert.Equal("1\n1\n1\n", cli.Ok("sysctl -n net.link.ether.inet.log_arp_wrong_iface net.link.ether.inet.log_arp_movements net.link.ether.inet.log_arp_permanent_modify"));
        Assert.Equal("net.link.ether.inet.log_arp_movements: 1 -> 0\n", cli.Ok("sysctl net.link.ether.inet.log_arp_movements=0"));
        cli.Ok("sysctl net.link.ether.inet.log_arp_movements=1");
    }

    /// <summary>arp_check_update_lle: a reply that would change a permanent entry is refused and logged.</summary>
    [SkippableFact]
    public void Permanent_modify_and_movement_are_logged()
    {
        Skip.IfNot(Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"jail -c name=pm vnet vnet.interface={e}b");
        cli.Ok($"ifconfig {e}a inet 198.51.100.1/24 up");
        cli.Ok($"jexec pm ifconfig {e}b inet 198.51.100.2/24 up");
        var logs = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void Collect(string line) => logs.Enqueue(line);
        ArpLayer.Logged += Collect;
        string pps = cli.Ok("sysctl -n net.link.ether.inet.max_log_per_second").Trim();
        cli.Ok("sysctl net.link.ether.inet.max_log_per_second=1000"); // no other line may take this second's budget
        try
        {
            cli.Ok("arp -s 198.51.100.2 90:10:00:01:02:03");
            cli.Run("jexec pm ping -c 1 -t 1 198.51.100.1"); // pm asks for .1; its request carries its real MAC
            Assert.True(CliFixture.WaitFor(() => logs.Any(l => l.Contains("attempts to modify permanent entry for 198.51.100.2 on " + e + "a", StringComparison.Ordinal))),
                string.Join("\n", logs));
            Assert.Contains("? (198.51.100.2) at 90:10:00:01:02:03", cli.Ok("arp -n 198.51.100.2")); // unchanged
            Assert.Contains($"arp: ", cli.Ok("dmesg")); // the host's message buffer has it too
        }
        finally
        {
            ArpLayer.Logged -= Collect;
            cli.Ok($"sysctl net.link.ether.inet.max_log_per_second={pps}");
        }
    }
}
