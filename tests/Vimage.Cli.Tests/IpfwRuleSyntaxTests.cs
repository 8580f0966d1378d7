using Vimage.Core;
using Vimage.Net.Ipfw;

namespace Vimage.Cli.Tests;

/// <summary>ipfw's rule language beyond the basics (not, or-blocks, masks, lists, tables, unreach codes), tables and dmesg.</summary>
public sealed class IpfwRuleSyntaxTests : IDisposable
{
    private readonly CliFixture _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("deny udp from { 1.2.3.4 or 5.6.7.0/24 } to not me 53,1000-2000 in recv lo0", "deny udp from { 1.2.3.4 or 5.6.7.0/24 } to not me 53,1000-2000 in recv lo0")]
    [InlineData("allow ip from 10.0.0.1:255.255.0.0 to any", "allow ip from 10.0.0.0/16 to any")]
    [InlineData("allow ip from 10.0.0.1:255.0.255.0 to any", "allow ip from 10.0.0.0:255.0.255.0 to any")]
    [InlineData("count ip from {1.2.3.4,5.6.7.0/24} to any", "count ip from 1.2.3.4,5.6.7.0/24 to any")]
    [InlineData("count ip from 1.2.3.4,5.6.7.8 to table(3)", "count ip from 1.2.3.4,5.6.7.8 to table(3)")]
    [InlineData("allow { udp or icmp } from any to any not via lo0", "allow { udp or icmp } from any to any not via lo0")]
    [InlineData("deny ip from any to any { xmit lo0 or recv lo0 }", "deny ip from any to any { xmit lo0 or recv lo0 }")]
    [InlineData("deny ip from any to any not out", "deny ip from any to any in")]
    [InlineData("unreach port udp from any to any dst-port 9", "unreach port udp from any to any 9")]
    [InlineData("unreach 13 ip from any to any", "unreach filter-prohib ip from any to any")]
    [InlineData("unreach host ip from any to any", "reject ip from any to any")]
    [InlineData("allow icmp from any to any icmptypes 0,8 out", "allow icmp from any to any icmptypes 0,8 out")]
    [InlineData("deny log logamount 5 tcp from any to any 22", "deny log logamount 5 tcp from any to any 22")]
    [InlineData("deny tcp from any to any setup", "deny tcp from any to any setup")]
    [InlineData("deny tcp from any to any tcpflags syn,!ack", "deny tcp from any to any setup")]
    [InlineData("allow tcp from 10.0.0.1 to 10.0.0.2 80 established", "allow tcp from 10.0.0.1 to 10.0.0.2 80 established")]
    [InlineData("count tcp from any to any tcpflags !ack,fin,rst in", "count tcp from any to any tcpflags fin,!ack,rst in")]
    [InlineData("count tcp from any to any tcpoptions maxseg,!sack,timestamp", "count tcp from any to any tcpoptions mss,!sack,ts")]
    [InlineData("count tcp from any to any tcpseq 0x10 tcpack 4294967295", "count tcp from any to any tcpseq 16 tcpack -1")]
    [InlineData("count tcp from any to any tcpwin 100-200,300 not tcpwin 0", "count tcp from any to any tcpwin 100-200,300 not tcpwin 0")]
    [InlineData("count ip from any to any iplen 40 ipttl 1-3 iptos lowdelay,!throughput", "count ip from any to any iplen 40 ipttl 1-3 iptos lowdelay,!throughput")]
    public void Rules_show_as_compiled(string rule, string shown)
    {
        Assert.Equal($"00100 {shown}\n", _cli.Ok($"ipfw add 100 {rule}"));
        Assert.Equal($"00100 {shown}\n65535 deny ip from any to any\n", _cli.Ok("ipfw list"));
    }

    [Theory]
    [InlineData("ipfw add 100 allow ip from { 1.2.3.4 or 5.6.7.8 to any", 64, "ipfw: missing \")\"\n")]
    [InlineData("ipfw add 100 allow ip from 1.2.3.4:255.x to any", 65, "ipfw: bad netmask ``255.x''\n")]
    [InlineData("ipfw add 100 allow ip from table(x) to any", 65, "ipfw: Invalid table name: x\n")]
    [InlineData("ipfw add 100 unreach 300 ip from any to any", 65, "ipfw: unknown ICMP unreachable code ``300''\n")]
    [InlineData("ipfw add 100 allow tcp from any to any tcpflags", 64, "ipfw: missing argument for tcpflags\n")]
    [InlineData("ipfw add 100 allow tcp from any to any tcpflags syn,bogus", 65, "ipfw: invalid flag bogus\n")]
    [InlineData("ipfw add 100 allow tcp from any to any tcpoptions", 64, "ipfw: missing argument for tcpoptions\n")]
    [InlineData("ipfw add 100 allow tcp from any to any tcpoptions !nop", 65, "ipfw: invalid flag nop\n")]
    [InlineData("ipfw add 100 allow tcp from any to any tcpseq", 64, "ipfw: tcpseq/tcpack requires argument\n")]
    [InlineData("ipfw add 100 allow tcp from any to any tcpwin 5-x", 65, "ipfw: invalid tcpwin len 5-x\n")]
    [InlineData("ipfw add 100 allow ip from any to any ipttl", 64, "ipfw: ipttl requires TTL\n")]
    [InlineData("ipfw add 100 allow ip from any to any iplen 9-1", 65, "ipfw: invalid ip len 9-1\n")]
    [InlineData("ipfw add 100 allow ip from any to any iptos fast", 65, "ipfw: invalid flag fast\n")]
    [InlineData("ipfw table 1 delete 1.2.3.4", 71, "ipfw: Table 1 not found\n")]
    [InlineData("ipfw table 1 add 1.2.3.4/33", 65, "ipfw: bad IPv4 mask width\n")]
    public void Bad_rules_get_ipfw_messages_and_change_nothing(string line, int exit, string err)
    {
        CliResult r = _cli.Run(line);
        Assert.Equal((exit, err), (r.Exit, r.Err));
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Assert.False(IpFw.IsLoaded && IpFw.Chain.Count > 1, "a rule was added");
            Assert.Empty(IpFwTables.List());
        }
    }

    [Fact]
    public void Tables_add_list_delete_flush_like_tables_c()
    {
        CliResult add = _cli.Run("ipfw table 1 add 10.0.0.0/8 5 192.0.2.7");
        Assert.Equal((0, "added: 10.0.0.0/8 5\nadded: 192.0.2.7/32 0\n", "ipfw: DEPRECATED: inserting data into non-existent table 1. (auto-created)\n"),
            (add.Exit, add.Out, add.Err));
        CliResult dup = _cli.Run("ipfw table 1 add 10.1.2.3/8");
        Assert.Equal((71, "exists: 10.0.0.0/8 0\n", "ipfw: Adding record failed: record already exists\n"), (dup.Exit, dup.Out, dup.Err));
        Assert.Equal("", _cli.Ok("ipfw -q table 1 add 10.0.0.0/8")); // -q: duplicates are not errors
        Assert.Equal("--- table(1), set(0) ---\n10.0.0.0/8 5\n192.0.2.7/32 0\n", _cli.Ok("ipfw table 1 list"));
        Assert.Equal("deleted: 192.0.2.7/32 0\n", _cli.Ok("ipfw table 1 delete 192.0.2.7"));
        CliResult missing = _cli.Run("ipfw table 1 delete 192.0.2.7");
        Assert.Equal((71, "ipfw: Deleting record failed: record not found\n"), (missing.Exit, missing.Err));
        Assert.Equal("", _cli.Ok("ipfw table 2 create"));
        Assert.Equal(71, _cli.Run("ipfw table 2 create").Exit);
        Assert.Equal("", _cli.Ok("ipfw table all flush"));
        Assert.Equal("--- table(1), set(0) ---\n--- table(2), set(0) ---\n", _cli.Ok("ipfw table all list"));
    }

    [Fact]
    public void Logged_deny_shows_in_dmesg_and_ping_fails()
    {
        _cli.Ok("sysctl net.inet.ip.fw.verbose=1");
        try
        {
            _cli.Ok("dmesg -c");
            _cli.Ok("ipfw add 100 deny log icmp from any to 127.0.0.1 icmptypes 8 out");
            _cli.Ok("ipfw add 200 allow ip from any to any");
            Assert.Equal(2, _cli.Run("ping -c 1 -W 200 127.0.0.1").Exit);
            Assert.Equal("ipfw: 100 Deny ICMP:8.0 127.0.0.1 127.0.0.1 out via lo0\n", _cli.Ok("dmesg -c"));
            Assert.Equal("", _cli.Ok("dmesg"));
        }
        finally
        {
            _cli.Ok("sysctl net.inet.ip.fw.verbose=0");
        }
    }
}

/// <summary>dummynet configuration through ipfw(8): schedulers, and bad values that change nothing.</summary>
public sealed class DummynetCommandTests : IDisposable
{
    private readonly CliFixture _cli = new();

    public void Dispose() => _cli.Dispose();

    [Theory]
    [InlineData("ipfw pipe 1 config bw 5Mbit/s delay abc", 65, "ipfw: delay needs argument 0..10000ms\n")]
    [InlineData("ipfw pipe 1 config bw 5Mbit/s plr 1.5", 65, "ipfw: plr needs argument 0..1\n")]
    [InlineData("ipfw pipe 1 config bw 5Mbit/s queue 1", 65, "ipfw: 2 <= queue size <= 100\n")]
    [InlineData("ipfw pipe 1 config bw 200Gbit/s", 65, "ipfw: bandwidth too large\n")]
    [InlineData("ipfw pipe 1 config bw 5Mbit/s jitter 2ms distribution pareto", 65, "ipfw: unrecognised option ``pareto''\n")]
    [InlineData("ipfw pipe 1 config bw 5Mbit/s gilbert 2 0.1", 65, "ipfw: gilbert p needs argument 0..1\n")]
    [InlineData("ipfw pipe 1 config bw 5Mbit/s seed -1", 65, "ipfw: invalid seed -1\n")]
    [InlineData("ipfw pipe 1 config bw", 64, "ipfw: bandwidth needs argument\n")]
    [InlineData("ipfw queue 2 config pipe 1 weight 101", 65, "ipfw: weight must be <= 100\n")]
    [InlineData("ipfw queue 2 config pipe 9 weight 1", 69, "ipfw: setsockopt(IP_DUMMYNET3): Invalid argument\n")]
    [InlineData("ipfw queue 2 config pipe 1 mask src-port 0x10000", 65, "ipfw: port mask must be 16 bit\n")]
    [InlineData("ipfw queue 2 config pipe 1 mask proto 300", 65, "ipfw: proto mask must be 8 bit\n")]
    [InlineData("ipfw queue 2 config pipe 1 mask src-ip zz", 65, "ipfw: mask: bad value zz\n")]
    [InlineData("ipfw queue 2 config pipe 1 mask weight 3", 64, "ipfw: mask: missing field\n")]
    [InlineData("ipfw pipe 1 config buckets 0", 65, "ipfw: invalid bucket count 0\n")]
    [InlineData("ipfw sched 1 config type rr", 69, "ipfw: scheduler type rr is not supported in Vimage (fifo, wf2q+)\n")]
    [InlineData("ipfw sched 1 config type bogus", 69, "ipfw: setsockopt(IP_DUMMYNET3): Invalid argument\n")]
    public void Bad_pipe_values_get_ipfw_messages_and_change_nothing(string line, int exit, string err)
    {
        _cli.Ok("ipfw pipe 1 config bw 10Mbit/s delay 20 queue 50");
        string before = _cli.Ok("ipfw pipe show") + _cli.Ok("ipfw queue show") + _cli.Ok("ipfw sched show");
        CliResult r = _cli.Run(line);
        Assert.Equal((exit, err), (r.Exit, r.Err));
        Assert.Equal(before, _cli.Ok("ipfw pipe show") + _cli.Ok("ipfw queue show") + _cli.Ok("ipfw sched show"));
    }

    [Fact]
    public void Masks_make_flows_and_show_them()
    {
        _cli.Ok("ipfw pipe 1 config bw 1Kbit/s mask src-ip /24 dst-port 0xffff buckets 16");
        _cli.Ok("ipfw add 100 pipe 1 icmp from any to 127.0.0.1 out");
        _cli.Ok("ipfw add 200 allow ip from any to any");
        _cli.Run("ping -c 1 -W 1 127.0.0.1");
        string show = _cli.Ok("ipfw pipe 1 show");
        Assert.Contains(" 1 flows (16 buckets) sched 65537", show);
        Assert.Contains("    mask:  0x00 0xffffff00/0x0000 -> 0x00000000/0xffff\n", show);
        Assert.Contains(" 127.0.0.0/0 ", show); // the echo's flow: its source masked to /24
        Assert.Contains(" 0.0.0.0/0 ", show);
        _cli.Ok("ipfw queue 5 config pipe 1 weight 2 mask all");
        Assert.StartsWith("q00005  50 sl. 0 flows (64 buckets) sched 1 weight 2 lmax 0 pri 0 droptail\n    mask:  0xff 0xffffffff/0xffff -> 0xffffffff/0xffff\n", _cli.Ok("ipfw queue 5 show"));
    }

    [Fact]
    public void Sched_type_is_wf2q_by_default_and_can_be_fifo()
    {
        _cli.Ok("ipfw pipe 1 config bw 10Mbit/s delay 20");
        Assert.Equal("00001:  10.000 Mbit/s   20 ms burst 0\n sched 1 type WF2Q+ flags 0x0 0 buckets 0 active\n", _cli.Ok("ipfw sched show"));
        _cli.Ok("ipfw sched 1 config type fifo");
        Assert.Contains(" sched 1 type FIFO ", _cli.Ok("ipfw sched 1 show"));
        Assert.StartsWith("00001:  10.000 Mbit/s   20 ms burst 0\n", _cli.Ok("ipfw pipe 1 show")); // the link kept its settings
        _cli.Ok("ipfw pipe 1 config bw 20Mbit/s");
        Assert.Contains(" sched 1 type FIFO ", _cli.Ok("ipfw sched 1 show")); // reconfiguring the pipe keeps the type
    }
}

/// <summary>The README's sharing-and-filtering lab runs as written (in vnet0).</summary>
public sealed class IpfwReadmeLabTests : IDisposable
{
    private readonly CliFixture _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public void Queues_table_and_log_lab_is_accepted()
    {
        _cli.Ok("ipfw pipe 2 config bw 10Mbit/s");
        _cli.Ok("ipfw queue 1 config pipe 2 weight 1 mask src-ip 0xffffffff");
        _cli.Ok("ipfw queue 2 config pipe 2 weight 3");
        _cli.Ok("ipfw table 1 create");
        Assert.Equal("added: 192.0.2.0/24 0\n", _cli.Ok("ipfw table 1 add 192.0.2.0/24"));
        Assert.Equal("added: 198.51.100.0/24 0\n", _cli.Ok("ipfw table 1 add 198.51.100.0/24"));
        CliResult pair = _cli.Run("ipfw table 1 add 203.0.113.0/24 198.51.100.0/24"); // key value pairs, as tables.c reads them
        Assert.Equal((64, "ipfw: Unknown value: 198.51.100.0/24\n"), (pair.Exit, pair.Err));
        _cli.Ok("ipfw add 100 unreach port log udp from table(1) to me in");
        _cli.Ok("ipfw add 200 queue 1 udp from any to me 5001 in");
        _cli.Ok("ipfw add 210 queue 2 udp from any to me 5002,5003 in");
        _cli.Ok("ipfw add 300 allow ip from any to any");
        Assert.Equal(
            "00100 unreach port log udp from table(1) to me in\n00200 queue 1 udp from any to me 5001 in\n" +
            "00210 queue 2 udp from any to me 5002,5003 in\n00300 allow ip from any to any\n65535 deny ip from any to any\n",
            _cli.Ok("ipfw list"));
        Assert.Contains(" sched 2 type WF2Q+ ", _cli.Ok("ipfw sched show"));
    }
}
