using Vimage.Cli.Commands;
using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>route(8) option by option, against route.c's newroute/flushroutes/monitor/print_getmsg.</summary>
public sealed class RouteOptionTests
{
    private const string Usage = "route: usage: route [-j jail] [-46dnqtv] command [[modifiers] args]\n"; // errx(EX_USAGE, ...)

    private static string Setup(CliFixture cli)
    {
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        return e;
    }

    /// <summary>Regression: route -j J re-parsed only the words after -j, so -q (and -t, -v) given before it were lost.</summary>
    [SkippableFact]
    public void Jail_option_keeps_earlier_flags()
    {
        Skip.IfNot(Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"jail -c name=rj vnet vnet.interface={e}b");
        cli.Ok($"jexec rj ifconfig {e}b inet 192.0.2.2/24 up");
        Assert.Equal("", cli.Ok("route -q -j rj add 198.51.100.0/24 192.0.2.1"));
        Assert.Contains("198.51.100.0/24", cli.Ok("jexec rj netstat -rn"));
        Assert.DoesNotContain("198.51.100.0/24", cli.Ok("netstat -rn"));

        Assert.Equal("add net 203.0.113.0: gateway 192.0.2.1\n", cli.Ok("route -t -j rj add 203.0.113.0/24 192.0.2.1"));
        Assert.DoesNotContain("203.0.113.0/24", cli.Ok("jexec rj netstat -rn")); // -t: nothing written
        Assert.Equal("", cli.Ok("route -j rj -q delete 198.51.100.0/24"));
    }

    [Fact]
    public void Prefsrc_is_a_bad_keyword_as_on_freebsd()
    {
        using var cli = new CliFixture();
        Setup(cli);
        CliResult r = cli.Run("route add 198.51.100.0/24 192.0.2.2 -prefsrc 192.0.2.1");
        Assert.Equal(64, r.Exit);
        Assert.Equal("route: bad keyword: prefsrc\n" + Usage, r.Err);
        Assert.DoesNotContain("198.51.100.0/24", cli.Ok("netstat -rn"));

        CliResult none = cli.Run("route");
        Assert.Equal(64, none.Exit);
        Assert.Equal(Usage, none.Err);
        Assert.Equal("route: bad keyword: frob\n" + Usage, cli.Run("route frob").Err);
    }

    [Fact]
    public void Fib_numbers_beyond_net_fibs_are_refused()
    {
        using var cli = new CliFixture();
        Setup(cli);
        Assert.Equal("add net 198.51.100.0: gateway 192.0.2.2\n", cli.Ok("route add -net 198.51.100.0/24 192.0.2.2 -fib 0"));
        int n = int.Parse(cli.Ok("sysctl -n net.fibs").Trim(), System.Globalization.CultureInfo.InvariantCulture); // vnet0's may have grown (FibCommandTests)
        foreach (string fib in new[] { $"{n}", $"0,{n}", $"0-{n}", "x", "-1" })
        {
            CliResult r = cli.Run($"route add -net 203.0.113.0/24 192.0.2.2 -fib {fib}");
            Assert.Equal(64, r.Exit);
            Assert.Equal($"route: invalid fib number: {fib}\n", r.Err);
        }

        Assert.Equal(64, cli.Run($"route get 198.51.100.1 -fib {n + 1}").Exit);
        Assert.Equal(64, cli.Run($"route flush -fib {n + 2}").Exit);
        Assert.Contains("198.51.100.0/24", cli.Ok("netstat -rn"));
    }

    [Fact]
    public void Metrics_mtu_weight_and_lock_show_in_get()
    {
        using var cli = new CliFixture();
        Setup(cli);
        Assert.Equal("add net 198.51.100.0: gateway 192.0.2.2\n", cli.Ok("route add -net 198.51.100.0/24 192.0.2.2 -lock -mtu 1280 -weight 5 -hopcount 3"));
        string get = cli.Ok("route -n get 198.51.100.7");
        Assert.EndsWith("       0         0         0         0      1280         5         0 \n", get);

        CliResult bad = cli.Run("route add -net 203.0.113.0/24 192.0.2.2 -mtu 12ab");
        Assert.Equal(64, bad.Exit); // set_metric: err(EX_USAGE, "%s", value)
        Assert.Equal("route: 12ab: Invalid argument\n", bad.Err);
        Assert.Equal(64, cli.Run("route add -net 203.0.113.0/24 192.0.2.2 -mtu").Exit);
        Assert.DoesNotContain("203.0.113.0/24", cli.Ok("netstat -rn"));

        string wide = cli.Ok("netstat -rnW");
        Assert.Matches(@"\n198\.51\.100\.0/24 +192\.0\.2\.2 +UGS +\d+ +1280 +epair\d+a\n", wide);
    }

    /// <summary>ip_output fragments to the nexthop MTU: a route's -mtu below the interface's cuts datagrams to it.</summary>
    [Fact]
    public void Route_mtu_limits_what_leaves_unfragmented()
    {
        using var cli = new CliFixture();
        Setup(cli);
        cli.Ok("route add -host 198.51.100.5 192.0.2.2 -mtu 1000");
        cli.Ok("route add -host 198.51.100.6 192.0.2.2");
        long Fragmented() => long.Parse(cli.Ok("netstat -s -p ip --libxo json").Split("\"sent-fragments\":")[1].Split(',', '}')[0], System.Globalization.CultureInfo.InvariantCulture);

        long before = Fragmented();
        cli.Run("ping -c 1 -t 1 -s 1200 198.51.100.6"); // 1228 bytes fit the interface's 1500
        Assert.Equal(before, Fragmented());
        cli.Run("ping -c 1 -t 1 -s 1200 198.51.100.5"); // but not the route's 1000
        Assert.Equal(before + 1, Fragmented());

        CliResult df = cli.Run("ping -c 1 -t 1 -D -s 1200 198.51.100.5");
        Assert.Contains("Message too long", df.Err);
    }

    /// <summary>ip_tryforward cuts a forwarded datagram to the route's MTU too (the router fragments, the ping works).</summary>
    [SkippableFact]
    public void Route_mtu_applies_to_forwarding()
    {
        Skip.IfNot(Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        string left = cli.NewEpair(), right = cli.NewEpair();
        cli.Ok($"jail -c name=mr vnet vnet.interface={left}b vnet.interface={right}a");
        cli.Ok($"jail -c name=ms vnet vnet.interface={right}b");
        cli.Ok($"ifconfig {left}a inet 192.0.2.1/24 up");
        cli.Ok("route -q add 198.51.100.0/24 192.0.2.2");
        cli.Ok($"jexec mr ifconfig {left}b inet 192.0.2.2/24 up");
        cli.Ok($"jexec mr ifconfig {right}a inet 198.51.100.1/24 up");
        cli.Ok("jexec mr sysctl net.inet.ip.forwarding=1");
        cli.Ok($"jexec mr route -q add -host 198.51.100.2 -iface {right}a -mtu 600");
        cli.Ok($"jexec ms ifconfig {right}b inet 198.51.100.2/24 up");
        cli.Ok("jexec ms route -q add default 198.51.100.1");

        CliResult ping = cli.Run("ping -c 1 -t 5 -s 1000 198.51.100.2");
        Assert.True(ping.Exit == 0, ping.ToString());
        Assert.Matches(@"\t[1-9]\d* output datagrams? fragmented\n", cli.Ok("jexec mr netstat -sp ip"));
        Assert.Matches(@"\t[1-9]\d* packets? reassembled ok\n", cli.Ok("jexec ms netstat -sp ip"));
    }

    [Fact]
    public void Keywords_gateway_dst_netmask_iface_and_host()
    {
        using var cli = new CliFixture();
        string e = Setup(cli);
        Assert.Equal("add net 198.51.100.0: gateway 192.0.2.2\n", cli.Ok("route add -dst 198.51.100.0 -gateway 192.0.2.2 -netmask 255.255.255.0"));
        Assert.Contains("       mask: 255.255.255.0\n", cli.Ok("route get 198.51.100.9"));
        Assert.Equal("add net 10.0.0.0: gateway 192.0.2.3\n", cli.Ok("route add 10.0.0.0 192.0.2.3")); // host part 0: a net
        Assert.Contains("       mask: 255.0.0.0\n", cli.Ok("route get 10.9.9.9"));
        Assert.Equal("add host 10.1.0.0: gateway 192.0.2.3\n", cli.Ok("route add 10.1.0.0 192.0.2.3")); // host part 1.0.0
        Assert.Equal($"add net 203.0.113.0: gateway {e}a\n", cli.Ok($"route add -net 203.0.113.0/24 -iface {e}a"));
        Assert.Equal("add host 203.0.114.5: gateway 192.0.2.1\n", cli.Ok("route add -host 203.0.114.5 192.0.2.1 -interface"));
        Assert.Contains($"  interface: {e}a\n      flags: <UP,HOST,DONE,STATIC>\n", cli.Ok("route get 203.0.114.5"));
        Assert.Contains("      flags: <UP,GATEWAY,DONE,STATIC,PROTO1>\n",
            cli.Run("route add 198.51.102.0/24 192.0.2.9 -proto1").Exit == 0 ? cli.Ok("route get 198.51.102.1") : "");
        Assert.Contains("      flags: <UP,GATEWAY,DONE>\n",
            cli.Run("route add 198.51.103.0/24 192.0.2.9 -nostatic").Exit == 0 ? cli.Ok("route get 198.51.103.1") : "");
    }

    [Fact]
    public void Change_replaces_gateway_and_reports_missing_route()
    {
        using var cli = new CliFixture();
        Setup(cli);
        cli.Ok("route add 198.51.100.0/24 192.0.2.2");
        Assert.Equal("change net 198.51.100.0: gateway 192.0.2.3\n", cli.Ok("route change 198.51.100.0/24 192.0.2.3"));
        Assert.Contains("    gateway: 192.0.2.3\n", cli.Ok("route get 198.51.100.1"));
        CliResult missing = cli.Run("route change 203.0.113.0/24 192.0.2.3");
        Assert.Equal(1, missing.Exit);
        Assert.Equal("change net 203.0.113.0: gateway 192.0.2.3 fib 0: not in table\n", missing.Out);
        Assert.Equal("del net 198.51.100.0".Replace("del", "delete", StringComparison.Ordinal) + "\n", cli.Ok("route del 198.51.100.0/24"));
    }

    /// <summary>route delete dst gateway removes the route only when it goes through that gateway.</summary>
    [Fact]
    public void Delete_with_a_gateway_must_match_it()
    {
        using var cli = new CliFixture();
        Setup(cli);
        cli.Ok("route add -net 172.16.10.0/24 192.0.2.2");
        CliResult other = cli.Run("route delete -net 172.16.10.0/24 192.0.2.3");
        Assert.Equal(1, other.Exit);
        Assert.Equal("delete net 172.16.10.0: gateway 192.0.2.3 fib 0: not in table\n", other.Out);
        Assert.Contains("172.16.10.0/24", cli.Ok("netstat -rn"));
        Assert.Equal("delete net 172.16.10.0: gateway 192.0.2.2\n", cli.Ok("route delete -net 172.16.10.0/24 192.0.2.2"));
    }

    /// <summary>route(8): "192.168.64/20 is interpreted as -net 192.168.64 -netmask 255.255.240.0".</summary>
    [Fact]
    public void Short_network_forms()
    {
        using var cli = new CliFixture();
        Setup(cli);
        Assert.Equal("add net 10: gateway 192.0.2.2\n", cli.Ok("route add 10/8 192.0.2.2"));
        Assert.Contains("\n10.0.0.0/8 ", cli.Ok("netstat -rn"));
        Assert.Equal("add net 192.168.64: gateway 192.0.2.2\n", cli.Ok("route add 192.168.64/20 192.0.2.2"));
        Assert.Contains("       mask: 255.255.240.0\n", cli.Ok("route get 192.168.70.1"));
        Assert.Equal("add net 0: gateway 192.0.2.2\n", cli.Ok("route add 0/0 192.0.2.2"));
        Assert.Contains("destination: default\n", cli.Ok("route get 203.0.113.1"));
    }

    [Fact]
    public void Show_is_get_and_default_prints_default()
    {
        using var cli = new CliFixture();
        Setup(cli);
        cli.Ok("route add default 192.0.2.254");
        string show = cli.Ok("route show default");
        Assert.StartsWith("   route to: default\ndestination: default\n       mask: default\n    gateway: 192.0.2.254\n        fib: 0\n", show);
        Assert.Equal(show, cli.Ok("route -n get default"));
    }

    [Fact]
    public void Debug_and_test_only_change_nothing()
    {
        using var cli = new CliFixture();
        Setup(cli);
        Assert.Equal("add net 198.51.100.0: gateway 192.0.2.2\n", cli.Ok("route -d add 198.51.100.0/24 192.0.2.2"));
        Assert.DoesNotContain("198.51.100.0/24", cli.Ok("netstat -rn"));
        cli.Ok("route -q add 198.51.100.0/24 192.0.2.2");
        Assert.Equal("", cli.Ok("route -d flush"));
        Assert.Contains("198.51.100.0/24", cli.Ok("netstat -rn"));
        Assert.Equal("Examining routing table from sysctl\n198.51.100           192.0.2.2            -fib 0   done\n", cli.Ok("route -v flush -inet -fib 0"));
    }

    [Fact]
    public async Task Monitor_streams_add_change_and_delete_until_interrupted()
    {
        using var cli = new CliFixture();
        Setup(cli);
        var output = new StringWriter { NewLine = "\n" };
        TextWriter synced = TextWriter.Synchronized(output);
        using var stop = new CancellationTokenSource();
        var dispatcher = CommandDispatcher.CreateDefault();
        Task<int> monitor = Task.Run(() =>
            dispatcher.Run(new CommandContext(Vnet.Vnet0, synced, TextWriter.Null, cli.Jails, stop.Token), ["route", "-n", "monitor"]));

        // The listener exists once the monitor runs: add until a message shows up (the first may precede it).
        string text = WaitFor(() =>
        {
            cli.Run("route -q delete 198.51.100.0/24");
            cli.Ok("route -q add 198.51.100.0/24 192.0.2.2");
            return output.ToString();
        }, "RTM_ADD");
        text = text[text.LastIndexOf("\ngot message", text.IndexOf("RTM_ADD", StringComparison.Ordinal), StringComparison.Ordinal)..];
        Assert.Matches(
            @"\ngot message of size 200 on \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n" +
            @"RTM_ADD: Add Route: len 200, pid: 0, seq 0, errno 0, flags:<UP,GATEWAY,DONE,STATIC>\n" +
            "locks:  inits: \nsockaddrs: <DST,GATEWAY,NETMASK>\n 198.51.100.0 192.0.2.2 255.255.255.0\n", text);

        cli.Ok("route -q change 198.51.100.0/24 192.0.2.3");
        cli.Ok("route -q delete 198.51.100.0/24");
        text = WaitFor(() =>
        {
            string all = output.ToString();
            int change = all.IndexOf("RTM_CHANGE", StringComparison.Ordinal);
            return change < 0 ? "" : all[change..];
        }, "RTM_DELETE");
        Assert.StartsWith("RTM_CHANGE: Change Metrics or flags: len 200, pid: 0, seq 0, errno 0, flags:<UP,GATEWAY,DONE,STATIC>\n", text);
        Assert.Contains("RTM_DELETE: Delete Route: len 200", text);
        Assert.Contains(" 198.51.100.0 192.0.2.3 255.255.255.0\n", text);

        cli.Ok("route -q add 203.0.113.5 192.0.2.2");
        Assert.Contains("sockaddrs: <DST,GATEWAY>\n 203.0.113.5 192.0.2.2\n", WaitFor(output.ToString, "203.0.113.5"));

        stop.Cancel();
        Assert.Same(monitor, await Task.WhenAny(monitor, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.Equal(130, await monitor);
    }

    /// <summary>A listener nobody reads keeps at most ListenerCapacity messages and counts the rest as dropped.</summary>
    [Fact]
    public void Routing_listener_is_bounded_and_closes()
    {
        using var cli = new CliFixture();
        Setup(cli);
        Vimage.Net.Route.RtListener listener;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            listener = Vimage.Net.Route.RtSock.Listen();
        }

        try
        {
            int changes = 0;
            for (int i = 0; i < 700; i++)
            {
                cli.Ok($"route -q add 10.{i / 250}.{i % 250}.0/24 192.0.2.2");
                cli.Ok($"route -q delete 10.{i / 250}.{i % 250}.0/24");
                changes += 2;
            }

            Assert.Equal(Vimage.Net.Route.RtSock.ListenerCapacity, listener.Reader.Count);
            Assert.Equal(changes - Vimage.Net.Route.RtSock.ListenerCapacity, listener.Dropped);
            Assert.True(listener.Reader.TryRead(out Vimage.Net.Route.RtMessage first));
            Assert.Equal(Vimage.Net.Route.RtmType.RTM_ADD, first.Type);
        }
        finally
        {
            listener.Dispose();
        }

        long dropped = listener.Dropped;
        cli.Ok("route -q add 198.51.100.0/24 192.0.2.2");
        Assert.Equal(dropped, listener.Dropped); // closed: no longer told anything
    }

    /// <summary>nhop indexes: routes through one gateway share one; a freed index is reused lowest first.</summary>
    [Fact]
    public void Nexthop_indexes_are_shared_and_reused()
    {
        using var cli = new CliFixture();
        Setup(cli);
        cli.Ok("route add 198.51.100.0/24 192.0.2.2");
        cli.Ok("route add 198.51.101.0/24 192.0.2.2");
        int Nhop(string dst) => int.Parse(CliFixture.LineMatching(cli.Ok("netstat -rnW"), "^" + dst.Replace(".", "\\.", StringComparison.Ordinal) + " ")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[3], System.Globalization.CultureInfo.InvariantCulture);
        int shared = Nhop("198.51.100.0/24");
        Assert.Equal(shared, Nhop("198.51.101.0/24"));
        cli.Ok("route add 203.0.113.0/24 192.0.2.3");
        int other = Nhop("203.0.113.0/24");
        Assert.NotEqual(shared, other);
        cli.Ok("route delete 203.0.113.0/24");
        cli.Ok("route add 203.0.114.0/24 192.0.2.4");
        Assert.Equal(other, Nhop("203.0.114.0/24")); // the freed index again
        cli.Ok("route delete 198.51.100.0/24");
        Assert.Equal(shared, Nhop("198.51.101.0/24")); // still referenced by the other route
    }

    /// <summary>A monitor inside a jail ends like a killed process when the jail is removed (its vnet goes away).</summary>
    [SkippableFact]
    public async Task Monitor_in_a_removed_jail_ends()
    {
        Skip.IfNot(Vnet.IsVimage, "vnet jails need VIMAGE");
        using var cli = new CliFixture();
        cli.Ok("jail -c name=rm vnet");
        var output = new StringWriter { NewLine = "\n" };
        var error = new StringWriter { NewLine = "\n" };
        var dispatcher = CommandDispatcher.CreateDefault();
        Task<int> monitor = Task.Run(() =>
            dispatcher.Run(new CommandContext(Vnet.Vnet0, TextWriter.Synchronized(output), TextWriter.Synchronized(error), cli.Jails), ["route", "-j", "rm", "monitor"]));
        WaitFor(() =>
        {
            cli.Run("jexec rm route -q add 198.51.100.0/24 -iface lo0");
            cli.Run("jexec rm route -q delete 198.51.100.0/24");
            return output.ToString();
        }, "RTM_DELETE");
        cli.Ok("jail -r rm");
        Assert.Same(monitor, await Task.WhenAny(monitor, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.Equal(137, await monitor);
        Assert.Equal("", error.ToString());
    }

    /// <summary>Reads until <paramref name="needle"/> shows up (10 s at most, then fails).</summary>
    internal static string WaitFor(Func<string> read, string needle)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string text;
        while (!(text = read()).Contains(needle, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"'{needle}' never appeared in:\n{text}");
            Thread.Sleep(10);
        }

        return text;
    }
}
