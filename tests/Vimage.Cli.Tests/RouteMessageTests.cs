using Vimage.Cli.Commands;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Cli.Tests;

/// <summary>
/// route monitor's interface messages (RTM_NEWADDR, RTM_DELADDR, RTM_IFINFO, RTM_IFANNOUNCE, RTM_REDIRECT) as
/// route.c's print_rtmsg prints them, and a redirect's dynamic route in route get, netstat -rn and netstat -rs.
/// </summary>
public sealed class RouteMessageTests
{
    private static string WaitFor(Func<string> read, string needle) => RouteOptionTests.WaitFor(read, needle);

    private static string From(string text, string needle) => text[text.LastIndexOf("\ngot message", text.IndexOf(needle, StringComparison.Ordinal), StringComparison.Ordinal)..];

    [Fact]
    public async Task Monitor_prints_interface_arrival_status_addresses_and_departure()
    {
        using var cli = new CliFixture();
        string probe = cli.NewEpair();
        cli.Ok($"ifconfig {probe}a inet 192.0.2.1/24 up");
        var output = new StringWriter { NewLine = "\n" };
        TextWriter synced = TextWriter.Synchronized(output);
        using var stop = new CancellationTokenSource();
        var dispatcher = CommandDispatcher.CreateDefault();
        Task<int> monitor = Task.Run(() =>
            dispatcher.Run(new CommandContext(Vnet.Vnet0, synced, TextWriter.Null, cli.Jails, stop.Token), ["route", "monitor"]));
        WaitFor(() =>
        {
            cli.Run("route -q delete 198.51.100.0/24");
            cli.Ok("route -q add 198.51.100.0/24 192.0.2.2");
            return output.ToString();
        }, "RTM_ADD");

        string e = cli.NewEpair();
        int index;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            index = Ifnets.Find(e + "a").Index;
        }

        string text = From(WaitFor(output.ToString, $"if# {index}, what: arrival"), $"if# {index}, what: arrival");
        Assert.Matches(@"^\ngot message of size 24 on \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n" +
                       $"RTM_IFANNOUNCE: iface arrival/departure: len 24, if# {index}, what: arrival\n", text);

        cli.Ok($"ifconfig {e}a up");
        text = From(WaitFor(output.ToString, $"len 168, if# {index}"), $"len 168, if# {index}");
        Assert.Matches($"\nRTM_IFINFO: iface status change: len 168, if# {index}, link: (up|down), flags:<UP,BROADCAST[A-Z,]*SIMPLEX,MULTICAST>\n", text);

        cli.Ok($"ifconfig {e}a inet 198.18.181.1/24");
        text = From(WaitFor(output.ToString, " 198.18.181.0 link#"), "RTM_NEWADDR");
        Assert.Matches(
            "\nRTM_NEWADDR: address being added to iface: len 124, metric 0, flags:<UP>\n" +
            $"sockaddrs: <NETMASK,IFP,IFA,BRD>\n 255.255.255.0 {e}a:2(\\.[0-9a-f]{{1,2}}){{5}} 198.18.181.1 198.18.181.255\n" +
            @"\ngot message of size 240 on .*\nRTM_ADD: Add Route: len 240, pid: 0, seq 0, errno 0, flags:<UP,DONE,PINNED>\n" +
            "locks:  inits: \nsockaddrs: <DST,GATEWAY,NETMASK>\n 198.18.181.0 link#", text); // then the prefix route (in_addprefix)

        cli.Ok($"ifconfig {e}a inet 198.18.181.1 -alias");
        Assert.Contains("RTM_DELADDR: address being removed from iface: len 124, metric 0, flags:<UP>\n",
            WaitFor(output.ToString, "RTM_DELADDR"));

        cli.Ok($"ifconfig {e}a destroy");
        Assert.Contains($"RTM_IFANNOUNCE: iface arrival/departure: len 24, if# {index}, what: departure\n",
            WaitFor(output.ToString, $"if# {index}, what: departure"));

        stop.Cancel();
        Assert.Same(monitor, await Task.WhenAny(monitor, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.Equal(130, await monitor);
    }

    [Fact]
    public void Redirect_message_is_printed_with_its_author()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        Rtentry route;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            route = new Rtentry(InAddr.Parse("203.0.113.9"), 32, InAddr.Parse("192.0.2.3"), Ifnets.Find(e + "a"), RtFlags.RTF_GATEWAY | RtFlags.RTF_UP);
        }

        var message = new RtMessage(RtmType.RTM_REDIRECT, route, 7) { Address = InAddr.Parse("192.0.2.2").ToSockaddr() };
        Assert.Equal(
            "\ngot message of size 200 on Wed Dec  2 03:37:21 2026\n" +
            "RTM_REDIRECT: Told to use different route: len 200, pid: 0, seq 0, errno 0, flags:<UP,GATEWAY,DONE>\n" +
            "locks:  inits: \nsockaddrs: <DST,GATEWAY,AUTHOR>\n 203.0.113.9 192.0.2.3 192.0.2.2\n",
            RouteCommand.FormatRtMessage(message, new DateTime(2026, 12, 2, 3, 37, 21, DateTimeKind.Local)));
    }

    [Fact]
    public void A_redirect_route_shows_dynamic_with_its_expiry_and_is_counted()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        cli.Ok($"ifconfig {e}a inet 192.0.2.1/24 up");
        cli.Ok("route add 203.0.113.0/24 192.0.2.2");
        long Dynamic() => long.Parse(CliFixture.LineMatching(cli.Ok("netstat -rs"), "dynamically created route").Trim().Split(' ')[0],
            System.Globalization.CultureInfo.InvariantCulture);
        long dynamic = Dynamic();
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Routes.AddRedirect(InAddr.Parse("203.0.113.9"), InAddr.Parse("192.0.2.3"), InAddr.Parse("192.0.2.2"), Ifnets.Find(e + "a"), 600);
        }

        string get = cli.Ok("route -n get 203.0.113.9");
        Assert.Contains("destination: 203.0.113.9\n    gateway: 192.0.2.3\n", get);
        Assert.Contains("      flags: <UP,GATEWAY,HOST,DYNAMIC,DONE>\n", get);
        Assert.Matches(@"\n +0 +0 +0 +0 +1500 +1 +(600|599) \n$", get);
        Assert.Matches($"\n203\\.0\\.113\\.9 +192\\.0\\.2\\.3 +UGHD +{e}a +(600|599)\n", cli.Ok("netstat -rn"));
        Assert.Contains("\t" + (dynamic + 1) + " dynamically created route" + (dynamic + 1 == 1 ? "" : "s") + "\n", cli.Ok("netstat -rs"));
        Assert.Equal(dynamic + 1, Dynamic());
    }
}
