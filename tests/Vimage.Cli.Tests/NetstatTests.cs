using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Cli.Tests;

public sealed class NetstatTests
{
    [Fact]
    public void Routing_table_format()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        cli.Ok("route add default 192.0.2.254");
        string table = cli.Ok("netstat -rn");
        Assert.StartsWith("Routing tables\n\nInternet:\nDestination        Gateway            Flags         Netif Expire\n", table);
        Assert.Equal("default            192.0.2.254        UGS    " + $"{e}a".PadLeft(12), CliFixture.LineMatching(table, "^default "));
        Assert.Matches($@"^192\.0\.2\.0/24 +link#\d+ +U +{e}a$", CliFixture.LineMatching(table, @"^192\.0\.2\.0/24 "));
        Assert.Matches(@"^192\.0\.2\.1 +link#\d+ +UHS +lo0$", CliFixture.LineMatching(table, @"^192\.0\.2\.1 "));

        // The interface index of link#N is the connected interface's.
        string link = CliFixture.LineMatching(table, @"^192\.0\.2\.0/24 ");
        string index = System.Text.RegularExpressions.Regex.Match(link, @"link#(\d+)").Groups[1].Value;
        Assert.Contains($"<Link#{index}>", CliFixture.LineMatching(cli.Ok("netstat -in"), $"^{e}a .*<Link#"));

        // Sorted: default first, then by destination.
        string[] destinations = table.Split('\n').Skip(4).Where(l => l.Length > 0).Select(l => l.Split(' ')[0]).ToArray();
        Assert.Equal("default", destinations[0]);
        Assert.Equal(cli.Ok("netstat -r"), table);
    }

    [Fact]
    public void Interface_table_format()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        string table = cli.Ok("netstat -i");
        string[] lines = table.Split('\n');
        Assert.Matches(@"^Name +Mtu Network       Address              Ipkts Ierrs Idrop    Opkts Oerrs  Coll$", lines[0]);
        Assert.Matches($@"^{e}a +1500 <Link#\d+> +02(:[0-9a-f]{{2}}){{4}}:0a +\d+ +0 +\d+ +\d+ +0 +0$", CliFixture.LineMatching(table, $"^{e}a .*Link"));
        Assert.Matches($@"^{e}a +- 192\.0\.2\.0/24  192\.0\.2\.1 +- +- +- +- +- +-$", CliFixture.LineMatching(table, $@"^{e}a .*192\.0\.2\.0/24"));
        Assert.Matches(@"^lo0 +16384 <Link#\d+> +lo0 ", CliFixture.LineMatching(table, "^lo0 "));
        Assert.Equal(table, cli.Ok("netstat -in"));
    }

    [Fact]
    public void Ip_statistics_text_and_plurals()
    {
        using var cli = new CliFixture();
        cli.Ok("netstat -z");
        string ip = cli.Ok("netstat -s -p ip");
        Assert.StartsWith("ip:\n\t", ip);
        Assert.Contains("\n\t0 bad header checksums\n", ip);
        Assert.Contains("\n\t0 with size smaller than minimum\n", ip);
        Assert.Contains("\n\t0 packets forwarded (0 packets fast forwarded)\n\t0 packets not forwardable\n", ip);
        Assert.Contains("\n\t0 packets for unknown/unsupported protocol\n", ip);
        Assert.EndsWith("\t0 datagrams with bad address in header\n", ip);

        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ip.Stat(IpStat.ips_forward);
            Ip.Stat(IpStat.ips_fastforward);
            Ip.Stat(IpStat.ips_cantforward);
        }

        ip = cli.Ok("netstat -sp ip");
        Assert.Contains("\t1 packet forwarded (1 packet fast forwarded)\n", ip);
        Assert.Contains("\t1 packet not forwardable\n", ip);

        using (Curvnet.Set(Vnet.Vnet0))
        {
            Ip.Stat(IpStat.ips_forward);
            Ip.Stat(IpStat.ips_cantforward);
        }

        ip = cli.Ok("netstat -s -p ip");
        Assert.Contains("\t2 packets forwarded (1 packet fast forwarded)\n", ip);
        Assert.Contains("\t2 packets not forwardable\n", ip);

        // -ss leaves zero lines out; -sz shows, then zeroes.
        string terse = cli.Ok("netstat -ss -p ip");
        Assert.Equal("ip:\n\t2 packets forwarded (1 packet fast forwarded)\n\t2 packets not forwardable\n", WithoutLocalTraffic(terse));
        Assert.Contains("\t2 packets not forwardable\n", cli.Ok("netstat -sz -p ip"));
        Assert.Contains("\t0 packets not forwardable\n", cli.Ok("netstat -s -p ip"));
    }

    /// <summary>Drops the lines that traffic of other tests in vnet0 could add between zeroing and reading.</summary>
    private static string WithoutLocalTraffic(string text)
        => string.Concat(text.Split('\n').Where(l => l.Length > 0 && !l.Contains("total packet") && !l.Contains("for this host") && !l.Contains("sent from this host")).Select(l => l + "\n"));

    [Fact]
    public void All_protocols_and_zeroing()
    {
        using var cli = new CliFixture();
        string all = cli.Ok("netstat -s");
        int tcp = all.IndexOf("tcp:\n\t", StringComparison.Ordinal);
        int udp = all.IndexOf("\nudp:\n\t", StringComparison.Ordinal);
        int ip = all.IndexOf("\nip:\n\t", StringComparison.Ordinal);
        int icmp = all.IndexOf("\nicmp:\n\t", StringComparison.Ordinal);
        int arp = all.IndexOf("\narp:\n\t", StringComparison.Ordinal);
        Assert.True(tcp == 0 && udp > tcp && ip > udp && icmp > ip && arp > icmp, all);

        cli.Ok("netstat -z");
        string u = cli.Ok("netstat -s -p udp");
        Assert.Equal(
            "udp:\n\t0 datagrams received\n\t0 with incomplete header\n\t0 with bad data length field\n\t0 with bad checksum\n" +
            "\t0 with no checksum\n\t0 dropped due to no socket\n\t0 broadcast/multicast datagrams undelivered\n" +
            "\t0 dropped due to full socket buffers\n\t0 not for hashed pcb\n\t0 delivered\n\t0 datagrams output\n" +
            "\t0 times multicast source filter matched\n", u);

        string a = cli.Ok("netstat -s -p arp");
        Assert.StartsWith("arp:\n\t0 ARP requests sent\n\t0 ARP replies sent\n\t0 ARP requests received\n\t0 ARP replies received\n", a);
        Assert.Contains("\t0 ARP entrys timed out\n", a);

        string i = cli.Ok("netstat -s -p icmp");
        Assert.StartsWith("icmp:\n\t0 calls to icmp_error\n\t0 errors not generated in response to an icmp message\n", i);
        Assert.DoesNotContain("histogram", i);
        Assert.Contains("\t0 invalid return addresses\n", i);
    }

    [Fact]
    public void Usage_and_errors()
    {
        using var cli = new CliFixture();
        foreach (string line in new[] { "netstat -y", "netstat -s -p", "netstat foo" })
        {
            CliResult r = cli.Run(line);
            Assert.True(r.Exit == 64, $"{line}: {r}");
            Assert.Contains("usage: netstat", r.Err);
        }

        Assert.Equal((1, "netstat: sctp: unknown or uninstrumented protocol\n"), (cli.Run("netstat -p sctp").Exit, cli.Run("netstat -p sctp").Err));
    }

    /// <summary>
    /// forward.sh's topology: host — epairA — router jail — epairB — server jail. Echoes from the host cross the
    /// router (forwarding=1, redirect=0); netstat in each jail shows its own counters only.
    /// </summary>
    [SkippableFact]
    public void Forwarding_through_a_jail_counts_in_that_jail()
    {
        Skip.IfNot(Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string a = cli.NewEpair();
        string b = cli.NewEpair();
        cli.Ok($"jail -c name=router vnet vnet.interface={a}b vnet.interface={b}a");
        cli.Ok($"jail -c name=server vnet vnet.interface={b}b");
        cli.Ok($"ifconfig {a}a inet 192.0.2.1/24 up");
        cli.Ok($"jexec router ifconfig {a}b inet 192.0.2.2/24 up");
        cli.Ok($"jexec router ifconfig {b}a inet 198.51.100.1/24 up");
        cli.Ok($"jexec server ifconfig {b}b inet 198.51.100.2/24 up");
        cli.Ok("jexec router sysctl net.inet.ip.forwarding=1");
        cli.Ok("jexec router sysctl net.inet.ip.redirect=0");
        cli.Ok("route add -net 198.51.100.0/24 192.0.2.2");
        cli.Ok("jexec server route add default 198.51.100.1");
        Assert.Matches(@"\ndefault +198\.51\.100\.1 +UGS +epair\d+b\n", cli.Ok("jexec server netstat -rn"));
        cli.Ok("netstat -z");
        cli.Ok("jexec router netstat -z");
        cli.Ok("jexec server netstat -z");

        Vnet server = cli.Jails.Find("server").Vnet;
        Assert.Equal(0, CliFixture.SendEcho(Vnet.Vnet0, "198.51.100.2"));
        Assert.True(CliFixture.WaitFor(() => cli.Ok("jexec server netstat -s -p icmp").Contains("echo reply: 1")), cli.Ok("jexec server netstat -s -p icmp"));

        Assert.True(CliFixture.WaitFor(() => cli.Ok("jexec router netstat -sp ip").Contains("\t2 packets forwarded (2 packets fast forwarded)\n")), cli.Ok("jexec router netstat -sp ip"));
        string router = cli.Ok("jexec router netstat -sp ip"); // taken after both echoes crossed the router
        Assert.Contains("\t2 packets forwarded (2 packets fast forwarded)\n", router);
        Assert.Contains("\t0 packets not forwardable\n", router);

        string icmp = cli.Ok("jexec server netstat -s -p icmp");
        Assert.Contains("\tOutput histogram:\n\t\techo reply: 1\n", icmp);
        Assert.Contains("\tInput histogram:\n\t\techo: 1\n", icmp);
        Assert.Contains("\t1 message response generated\n", icmp);

        // The host forwarded nothing; the server's ARP table learnt the router, with a timer.
        Assert.Contains("\t0 packets forwarded", cli.Ok("netstat -s -p ip"));
        Assert.Matches($@"^\? \(198\.51\.100\.1\) at 02(:[0-9a-f]{{2}}){{4}}:0a on {b}b expires in \d+ seconds \[ethernet\]$",
            CliFixture.LineMatching(cli.Ok("jexec server arp -an"), @"198\.51\.100\.1\)"));
        _ = server;

        // A blackhole in the router: forward.sh's "packets not forwardable".
        cli.Ok("jexec router route add 198.51.100.2 -blackhole -fib 0");
        Assert.Equal(0, CliFixture.SendEcho(Vnet.Vnet0, "198.51.100.2", 2));
        Assert.True(CliFixture.WaitFor(() => cli.Ok("jexec router netstat -sp ip").Contains("\t1 packet not forwardable\n")), cli.Ok("jexec router netstat -sp ip"));
    }
}
