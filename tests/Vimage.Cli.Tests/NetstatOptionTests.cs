using System.Text.Json;
using System.Xml.Linq;

namespace Vimage.Cli.Tests;

/// <summary>netstat(1) option by option against FreeBSD 14's usr.bin/netstat (if.c intpr, route.c, nhops.c, inet.c).</summary>
public sealed class NetstatOptionTests
{
    private static string Setup(CliFixture cli)
    {
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        return e;
    }

    [Fact]
    public void Interface_option_bytes_and_drops()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        string one = cli.Ok($"netstat -I {e}a -bdW");
        string[] lines = one.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length); // header, link row, address row: only that interface
        Assert.Matches(@"^Name +Mtu Network +Address +Ipkts Ierrs Idrop     Ibytes    Opkts Oerrs     Obytes  Coll  Drop$", lines[0]);
        Assert.Matches($@"^{e}a +1500 <Link#\d+> +02(:[0-9a-f]{{2}}){{5}} +\d+ +\d+ +\d+ +\d+ +\d+ +\d+ +\d+ +\d+ +\d+$", lines[1]);
        Assert.Matches($@"^{e}a +- 192\.0\.2\.0/24 +192\.0\.2\.1 +(- +){{8}}-$", lines[2]);

        // A down interface is marked with '*' (intpr); -f link leaves the address rows out.
        string down = cli.Ok($"netstat -inW -I {e}b -f link");
        Assert.Matches($@"\n{e}b\* +1500 <Link#\d+>", down);
        Assert.Equal(2, down.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        // -4 keeps only the address rows.
        string inet = cli.Ok($"netstat -i4W -I {e}a");
        Assert.DoesNotContain("<Link#", inet);
        Assert.Contains("192.0.2.1", inet);

        // Bytes follow the counters: a ping out of the interface adds Obytes.
        long before = ObytesOf(cli.Ok($"netstat -I {e}a -bW"));
        cli.Run("ping -c 1 -t 1 192.0.2.2");
        Assert.True(ObytesOf(cli.Ok($"netstat -I {e}a -bW")) > before);
    }

    private static long ObytesOf(string table) => long.Parse(table.Split('\n')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[8], System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Wide_routes_show_nexthop_index_and_mtu()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        cli.Ok("route add 198.51.100.0/24 192.0.2.2");
        cli.Ok("route add 203.0.113.0/24 192.0.2.2 -mtu 1400");
        cli.Ok("route add 198.51.101.0/24 192.0.2.2");
        string table = cli.Ok("netstat -rnW");
        Assert.Contains("\nDestination        Gateway            Flags   Nhop#    Mtu      Netif Expire\n", table);
        string a = CliFixture.LineMatching(table, @"^198\.51\.100\.0/24 ");
        string b = CliFixture.LineMatching(table, @"^198\.51\.101\.0/24 ");
        string c = CliFixture.LineMatching(table, @"^203\.0\.113\.0/24 ");
        Assert.Matches($@"^198\.51\.100\.0/24 +192\.0\.2\.2 +UGS +\d+ +1500 +{e}a$", a);
        Assert.Equal(a.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3], b.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]); // one shared nexthop
        Assert.NotEqual(a.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3], c.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3]); // own MTU: own nexthop
        Assert.Contains(" 1400 ", c);

        // netstat -o lists each nexthop once, with its reference count.
        string nhops = cli.Ok("netstat -on");
        Assert.StartsWith("Nexthop data\n\nInternet:\nIdx   IFA                Gateway            Flags     Netif  Refcnt\n", nhops);
        Assert.Matches(@"\n\d+ +192\.0\.2\.1 +192\.0\.2\.2 +UG +" + e + @"a +2 \n", nhops);
        string wide = cli.Ok("netstat -oW");
        Assert.Contains("Idx   Type         IFA                Gateway             Flags      Use Mtu         Netif     Addrif Refcnt Prepend\n", wide);
        Assert.Contains("v4/gw", wide);
    }

    [Fact]
    public void Fib_option_checks_net_fibs()
    {
        using var cli = new CliFixture();
        Assert.StartsWith("Routing tables\n", cli.Ok("netstat -rn -F 0"));
        int n = int.Parse(cli.Ok("sysctl -n net.fibs").Trim(), System.Globalization.CultureInfo.InvariantCulture); // vnet0's may have grown (FibCommandTests)
        CliResult one = cli.Run($"netstat -rn -F {n}");
        Assert.Equal(64, one.Exit); // routepr: errx(EX_USAGE, "%d: invalid fib")
        Assert.Equal($"netstat: {n}: invalid fib\n", one.Err);
        CliResult junk = cli.Run("netstat -rn -F x");
        Assert.Equal(65, junk.Exit); // main: xo_errx(EX_DATAERR, "%s: invalid fib")
        Assert.Equal("netstat: x: invalid fib\n", junk.Err);
    }

    [Fact]
    public void Libxo_json_for_interfaces_routes_and_statistics()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        cli.Ok("route add default 192.0.2.254");

        using JsonDocument ifs = JsonDocument.Parse(cli.Ok("netstat -i --libxo json"));
        JsonElement rows = ifs.RootElement.GetProperty("statistics").GetProperty("interface");
        JsonElement link = rows.EnumerateArray().First(r => r.GetProperty("name").GetString() == $"{e}a" && r.GetProperty("network").GetString()!.StartsWith("<Link#", StringComparison.Ordinal));
        Assert.Equal(1500, link.GetProperty("mtu").GetInt32());
        Assert.True(link.GetProperty("sent-packets").GetInt64() >= 0);
        Assert.Equal("0x8843", link.GetProperty("flags").GetString());
        JsonElement addr = rows.EnumerateArray().First(r => r.GetProperty("address").GetString() == "192.0.2.1");
        Assert.Equal("192.0.2.0/24", addr.GetProperty("network").GetString());
        Assert.False(addr.TryGetProperty("received-errors", out _)); // a dash in text is no field in JSON

        using JsonDocument rt = JsonDocument.Parse(cli.Ok("netstat -rn --libxo=json"));
        JsonElement family = rt.RootElement.GetProperty("statistics").GetProperty("route-information").GetProperty("route-table").GetProperty("rt-family")[0];
        Assert.Equal("Internet", family.GetProperty("address-family").GetString());
        JsonElement def = family.GetProperty("rt-entry").EnumerateArray().First(r => r.GetProperty("destination").GetString() == "default");
        Assert.Equal("192.0.2.254", def.GetProperty("gateway").GetString());
        Assert.Equal("UGS", def.GetProperty("flags").GetString());
        Assert.Equal("up,gateway,static", string.Join(",", def.GetProperty("flags_pretty").EnumerateArray().Select(f => f.GetString())));
        Assert.Equal($"{e}a", def.GetProperty("interface-name").GetString());

        using JsonDocument st = JsonDocument.Parse(cli.Ok("netstat -s -p arp --libxo json,pretty"));
        JsonElement arp = st.RootElement.GetProperty("statistics").GetProperty("arp");
        Assert.Equal(JsonValueKind.Number, arp.GetProperty("dropped-duplicate-address").ValueKind);
        Assert.True(arp.TryGetProperty("sent-requests", out _));

        using JsonDocument ip = JsonDocument.Parse(cli.Ok("netstat -s --libxo json"));
        JsonElement stats = ip.RootElement.GetProperty("statistics");
        foreach (string p in new[] { "tcp", "udp", "ip", "icmp", "arp" })
        {
            Assert.Equal(JsonValueKind.Object, stats.GetProperty(p).ValueKind);
        }

        Assert.True(stats.GetProperty("ip").GetProperty("forwarded-packets").GetInt64() >= 0);
        Assert.True(stats.GetProperty("tcp").GetProperty("syncache").GetProperty("entries-added").GetInt64() >= 0);
    }

    [Fact]
    public void Libxo_xml_and_bad_libxo_options()
    {
        using var cli = new CliFixture();
        XElement root = XElement.Parse(cli.Ok("netstat -s -p udp --libxo xml"));
        Assert.Equal("statistics", root.Name.LocalName);
        Assert.NotNull(root.Element("udp")?.Element("received-datagrams"));

        CliResult bad = cli.Run("netstat -s --libxo frob");
        Assert.Equal(1, bad.Exit);
        Assert.Contains("frob", bad.Err);
        Assert.Equal(1, cli.Run("netstat -i --libxo html").Exit);
    }

    [Fact]
    public void Tcp_statistics_print_freebsd_lines()
    {
        using var cli = new CliFixture();
        cli.Ok("netstat -z -p tcp");
        string tcp = cli.Ok("netstat -s -p tcp");
        Assert.StartsWith("tcp:\n\t0 packets sent\n\t\t0 data packets (0 bytes)\n\t\t0 data packets (0 bytes) retransmitted\n", tcp);
        Assert.Contains("\n\t\t0 ack-only packets (0 delayed)\n", tcp);
        Assert.Contains("\n\t0 connection requests\n", tcp);
        Assert.Contains("\n\t0 connections closed (including 0 drops)\n", tcp);
        Assert.Contains("\n\t\t0 discarded because packet too short\n", tcp);
        Assert.Contains("\n\t0 syncache entries added\n\t\t0 retransmitted\n", tcp);
        Assert.Contains("\n\t0 SACK recovery episodes\n", tcp);

        // -ss: only lines with a count.
        Assert.StartsWith("tcp:\n", cli.Ok("netstat -ss -p tcp"));
        Assert.DoesNotContain("\t0 ", cli.Ok("netstat -ss -p tcp"));
    }

    [Fact]
    public void Routing_statistics_and_unsupported_letters()
    {
        using var cli = new CliFixture();
        long dynamic; // vnet0's redirect routes so far (other tests apply some; without VIMAGE vnet0 is the only vnet)
        using (Vimage.Core.Curvnet.Set(Vimage.Core.Vnet.Vnet0))
        {
            dynamic = Vimage.Net.Route.RtStats.Fetch(Vimage.Net.Route.RtStat.rts_dynamic);
        }

        Assert.Equal($"routing:\n\t0 bad routing redirects\n\t{dynamic} dynamically created route{(dynamic == 1 ? "" : "s")}\n\t0 new gateways due to redirects\n\t0 destinations found unreachable\n\t0 uses of a wildcard route\n", cli.Ok("netstat -rs"));
        Assert.Equal(1, cli.Run("netstat -rn extra").Exit); // netstat's usage() exits 1
    }

    [Fact]
    public async Task Wait_interval_prints_sidewaysintpr_lines_of_differences_and_q_ends_it()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        var output = new StringWriter { NewLine = "\n" };
        var error = new StringWriter { NewLine = "\n" };
        var context = new Vimage.Cli.Commands.CommandContext(Vimage.Core.Vnet.Vnet0, output, error, cli.Jails);
        Task<int> netstat = Task.Run(() => new Vimage.Cli.Commands.NetstatCommand().Run(context, ["-w", "1", "-q", "2", "-I", e + "a"]));
        Assert.True(CliFixture.WaitFor(() => output.ToString().Contains("colls\n", StringComparison.Ordinal)), "no header");

        // Traffic during the first interval: an echo to an unknown neighbour sends an ARP request out of e+"a".
        CliFixture.SendEcho(Vimage.Core.Vnet.Vnet0, "192.0.2.99");
        Assert.Same(netstat, await Task.WhenAny(netstat, Task.Delay(TimeSpan.FromSeconds(20))));
        Assert.Equal(0, await netstat);
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length); // two header lines, then -q 2 rows
        Assert.Equal($"            input {e + "a",14}           output", lines[0]);
        Assert.Equal("   packets  errs idrops      bytes    packets  errs      bytes colls", lines[1]);
        long[] first = lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(long.Parse).ToArray();
        Assert.Equal(8, first.Length);
        Assert.True(first[4] >= 1 && first[6] >= 42, $"the ARP request is not in the first interval: {lines[2]}");
        Assert.Equal(0, first[1]);

        CliResult missing = cli.Run("netstat -w 1 -q 1 -I nosuch0");
        Assert.Equal(65, missing.Exit); // fill_iftot's xo_err(EX_DATAERR, ...)
        Assert.Equal("netstat: interface nosuch0 not found\n", missing.Err);
    }
}

/// <summary>netstat -h: humanize_number as show_stat calls it.</summary>
public sealed class NetstatHumanizeTests
{
    [Theory]
    [InlineData(0, 1000, "0")]
    [InlineData(999, 1000, "999")]
    [InlineData(1000, 1000, "1.0K")]
    [InlineData(1500, 1000, "1.5K")]
    [InlineData(12345, 1000, "12K")]
    [InlineData(999_999, 1000, "1M")] // the remainder rounds up past 9.5: no decimal
    [InlineData(16384, 1024, "16K")]
    [InlineData(1536, 1024, "1.5K")]
    public void Humanize_number(long value, int divisor, string expected)
        => Assert.Equal(expected, Vimage.Cli.Commands.NetstatCommand.Humanize(value, divisor));

    [Fact]
    public void Dash_h_applies_to_the_interface_table()
    {
        using var cli = new CliFixture();
        Assert.Matches(@"\nlo0 +16K <Link#", cli.Ok("netstat -ihW"));
    }
}
