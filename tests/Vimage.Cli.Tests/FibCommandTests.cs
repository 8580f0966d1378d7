using System.Globalization;
using Vimage.Cli.Commands;
using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>
/// Multiple FIBs from the command line: sysctl net.fibs, ifconfig IF fib N, route -fib, netstat -F, setfib(1),
/// nc -V. With VIMAGE everything runs in a vnet jail of its own; without it in vnet0, whose net.fibs cannot shrink
/// again (other tests read the current count instead of assuming 1).
/// </summary>
public sealed class FibCommandTests
{
    /// <summary>A jail (VIMAGE) or vnet0 with at least two fibs and an epair end in fib 1 holding 192.0.2.1/24.</summary>
    private static (string P, string E) Setup(CliFixture cli)
    {
        string e = cli.NewEpair();
        string p = "";
        if (Vnet.IsVimage)
        {
            cli.Ok($"jail -c name=fibj vnet vnet.interface={e}a");
            p = "jexec fibj ";
        }

        int current = int.Parse(cli.Ok(p + "sysctl -n net.fibs").Trim(), CultureInfo.InvariantCulture);
        if (current < 2)
        {
            Assert.Equal("net.fibs: 1 -> 2\n", cli.Ok(p + "sysctl net.fibs=2"));
        }

        Assert.Equal("", cli.Ok($"{p}ifconfig {e}a fib 1"));
        cli.Ok($"{p}ifconfig {e}a inet 192.0.2.1/24 up");
        return (p, e);
    }

    private static int NumFibs(CliFixture cli, string p) => int.Parse(cli.Ok(p + "sysctl -n net.fibs").Trim(), CultureInfo.InvariantCulture);

    [Fact]
    public void Net_fibs_is_refused_lower_and_ifconfig_shows_the_interface_fib()
    {
        using var cli = new CliFixture();
        (string p, string e) = Setup(cli);
        CliResult lower = cli.Run(p + "sysctl net.fibs=1");
        Assert.Equal(1, lower.Exit);
        Assert.Equal("sysctl: net.fibs=1: Capabilities insufficient\n", lower.Err); // sysctl_fibs: ENOTCAPABLE
        Assert.Equal("0\n", cli.Ok(p + "sysctl -n net.add_addr_allfibs"));
        Assert.Equal("0\n", cli.Ok(p + "sysctl -n net.my_fibnum"));
        Assert.Equal("1\n", cli.Ok(p + "setfib 1 sysctl -n net.my_fibnum"));

        string shown = cli.Ok($"{p}ifconfig {e}a");
        Assert.Contains("\tfib: 1\n", shown); // iffib.c's fib_status
        Assert.DoesNotContain("fib:", cli.Ok(p + "ifconfig lo0"));
        int n = NumFibs(cli, p);
        CliResult bad = cli.Run($"{p}ifconfig {e}a fib {n}");
        Assert.Equal(0, bad.Exit); // setiffib warns only
        Assert.Equal("ifconfig: ioctl (SIOCSIFFIB): Invalid argument\n", bad.Err);
        Assert.Contains("\tfib: 1\n", cli.Ok($"{p}ifconfig {e}a"));
        Assert.Equal("", cli.Ok($"{p}ifconfig {e}a fib 0"));
        Assert.DoesNotContain("fib:", cli.Ok($"{p}ifconfig {e}a"));
    }

    [Fact]
    public void Route_and_netstat_work_per_fib()
    {
        using var cli = new CliFixture();
        (string p, _) = Setup(cli);
        Assert.DoesNotContain("192.0.2.0/24", cli.Ok(p + "netstat -rn"));
        string fib1 = cli.Ok(p + "netstat -rn -F 1");
        Assert.StartsWith("Routing tables (fib: 1)\n", fib1); // routepr
        Assert.Contains("192.0.2.0/24", fib1);
        Assert.StartsWith("Routing tables (fib: 1)\n", cli.Ok(p + "setfib 1 netstat -rn")); // -F -1: net.my_fibnum
        Assert.StartsWith("Routing tables (fib: 1)\n", cli.Ok(p + "setfib 1 netstat -rn -F -1"));
        Assert.Contains("\"fib\":1", cli.Ok(p + "netstat -rn -F 1 --libxo json"));

        CliResult fib0 = cli.Run(p + "route add -net 198.51.100.0/24 192.0.2.2");
        Assert.Equal(1, fib0.Exit); // the gateway is on no network of fib 0
        Assert.Equal("add net 198.51.100.0: gateway 192.0.2.2 fib 0: Network is unreachable\n", fib0.Out);
        Assert.Equal("add net 198.51.100.0: gateway 192.0.2.2\n", cli.Ok(p + "route add -fib 1 -net 198.51.100.0/24 192.0.2.2"));
        Assert.Contains("        fib: 1\n", cli.Ok(p + "route -n get -fib 1 198.51.100.7"));
        string viaSetfib = cli.Ok(p + "setfib 1 route -n get 198.51.100.7");
        Assert.Contains("    gateway: 192.0.2.2\n        fib: 1\n", viaSetfib);
        Assert.Equal(1, cli.Run(p + "route -n get 198.51.100.7").Exit); // not in fib 0

        // A -fib list: one line for the fibs that took it, one per fib that did not.
        Assert.Equal("add net 203.0.113.0 fib 0,1\n", cli.Ok(p + "route add -fib 0,1 -net 203.0.113.0/24 -blackhole"));
        CliResult again = cli.Run(p + "route add -fib 0-1 -net 203.0.113.0/24 -blackhole");
        Assert.Equal(1, again.Exit);
        Assert.Equal("add net 203.0.113.0 fib 0: route already in table\nadd net 203.0.113.0 fib 1: route already in table\n", again.Out);
        Assert.Equal("delete net 203.0.113.0 fib 0,1\n", cli.Ok(p + "route delete -fib 0,1 -net 203.0.113.0/24"));

        Assert.Equal("198.51.100           192.0.2.2            -fib 1   done\n", cli.Ok(p + "route flush -fib 1"));
        Assert.DoesNotContain("198.51.100.0/24", cli.Ok(p + "netstat -rn -F 1"));

        int n = NumFibs(cli, p);
        Assert.Equal($"route: invalid fib number: {n}\n", cli.Run($"{p}route add -fib {n} -net 203.0.113.0/24 -blackhole").Err);
        Assert.Equal($"netstat: {n}: invalid fib\n", cli.Run($"{p}netstat -rn -F {n}").Err);
    }

    [Fact]
    public void Setfib_checks_its_fib_and_gives_it_to_the_command_sockets()
    {
        using var cli = new CliFixture();
        (string p, _) = Setup(cli);
        int n = NumFibs(cli, p);
        CliResult high = cli.Run($"{p}setfib {n} netstat -rn");
        Assert.Equal(1, high.Exit);
        Assert.Equal($"setfib: {n}: invalid FIB (max {n - 1})\n", high.Err);
        Assert.Equal("setfib: x: invalid FIB (max " + (n - 1).ToString(CultureInfo.InvariantCulture) + ")\n", cli.Run(p + "setfib -F x netstat -rn").Err);
        CliResult usage = cli.Run(p + "setfib 1");
        Assert.Equal(1, usage.Exit);
        Assert.Equal("usage: setfib [-[F]]value command\n", usage.Err);
        Assert.Equal(1, cli.Run(p + "setfib").Exit);

        // ping's socket inherits the fib: our own address is reachable only in fib 1 (its loopback route is there).
        Assert.Equal(0, cli.Run(p + "setfib 1 ping -c 1 -t 2 192.0.2.1").Exit);
        Assert.Equal(0, cli.Run(p + "setfib -1 ping -c 1 -t 2 192.0.2.1").Exit);
        Assert.NotEqual(0, cli.Run(p + "ping -c 1 -t 1 192.0.2.1").Exit);

        // nc -V: SO_SETFIB on the socket, EINVAL beyond net.fibs.
        CliResult nc = cli.Run($"{p}nc -z -V {n} 192.0.2.1 9");
        Assert.Equal(1, nc.Exit);
        Assert.Equal("nc: setsockopt SO_SETFIB: Invalid argument\n", nc.Err);
    }

    [Fact]
    public async Task Route_monitor_with_fib_hears_that_fib_only()
    {
        using var cli = new CliFixture();
        (string p, _) = Setup(cli);
        Vnet vnet = Vnet.IsVimage ? cli.Jails.Find("fibj").Vnet : Vnet.Vnet0;
        var output = new StringWriter { NewLine = "\n" };
        TextWriter synced = TextWriter.Synchronized(output);
        using var stop = new CancellationTokenSource();
        var dispatcher = CommandDispatcher.CreateDefault();
        Task<int> monitor = Task.Run(() =>
            dispatcher.Run(new CommandContext(vnet, synced, TextWriter.Null, cli.Jails, stop.Token), ["route", "monitor", "-fib", "1"]));
        RouteOptionTests.WaitFor(() =>
        {
            cli.Run(p + "route -q delete -fib 1 198.18.190.0/24");
            cli.Ok(p + "route -q add -fib 1 198.18.190.0/24 -blackhole");
            return output.ToString();
        }, "198.18.190.0");

        // Ordered after a fib 0 change: had the monitor heard fib 0, 203.0.113.0 would come before this delete.
        int deletes = Deletes(output.ToString());
        cli.Ok(p + "route -q add -fib 0 203.0.113.0/24 -blackhole");
        cli.Ok(p + "route -q delete -fib 1 198.18.190.0/24");
        RouteOptionTests.WaitFor(() => Deletes(output.ToString()) > deletes ? "seen" : "", "seen");
        Assert.DoesNotContain("203.0.113.0", output.ToString());
        cli.Ok(p + "route -q delete -fib 0 203.0.113.0/24");

        stop.Cancel();
        Assert.Same(monitor, await Task.WhenAny(monitor, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.Equal(130, await monitor);
    }

    private static int Deletes(string text) => text.Split("RTM_DELETE").Length - 1;
}
