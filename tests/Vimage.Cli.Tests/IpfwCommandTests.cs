using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;

namespace Vimage.Cli.Tests;

/// <summary>ipfw(8) in vnet0 (both builds): rules, counters, pipes, and ipfw's messages and exit codes for bad input.</summary>
public sealed class IpfwCommandTests : IDisposable
{
    private readonly CliFixture _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public void Deny_rule_makes_ping_exit_2_and_show_counts_the_hits()
    {
        Assert.Equal("00100 deny icmp from any to 127.0.0.1 out\n", _cli.Ok("ipfw add 100 deny icmp from any to 127.0.0.1 out"));
        Assert.Equal("00200 allow ip from any to any\n", _cli.Ok("ipfw add 200 allow ip from any to any"));
        CliResult ping = _cli.Run("ping -c 2 -W 200 127.0.0.1");
        Assert.Equal(2, ping.Exit);
        Assert.Contains("ping: sendto: Permission denied", ping.Err);
        string show = _cli.Ok("ipfw show");
        Assert.Matches(@"(^|\n)00100 2 168 deny icmp from any to 127\.0\.0\.1 out\n", show);
        Assert.EndsWith("65535 0   0 deny ip from any to any\n", show);
        Assert.Equal("00100 deny icmp from any to 127.0.0.1 out\n00200 allow ip from any to any\n65535 deny ip from any to any\n", _cli.Ok("ipfw list"));
        Assert.Equal("Accounting cleared.\n", _cli.Ok("ipfw zero"));
        Assert.Matches(@"(^|\n)00100 0 0 deny icmp", _cli.Ok("ipfw show"));
        Assert.Equal("", _cli.Ok("ipfw delete 100"));
        Assert.Equal(0, _cli.Run("ping -c 1 127.0.0.1").Exit);
        Assert.Equal("Flushed all rules.\n", _cli.Ok("ipfw -f flush"));
        Assert.Equal("65535 deny ip from any to any\n", _cli.Ok("ipfw list"));
    }

    [Fact]
    public void Deny_setup_makes_a_tcp_connect_time_out_while_an_established_connection_carries_on()
    {
        InAddr lo = InAddr.Parse("127.0.0.1");
        using var listener = TcpSocket.Create(Vnet.Vnet0);
        listener.Bind(lo, 0);
        listener.Listen(8);
        ushort port = listener.LocalPort;
        using var early = TcpSocket.Create(Vnet.Vnet0);
        early.Connect(lo, port, 10_000);
        using TcpSocket served = listener.Accept(10_000);

        Assert.Equal("00100 deny tcp from any to any setup\n", _cli.Ok("ipfw add 100 deny tcp from any to any setup"));
        Assert.Equal("00200 allow ip from any to any\n", _cli.Ok("ipfw add 200 allow ip from any to any"));
        using var late = TcpSocket.Create(Vnet.Vnet0);
        var e = Assert.Throws<NetSocketException>(() => late.Connect(lo, port, 1_500));
        Assert.Equal(NetSocketException.EAGAIN, e.Errno); // no SYN got through: the connect timed out
        Assert.Matches(@"(^|\n)00100 [1-9]\d* \d+ deny tcp from any to any setup\n", _cli.Ok("ipfw show"));

        Assert.Equal(2, early.Send("hi"u8));
        byte[] got = new byte[2];
        Assert.Equal(2, served.Receive(got, 10_000));
        Assert.Equal("hi"u8.ToArray(), got);
    }

    [Fact]
    public void Options_are_parsed_by_getopt_and_n_only_checks_the_syntax()
    {
        Assert.Equal("", _cli.Ok("ipfw -nq add 100 deny icmp from any to any")); // test_only: parsed, not added
        Assert.Equal("", _cli.Ok("ipfw -n add 100 deny icmp from any to any"));
        Assert.Equal(65, _cli.Run("ipfw -n add 100 frobnicate ip from any to any").Exit); // still checked
        Assert.Equal("", _cli.Ok("ipfw -q add 100 allow ip from any to any"));
        Assert.Matches(@"(^|\n)00100 0 0 allow ip from any to any\n", _cli.Ok("ipfw -aq list")); // clustered -a
        Assert.Equal("", _cli.Ok("ipfw -n delete 100"));
        Assert.Equal("00100 allow ip from any to any\n65535 deny ip from any to any\n", _cli.Ok("ipfw list"));
        CliResult bad = _cli.Run("ipfw -y list");
        Assert.Equal(64, bad.Exit);
        Assert.Contains("ipfw: illegal option -- y", bad.Err);
        CliResult unsupported = _cli.Run("ipfw -b list");
        Assert.Equal(1, unsupported.Exit);
        Assert.Contains("ipfw: -b:", unsupported.Err);
    }

    [Theory]
    [InlineData("ipfw add 100", 64, "ipfw: missing action\n")]
    [InlineData("ipfw add 100 frobnicate ip from any to any", 65, "ipfw: invalid action frobnicate\n")]
    [InlineData("ipfw add 100 allow bogus from any to any", 65, "ipfw: invalid protocol ``bogus''\n")]
    [InlineData("ipfw add 100 allow ip any to any", 64, "ipfw: missing ``from''\n")]
    [InlineData("ipfw add 100 allow ip from any any", 64, "ipfw: missing ``to''\n")]
    [InlineData("ipfw add 100 allow ip from 1.2.3.4/40 to any", 65, "ipfw: bad width ``40''\n")]
    [InlineData("ipfw add 100 allow ip from nosuchhost to any", 68, "ipfw: hostname ``nosuchhost'' unknown\n")]
    [InlineData("ipfw add 100 allow ip from any to any sideways", 64, "ipfw: unrecognised option [-1] sideways\n")]
    [InlineData("ipfw add 70000 allow ip from any to any", 65, "ipfw: invalid rule number: 70000\n")]
    [InlineData("ipfw delete 4242", 69, "ipfw: rule 4242 not found\n")]
    [InlineData("ipfw pipe 1 config bw fast", 65, "ipfw: bandwidth: invalid value fast\n")]
    [InlineData("ipfw pipe 1 config queue 1000", 65, "ipfw: 2 <= queue size <= 100\n")]
    [InlineData("ipfw pipe 1 config plr 2", 65, "ipfw: plr needs argument 0..1\n")]
    [InlineData("ipfw pipe 1 config wobble 3", 65, "ipfw: unrecognised option ``wobble''\n")]
    [InlineData("ipfw pipe 7 delete", 69, "ipfw: rule 7: setsockopt(IP_DUMMYNET_DEL): Invalid argument\n")]
    public void Bad_input_gets_ipfw_message_and_code_and_changes_nothing(string line, int exit, string err)
    {
        CliResult r = _cli.Run(line);
        Assert.Equal((exit, err), (r.Exit, r.Err));
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Assert.False(IpFw.IsLoaded && IpFw.Chain.Count > 1, "a rule was added");
            Assert.Empty(Vimage.Net.Dummynet.DnIo.Tables.Pipes);
        }
    }

    [Fact]
    public void Pipe_config_and_show_print_like_ipfw()
    {
        _cli.Ok("ipfw pipe 1 config bw 10Mbit/s delay 20 queue 50 plr 0.01 jitter 2ms distribution normal seed 9");
        string show = _cli.Ok("ipfw pipe show");
        Assert.StartsWith("00001:  10.000 Mbit/s   20 ms burst 0\nq131073  50 sl. 0 flows (1 buckets) sched 65537 weight 0 lmax 0 pri 0 droptail\n", show);
        Assert.Contains(" netem plr 0.01 jitter 2ms distribution normal seed 9\n", show);
        Assert.Contains("BKT Prot ___Source IP/port____ ____Dest. IP/port____ Tot_pkt/bytes Pkt/Byte Drp\n", show);
        _cli.Ok("ipfw queue 2 config pipe 1 weight 10");
        Assert.StartsWith("q00002  50 sl. 0 flows (1 buckets) sched 1 weight 10", _cli.Ok("ipfw queue show"));
        Assert.Equal("00100 pipe 1 ip from any to any out\n", _cli.Ok("ipfw add 100 pipe 1 ip from any to any out"));
        Assert.Equal("", _cli.Ok("ipfw pipe 1 delete"));
        Assert.Equal("", _cli.Ok("ipfw pipe show"));
    }
}

/// <summary>The ifconfig delay/loss/rate shorthand (a Vimage extension).</summary>
public sealed class IfconfigShorthandTests : IDisposable
{
    private readonly CliFixture _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public void Delay_loss_rate_create_the_pipe_and_rule()
    {
        string e = _cli.NewEpair();
        int index;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            index = Vimage.Net.Ifnets.Find($"{e}a").Index;
        }

        Assert.Equal("", _cli.Ok($"ifconfig {e}a delay 20ms loss 1% rate 100Mbit"));
        int nr = 60000 + index;
        Assert.Contains($"{nr:D5} pipe {nr} ip from any to any out xmit {e}a\n", _cli.Ok("ipfw list"));
        Assert.Contains("65000 allow ip from any to any\n", _cli.Ok("ipfw list"));
        Assert.StartsWith($"{nr:D5}: 100.000 Mbit/s   20 ms burst 0\n", _cli.Ok($"ipfw pipe {nr} show"));

        CliResult bad = _cli.Run($"ifconfig {e}a delay 20ms loss 200%");
        Assert.Equal((1, "ifconfig: plr needs argument 0..1\n"), (bad.Exit, bad.Err));
        Assert.StartsWith($"{nr:D5}: 100.000 Mbit/s   20 ms burst 0\n", _cli.Ok($"ipfw pipe {nr} show")); // unchanged
    }
}
