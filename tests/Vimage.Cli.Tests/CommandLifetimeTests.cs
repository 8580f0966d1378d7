using System.Text;
using Vimage.Cli.Commands;
using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>
/// Long-running commands end: ping -c beyond the 16-bit sequence space, and ping/tcpdump whose jail or interface
/// goes away under them. Each waits for the command with a timeout that fails the test.
/// </summary>
public sealed class CommandLifetimeTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public void Ping_count_above_65535_stops_after_count_requests()
    {
        using var cli = new CliFixture();
        using Running ping = Running.Start(cli, Vnet.Vnet0, "ping", "-q", "-i", "0", "-W", "200", "-c", "65540", "127.0.0.1");
        Assert.True(ping.WaitExit(TimeSpan.FromSeconds(180)), "ping -c 65540 did not stop (icmp_seq wrapped and the count with it?)");
        Assert.Contains("\n65540 packets transmitted, ", ping.Out);
        Assert.DoesNotContain("ping: ", ping.Err);
    }

#if VIMAGE
    [Fact]
    public void Ping_in_a_removed_jail_ends()
    {
        using var cli = new CliFixture();
        cli.Ok("jail -c name=doomed vnet");
        using Running ping = Running.Start(cli, Vnet.Vnet0, "jexec", "doomed", "ping", "-i", "0.05", "127.0.0.1");
        Assert.True(CliFixture.WaitFor(() => ping.Out.Contains(" bytes from 127.0.0.1: icmp_seq=0 ", StringComparison.Ordinal), 20_000), ping.ToString());

        cli.Ok("jail -r doomed");
        Assert.True(ping.WaitExit(Limit), "ping kept running in a removed jail: " + ping);
        Assert.Equal(PingCommand.ExitKilled, ping.ExitCode);
        Assert.EndsWith("ping: sendto: Network is down\n", ping.Err);
    }

    [Fact]
    public void Tcpdump_in_a_removed_jail_ends()
    {
        using var cli = new CliFixture();
        cli.Ok("jail -c name=doomed2 vnet");
        using Running dump = Running.Start(cli, Vnet.Vnet0, "jexec", "doomed2", "tcpdump", "-i", "lo0");
        Assert.True(CliFixture.WaitFor(() => dump.Err.Contains("listening on lo0", StringComparison.Ordinal), 20_000), dump.ToString());

        cli.Ok("jail -r doomed2");
        Assert.True(dump.WaitExit(Limit), "tcpdump kept running in a removed jail: " + dump);
        Assert.Equal(PingCommand.ExitKilled, dump.ExitCode);
    }
#endif

    [Fact]
    public void Tcpdump_on_a_destroyed_interface_ends_with_pcap_loops_error()
    {
        using var cli = new CliFixture();
        string e = cli.NewEpair();
        using Running dump = Running.Start(cli, Vnet.Vnet0, "tcpdump", "-i", $"{e}a");
        Assert.True(CliFixture.WaitFor(() => dump.Err.Contains($"listening on {e}a", StringComparison.Ordinal), 20_000), dump.ToString());

        cli.Ok($"ifconfig {e}a destroy");
        Assert.True(dump.WaitExit(Limit), "tcpdump kept running on a destroyed interface: " + dump);
        Assert.Equal(1, dump.ExitCode);
        Assert.Contains("tcpdump: pcap_loop: The interface disappeared\n0 packets captured\n", dump.Err);
    }

    /// <summary>A command running on its own thread; its output readable while it runs.</summary>
    private sealed class Running : IDisposable
    {
        private readonly StringBuilder _out = new();
        private readonly StringBuilder _err = new();
        private readonly CancellationTokenSource _cancel = new();

        private Running()
        {
        }

        public Task<int> Task { get; private set; } = null!;

        public string Out
        {
            get
            {
                lock (_out)
                {
                    return _out.ToString();
                }
            }
        }

        public string Err
        {
            get
            {
                lock (_out)
                {
                    return _err.ToString();
                }
            }
        }

        public static Running Start(CliFixture cli, Vnet vnet, params string[] argv)
        {
            var r = new Running();
            TextWriter output = TextWriter.Synchronized(new LockedWriter(r._out, r._out));
            TextWriter error = TextWriter.Synchronized(new LockedWriter(r._err, r._out));
            var dispatcher = CommandDispatcher.CreateDefault();
            r.Task = System.Threading.Tasks.Task.Factory.StartNew(
                () => dispatcher.Run(new CommandContext(vnet, output, error, cli.Jails, r._cancel.Token), argv),
                TaskCreationOptions.LongRunning);
            return r;
        }

        /// <summary>Waits for the command to end; false when it is still running after <paramref name="timeout"/>.</summary>
        public bool WaitExit(TimeSpan timeout) => Task.Wait(timeout);

        public int ExitCode => Task.Result;

        public override string ToString() => $"--- stdout\n{Out}--- stderr\n{Err}";

        public void Dispose()
        {
            _cancel.Cancel(); // a failed test must not leave the command running
            WaitExit(Limit);
            _cancel.Dispose();
        }
    }

    private sealed class LockedWriter(StringBuilder target, object gate) : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value)
        {
            lock (gate)
            {
                target.Append(value);
            }
        }

        public override void Write(string? value)
        {
            lock (gate)
            {
                target.Append(value);
            }
        }
    }
}
