using System.Diagnostics;
using Vimage.Cli.Commands;

namespace Vimage.Cli.Tests;

/// <summary>ping(8)'s IPv4 options: one test per option or per error, against FreeBSD 14's messages and exit codes.</summary>
public sealed class PingOptionTests
{
    /// <summary>An epair end with an address whose peer never answers ARP: a silent host at 192.0.2.9.</summary>
    private static void SilentLink(CliFixture cli)
    {
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        cli.Ok($"ifconfig {e}b up");
    }

    [Fact]
    public void Timeout_bounds_the_final_wait()
    {
        using var cli = new CliFixture();
        SilentLink(cli);
        var clock = Stopwatch.StartNew();
        CliResult r = cli.Run("ping -c 1 -t 1 192.0.2.9");
        Assert.Equal(2, r.Exit);
        Assert.Contains("1 packets transmitted, 0 packets received, 100.0% packet loss", r.Out);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"-t 1 took {clock.Elapsed} (the 10 s final wait was not cut)");
    }

    [Fact]
    public void Waittime_sets_the_final_wait_for_a_silent_host()
    {
        using var cli = new CliFixture();
        SilentLink(cli);
        var clock = Stopwatch.StartNew();
        CliResult r = cli.Run("ping -c 1 -W 300 192.0.2.9");
        Assert.Equal(2, r.Exit);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"-W 300 took {clock.Elapsed}");
    }

    [Theory]
    [InlineData("ping -t 0 127.0.0.1", "ping: invalid timeout: `0'")]
    [InlineData("ping -t 3601 127.0.0.1", "ping: invalid timeout: `3601' > 3600")]
    [InlineData("ping -c 0 127.0.0.1", "ping: invalid count of packets to transmit: `0'")]
    [InlineData("ping -i x 127.0.0.1", "ping: invalid timing interval: `x'")]
    [InlineData("ping -m 256 127.0.0.1", "ping: invalid TTL: `256'")]
    [InlineData("ping -s 65508 127.0.0.1", "ping: packet size too large: 65508 > 65507")]
    [InlineData("ping -R -s 65468 127.0.0.1", "ping: packet size too large: 65468 > 65467")]
    [InlineData("ping -l x 127.0.0.1", "ping: invalid preload value: `x'")]
    [InlineData("ping -f -i 1 127.0.0.1", "ping: -f and -i: incompatible options")]
    [InlineData("ping -M x 127.0.0.1", "ping: invalid message: `x'")]
    [InlineData("ping -M m -M t 127.0.0.1", "ping: ICMP_TSTAMP and ICMP_MASKREQ are exclusive.")]
    [InlineData("ping -M t -s 65496 127.0.0.1", "ping: packet size too large: 65496 > 65495")]
    [InlineData("ping -M m -s 65504 127.0.0.1", "ping: packet size too large: 65504 > 65503")]
    [InlineData("ping -C 8 127.0.0.1", "ping: invalid PCP: `8'")]
    [InlineData("ping -z 256 127.0.0.1", "ping: invalid TOS: `256'")]
    [InlineData("ping -p xz 127.0.0.1", "ping: patterns must be specified as hex digits")]
    [InlineData("ping", "ping: no host given")]
    public void Bad_values_are_usage_errors(string line, string message)
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run(line);
        Assert.Equal(CommandDispatcher.ExitUsage, r.Exit);
        Assert.StartsWith(message + "\n", r.Err);
    }

    [Fact]
    public void Unknown_host_is_exit_68()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -c 1 no.such.host");
        Assert.Equal(68, r.Exit);
        Assert.Equal("ping: cannot resolve no.such.host: Unknown host\n", r.Err);
    }

    [Fact]
    public void Flood_prints_a_dot_per_request_and_a_backspace_per_reply()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -f -c 5 127.0.0.1");
        Assert.True(r.Exit == 0, r.ToString());
        string body = r.Out.Split('\n')[1];
        Assert.Equal(5, body.Count(c => c == '.'));
        Assert.Equal(5, body.Count(c => c == '\b'));
        Assert.DoesNotContain("bytes from", r.Out);
        Assert.Contains("5 packets transmitted, 5 packets received", r.Out);
    }

    [Fact]
    public void Once_stops_at_the_first_reply()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -o 127.0.0.1");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("1 packets transmitted, 1 packets received", r.Out);
    }

    [Fact]
    public void Preload_sends_at_once()
    {
        using var cli = new CliFixture();
        var clock = Stopwatch.StartNew();
        CliResult r = cli.Run("ping -q -l 3 -c 3 127.0.0.1");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("3 packets transmitted, 3 packets received", r.Out);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.9), $"-l 3 -c 3 took {clock.Elapsed}: the preload was not sent at once");
    }

    [Fact]
    public void Quiet_prints_only_the_summary()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -q -c 1 127.0.0.1");
        Assert.DoesNotContain("bytes from", r.Out);
        Assert.Contains("round-trip min/avg/max/stddev = ", r.Out);
    }

    [Fact]
    public void Audible_rings_on_each_reply()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -a -c 1 127.0.0.1");
        Assert.Contains(" ms\a\n", r.Out);
    }

    [Fact]
    public void Ttl_and_size_are_used()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -c 1 -m 7 -s 100 127.0.0.1");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("PING 127.0.0.1 (127.0.0.1): 100 data bytes", r.Out);
        Assert.Contains("108 bytes from 127.0.0.1: icmp_seq=0 ", r.Out);
    }

    [Theory]
    [InlineData("ping -c1 -4 -n -H -d -v 127.0.0.1")]
    [InlineData("ping -c1 -Q 127.0.0.1")]
    [InlineData("ping -c1 -A 127.0.0.1")]
    [InlineData("ping -c1 -i 0.01 127.0.0.1")]
    [InlineData("ping -c1 -R 127.0.0.1")]
    public void Accepted_flags_ping(string line)
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run(line);
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("1 packets received", r.Out);
    }

    [Theory]
    [InlineData("ping -G 100 127.0.0.1", "ping: -G: sweeping ping")]
    [InlineData("ping -I 127.0.0.1 224.0.0.1", "ping: -I: multicast ping")]
    [InlineData("ping -C 1 127.0.0.1", "ping: -C: VLAN priority")]
    [InlineData("ping -S 192.0.2.77 127.0.0.1", "ping: bind: Can't assign requested address")]
    public void Missing_features_exit_1_before_sending(string line, string message)
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run(line);
        Assert.Equal(1, r.Exit);
        Assert.StartsWith(message, r.Err);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void Source_address_is_bound_and_shown()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -c 1 -S 127.0.0.1 127.0.0.1");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.StartsWith("PING 127.0.0.1 (127.0.0.1) from 127.0.0.1: 56 data bytes\n", r.Out);
    }

    [Fact]
    public void Pattern_is_announced_and_echoed_back()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -c 1 -p abcd 127.0.0.1");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.StartsWith("PATTERN: 0xabcd\nPING 127.0.0.1", r.Out);
    }

    [Fact]
    public void Tos_and_dont_fragment_go_out()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -c 1 -z 16 -D 127.0.0.1");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Contains("1 packets received", r.Out);
    }

    [Fact]
    public void Dont_fragment_refuses_a_request_bigger_than_the_mtu()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        cli.Ok($"ifconfig {e}b up");
        CliResult r = cli.Run("ping -c 1 -t 1 -D -s 2000 192.0.2.9");
        Assert.Equal(2, r.Exit);
        Assert.Contains("ping: sendto: Message too long", r.Err);
    }

    /// <summary>ping -R prints the route of the first reply one address a line, then "(same route)" (pr_pack).</summary>
    [Fact]
    public void Record_route_is_printed_as_pr_pack_does()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -c 2 -i 0.1 -R 127.0.0.1");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Matches(@"\n64 bytes from 127\.0\.0\.1: icmp_seq=0 ttl=64 time=[0-9.]+ ms\nRR: \t127\.0\.0\.1\n\t127\.0\.0\.1\n", r.Out);
        Assert.Matches(@"\n64 bytes from 127\.0\.0\.1: icmp_seq=1 ttl=64 time=[0-9.]+ ms\t\(same route\)\n", r.Out);
    }

    /// <summary>ping -R between two vnet jails: the far end, then our own address (both recorded on input).</summary>
    [SkippableFact]
    public void Record_route_between_jails_shows_both_ends()
    {
        Skip.IfNot(Vimage.Core.Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"jail -c name=rra vnet vnet.interface={e}a");
        cli.Ok($"jail -c name=rrb vnet vnet.interface={e}b");
        cli.Ok($"jexec rra ifconfig {e}a inet 192.0.2.1/24 up");
        cli.Ok($"jexec rrb ifconfig {e}b inet 192.0.2.2/24 up");
        CliResult r = cli.Run("jexec rra ping -c 1 -R 192.0.2.2");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.Matches(@"\n64 bytes from 192\.0\.2\.2: icmp_seq=0 ttl=64 time=[0-9.]+ ms\nRR: \t192\.0\.2\.2\n\t192\.0\.2\.1\n", r.Out);
    }

    /// <summary>ping -M t: ICMP timestamp request, the reply's three times as pr_ntime prints them.</summary>
    [Fact]
    public void Timestamp_request_is_answered()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -c 1 -M t 127.0.0.1");
        Assert.True(r.Exit == 0, r.ToString());
        Assert.StartsWith("ICMP_TSTAMP\nPING 127.0.0.1 (127.0.0.1): 56 data bytes\n", r.Out);
        Assert.Matches(@"\n76 bytes from 127\.0\.0\.1: icmp_seq=0 ttl=64 time=[0-9.]+ ms tso=\d\d:\d\d:\d\d tsr=\d\d:\d\d:\d\d tst=\d\d:\d\d:\d\d\n", r.Out);
    }

    /// <summary>ping -M m: no answer while net.inet.icmp.maskrepl is 0 (FreeBSD's default), the mask once it is 1.</summary>
    [Fact]
    public void Mask_request_needs_maskrepl()
    {
        using var cli = new CliFixture();
        CliResult none = cli.Run("ping -c 1 -t 1 -M m 127.0.0.1");
        Assert.Equal(2, none.Exit);
        Assert.StartsWith("ICMP_MASKREQ\nPING 127.0.0.1", none.Out);
        cli.Ok("sysctl net.inet.icmp.maskrepl=1");
        try
        {
            CliResult r = cli.Run("ping -c 1 -M m 127.0.0.1");
            Assert.True(r.Exit == 0, r.ToString());
            Assert.Matches(@"\n68 bytes from 127\.0\.0\.1: icmp_seq=0 ttl=64 time=[0-9.]+ ms mask=255\.0\.0\.0\n", r.Out);
        }
        finally
        {
            cli.Ok("sysctl net.inet.icmp.maskrepl=0");
        }
    }
}
