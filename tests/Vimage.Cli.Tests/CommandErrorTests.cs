using Vimage.Cli.Commands;
using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>
/// User errors get the FreeBSD tool's message and exit status, never "internal error" (exit 70): the reported
/// cases, and a sweep feeding hostile values to every command's options and arguments.
/// </summary>
public sealed class CommandErrorTests
{
    private static readonly string[] Hostile =
    [
        "", "-1", "0", "99999999999999999999", "1e400", "abc\u0001def", new string('x', 300), "/nonexistent/dir/x.pcap",
        "224.0.0.1/24", "1.2.3.4/99", "-",
    ];

    [Fact]
    public void Clone_unit_that_overflows_is_a_clean_error()
    {
        using var cli = new CliFixture();
        CliResult tooLong = cli.Run("ifconfig epair99999999999999 create");
        Assert.Equal(1, tooLong.Exit);
        Assert.Equal("ifconfig: interface name 'epair99999999999999' too long\n", tooLong.Err);

        CliResult huge = cli.Run("ifconfig epair9999999999 create"); // fits IFNAMSIZ, overflows an int
        Assert.Equal(1, huge.Exit);
        Assert.StartsWith("ifconfig: SIOCIFCREATE2 (epair9999999999): ", huge.Err);
        Assert.DoesNotContain("internal error", huge.Err);
    }

    [Fact]
    public void Tcpdump_file_that_cannot_be_created_is_tcpdumps_message()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("tcpdump -i lo0 -w /nonexistent/x.pcap");
        Assert.Equal(1, r.Exit);
        Assert.Equal("tcpdump: /nonexistent/x.pcap: No such file or directory\n", r.Err);

        CliResult noIf = cli.Run("tcpdump -i nosuch0");
        Assert.Equal(1, noIf.Exit);
        Assert.Equal("tcpdump: nosuch0: No such device exists\n(BIOCSETIF failed: Device not configured)\n", noIf.Err);

        CliResult duration = cli.Run("tcpdump -i lo0 --duration 1e300");
        Assert.Equal(CommandDispatcher.ExitUsage, duration.Exit);
    }

    [Fact]
    public void Ping_numbers_out_of_range_are_usage_errors()
    {
        using var cli = new CliFixture();
        CliResult r = cli.Run("ping -c 99999999999999999999 127.0.0.1");
        Assert.Equal(CommandDispatcher.ExitUsage, r.Exit);
        Assert.StartsWith("ping: invalid count of packets to transmit: `99999999999999999999'\n", r.Err);
    }

    [Fact]
    public void Jail_names_follow_kern_jail_set()
    {
        using var cli = new CliFixture();
        string longName = new('j', JailRegistry.MaxNameLength + 1);
        AssertRefused(cli.RunIn(Vnet.Vnet0, "jail", "-c", "name=" + longName, "vnet"), "jail_set: File name too long");
        AssertRefused(cli.RunIn(Vnet.Vnet0, "jail", "-c", "name=a\u0007b", "vnet"), "jail: a\\x07b: name contains a control character");
        AssertRefused(cli.RunIn(Vnet.Vnet0, "jail", "-c", "name=007", "vnet"), "jail: 007: name cannot be numeric (unless it is the jid)");
        AssertRefused(cli.RunIn(Vnet.Vnet0, "jail", "-c", "name=nosuch.child", "vnet"), "jail: nosuch.child: jail \"nosuch\" not found");
        AssertRefused(cli.RunIn(Vnet.Vnet0, "jail", "-c", "name=", "vnet"), "jail: name: Invalid argument");
        Assert.Empty(cli.Jails.All);
    }

    [Fact]
    public void Unknown_jail_is_jail_getids_message_under_each_tool()
    {
        using var cli = new CliFixture();
        Assert.Equal("jexec: jail \"ghost\" not found\n", cli.Run("jexec ghost ifconfig").Err);
        Assert.Equal("jail: jail \"ghost\" not found\n", cli.Run("jail -r ghost").Err);
        Assert.Equal("ifconfig: jail \"ghost\" not found\n", cli.Run("ifconfig -j ghost -l").Err);
        Assert.Equal("ifconfig: jail \"ghost\" not found\n", cli.Run("ifconfig lo0 vnet ghost").Err);
        Assert.Equal("tcpdump: : No such file or directory\n", cli.RunIn(Vnet.Vnet0, "tcpdump", "-i", "lo0", "-w", "").Err);
    }

#if VIMAGE
    [Fact]
    public void Numeric_jail_name_is_its_jid_and_duplicates_are_refused()
    {
        using var cli = new CliFixture();
        cli.Ok("jail -c name=42 vnet");
        Jail j = cli.Jails.Find("42");
        Assert.Equal(42, j.Jid);
        Assert.Equal("42", j.Name);
        AssertRefused(cli.Run("jail -c name=42 vnet"), "jail: 42: jail 42 already exists");
        cli.Ok("jail -c name=web vnet");
        AssertRefused(cli.Run("jail -c name=web vnet"), "jail: web: jail \"web\" already exists");
        Assert.Equal(2, cli.Jails.All.Count);
    }
#endif

    [Fact]
    public void Hostile_values_never_reach_internal_error()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        string dir = Directory.CreateTempSubdirectory("vimage-sweep-").FullName;
        try
        {
            var failures = new List<string>();
            foreach (string v in Hostile)
            {
                foreach (string[] argv in Lines(e, v))
                {
                    (CliResult r, bool finished) = RunWithTimeout(cli, dir, argv, TimeSpan.FromSeconds(20));
                    if (!finished || r.Exit == CommandDispatcher.ExitSoftware || r.Err.Contains("internal error", StringComparison.Ordinal))
                    {
                        failures.Add($"[{string.Join(' ', argv)}] finished={finished} {r}");
                    }
                }
            }

            Assert.True(failures.Count == 0, string.Join("\n", failures));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static IEnumerable<string[]> Lines(string e, string v)
    {
        string ifp = e + "a";
        foreach (string kw in (string[])["mtu", "metric", "inet", "netmask", "name", "description", "vnet", "broadcast"])
        {
            yield return ["ifconfig", ifp, kw, v];
        }

        yield return ["ifconfig", ifp, v];
        yield return ["ifconfig", v, "create"];
        yield return ["ifconfig", v];
        yield return ["ifconfig", "-j", v, "-l"];
        yield return ["ifconfig", ifp, "inet", "192.0.2.1/24", "vnet", v];
        yield return ["route", "add", v, v];
        yield return ["route", "add", "-net", v, "-netmask", v, "192.0.2.1"];
        yield return ["route", "add", "198.51.100.0/24", "-interface", v];
        yield return ["route", "get", v];
        yield return ["route", "delete", v];
        yield return ["route", "add", "-fib", v, "10.0.0.0/8", "192.0.2.1"];
        yield return ["arp", "-s", v, v];
        yield return ["arp", "-d", v];
        yield return ["arp", "-i", v, "-a"];
        yield return ["arp", v];
        yield return ["sysctl", v];
        yield return ["sysctl", "net.inet.ip.ttl=" + v];
        yield return ["sysctl", "net.inet.icmp.icmplim=" + v];
        yield return ["netstat", "-p", v];
        yield return ["netstat", "-f", v];
        yield return ["netstat", v];
        yield return ["ping", "-c", "1", "-W", "50", v];
        foreach (string opt in (string[])["-c", "-i", "-W", "-t", "-m", "-s"])
        {
            yield return ["ping", "-c", "1", "-W", "50", opt, v, "127.0.0.1"];
        }

        yield return ["tcpdump", "-i", v, "--duration", "0.05"];
        yield return ["tcpdump", "-i", "lo0", "-c", v, "--duration", "0.05"];
        yield return ["tcpdump", "-i", "lo0", "--duration", v];
        yield return ["tcpdump", "-i", "lo0", "-w", v, "--duration", "0.05"];
        yield return ["jail", "-c", "name=" + v];
        yield return ["jail", "-r", v];
        yield return ["jls", v];
        yield return ["jexec", v, "ifconfig"];
    }

    private static (CliResult Result, bool Finished) RunWithTimeout(CliFixture cli, string dir, string[] argv, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource();
        var output = new StringWriter { NewLine = "\n" };
        var error = new StringWriter { NewLine = "\n" };
        var dispatcher = CommandDispatcher.CreateDefault();
        var run = Task.Run(() => dispatcher.Run(new CommandContext(Vnet.Vnet0, output, error, cli.Jails, cancel.Token, dir), argv));
        bool finished = run.Wait(timeout);
        if (!finished)
        {
            cancel.Cancel();
            run.Wait(TimeSpan.FromSeconds(10));
        }

        return (new CliResult(run.IsCompletedSuccessfully ? run.Result : -1, output.ToString(), error.ToString()), finished);
    }

    private static void AssertRefused(CliResult r, string message)
    {
        Assert.True(r.Exit == 1, r.ToString());
        Assert.Contains(message, r.Err);
    }
}
