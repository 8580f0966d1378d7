using Vimage.Cli.Commands;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Bpf;

namespace Vimage.Cli.Tests;

/// <summary>tcpdump EXPRESSION: only matching packets are printed and counted as captured; bad expressions get libpcap's message.</summary>
public sealed class TcpdumpFilterTests
{
    [Fact]
    public async Task Only_packets_the_expression_keeps_are_printed_and_captured()
    {
        using var cli = new CliFixture();
        string epair = cli.NewEpair();
        Ifnet ifp;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            ifp = Ifnets.Find(epair + "a");
        }

        var output = new StringWriter { NewLine = "\n" };
        var error = new StringWriter { NewLine = "\n" };
        var context = new CommandContext(Vnet.Vnet0, output, error, cli.Jails);
        Task<int> tcpdump = Task.Run(() => new TcpdumpCommand().Run(context, ["-i", epair + "a", "-c", "2", "icmp", "and", "host", "192.0.2.2"]));
        Assert.True(CliFixture.WaitFor(() => ifp.Bpf.SessionCount == 1), "tcpdump did not attach");

        byte[] arp = Ipv4(0x0806, 0, [192, 0, 2, 1], [192, 0, 2, 2]), echo = Ipv4(0x0800, 8, [192, 0, 2, 1], [192, 0, 2, 2]);
        byte[] reply = Ipv4(0x0800, 0, [192, 0, 2, 2], [192, 0, 2, 1]), dns = Ipv4(0x0800, 17, [10, 1, 2, 3], [192, 0, 2, 2]);
        foreach (byte[] frame in new[] { arp, dns, echo, arp, reply, echo })
        {
            ifp.Bpf.Tap(frame, Direction.In);
        }

        Assert.Same(tcpdump, await Task.WhenAny(tcpdump, Task.Delay(TimeSpan.FromSeconds(20))));
        Assert.Equal(0, await tcpdump);
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("192.0.2.1 > 192.0.2.2: ICMP echo request", lines[0]);
        Assert.Contains("192.0.2.2 > 192.0.2.1: ICMP echo reply", lines[1]);
        string stats = error.ToString();
        Assert.Contains("\n2 packets captured\n", stats);
        // Received by filter is every packet the tap saw (FreeBSD's bd_rcount): the five up to the second match, and
        // the last one if it came before the capture detached.
        int received = int.Parse(System.Text.RegularExpressions.Regex.Match(stats, @"\n(\d+) packets received by filter\n").Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(received, 5, 6);
    }

    [Theory]
    [InlineData("tcp port", "tcpdump: can't parse filter expression: syntax error")]
    [InlineData("port 99999", "tcpdump: can't parse filter expression: illegal port number 99999 > 65535")]
    [InlineData("host foo", "tcpdump: can't parse filter expression: unknown host 'foo'")]
    public void A_bad_expression_is_libpcaps_error_and_exit_1_before_capturing(string expression, string message)
    {
        using var cli = new CliFixture();
        string epair = cli.NewEpair();
        CliResult r = cli.RunIn(Vnet.Vnet0, ["tcpdump", "-i", epair + "a", .. expression.Split(' ')]);
        Assert.Equal(1, r.Exit);
        Assert.Equal(message + "\n", r.Err);
        Assert.Equal("", r.Out);
    }

    /// <summary>An Ethernet frame: ARP request (0x0806), or IPv4 carrying an ICMP echo (8), echo reply (0) or a UDP datagram (17).</summary>
    private static byte[] Ipv4(ushort type, byte what, byte[] src, byte[] dst)
    {
        var f = new byte[60];
        f.AsSpan(0, 6).Fill(0xff);
        f[6] = 0x02;
        f[11] = 1;
        f[12] = (byte)(type >> 8);
        f[13] = (byte)type;
        if (type == 0x0806)
        {
            byte[] arp = [0, 1, 0x08, 0, 6, 4, 0, 1, 0x02, 0, 0, 0, 0, 1];
            arp.CopyTo(f, 14);
            src.CopyTo(f, 28);
            dst.CopyTo(f, 38);
            return f;
        }

        f[14] = 0x45;
        f[17] = 28 + 8; // total length
        f[22] = 64;
        f[23] = what == 17 ? (byte)17 : (byte)1;
        src.CopyTo(f, 26);
        dst.CopyTo(f, 30);
        f[34] = what == 17 ? (byte)0x14 : what; // ICMP type, or UDP source port 0x14e9 (5353)
        f[35] = what == 17 ? (byte)0xe9 : (byte)0;
        f[37] = what == 17 ? (byte)53 : (byte)0;
        return f;
    }
}
