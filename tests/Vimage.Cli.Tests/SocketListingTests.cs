using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;
using Vimage.Net.Udp;

namespace Vimage.Cli.Tests;

/// <summary>netstat's active-socket listing (inet.c protopr) and sockstat(1) over real TCP and UDP sockets in vnet0.</summary>
public sealed class SocketListingTests
{
    private const string Header = "Proto Recv-Q Send-Q Local Address          Foreign Address        (state)    ";

    /// <summary>A listener on *:port, a connection to it over lo0, both ends established, 5 bytes unread at the server.</summary>
    private sealed class Pair : IDisposable
    {
        public Pair(ushort port)
        {
            Listener = TcpSocket.Create(Vnet.Vnet0);
            Listener.Bind(InAddr.Any, port);
            Listener.Listen();
            Client = TcpSocket.Create(Vnet.Vnet0);
            Client.Connect(InAddr.Loopback, port, 5000);
            Server = Listener.Accept(5000);
            Assert.Equal(5, Client.Send("hello"u8, 5000));
            Assert.True(CliFixture.WaitFor(() => Server.Available == 5 && Client.Socket.Snd.Cc == 0), "the 5 bytes never arrived or were never acknowledged");
        }

        public TcpSocket Listener { get; }

        public TcpSocket Client { get; }

        public TcpSocket Server { get; }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
            Listener.Dispose();
        }
    }

    [Fact]
    public void NetstatListsTcpConnectionsWithFreeBsdsColumnsAndStates()
    {
        using var cli = new CliFixture();
        using var pair = new Pair(47001);
        ushort cport = pair.Client.LocalPort;
        string all = cli.Ok("netstat -an");
        string[] lines = all.Split('\n');
        Assert.Equal("Active Internet connections (including servers)", lines[0]);
        Assert.Equal(Header, lines[1]);
        Assert.Equal("tcp4       0      0 *.47001                *.*                    LISTEN     ", CliFixture.LineMatching(all, @"^tcp4 .*\*\.47001 "));
        Assert.Equal($"tcp4       5      0 {"127.0.0.1.47001",-22} {"127.0.0.1." + cport,-22} ESTABLISHED",
            CliFixture.LineMatching(all, @"^tcp4 .* 127\.0\.0\.1\.47001 +127"));
        Assert.Equal($"tcp4       0      0 {"127.0.0.1." + cport,-22} {"127.0.0.1.47001",-22} ESTABLISHED",
            CliFixture.LineMatching(all, $@"^tcp4 .* 127\.0\.0\.1\.{cport} +127\.0\.0\.1\.47001 "));

        // Without -a: no listeners and no wildcard-bound sockets.
        string active = cli.Ok("netstat -n");
        Assert.StartsWith("Active Internet connections\n" + Header + "\n", active);
        Assert.DoesNotContain("*.47001", active);
        Assert.Contains($"127.0.0.1.{cport}", active);
        string tcpOnly = cli.Ok("netstat -an -p tcp");
        Assert.Contains("*.47001 ", tcpOnly);
        Assert.DoesNotContain("udp4", tcpOnly);
        Assert.DoesNotContain("tcp4", cli.Ok("netstat -an -p udp"));
        Assert.Equal("", cli.Ok("netstat -an -p icmp"));
    }

    [Fact]
    public void NetstatPrintsTcpStatisticsInFreeBsdsWords()
    {
        using var cli = new CliFixture();
        using (var pair = new Pair(47003))
        {
            string s = cli.Ok("netstat -s -p tcp");
            string[] lines = s.Split('\n');
            Assert.Equal("tcp:", lines[0]);
            Assert.Matches(@"^\t\d+ packets? sent$", lines[1]);
            Assert.Matches(@"^\t\t\d+ data packets? \(\d+ bytes?\)$", lines[2]);
            Assert.Matches(@"^\t\t\d+ ack-only packets? \(\d+ delayed\)$", lines[6]);
            Assert.Contains("\t0 SACK scoreboard overflow\n", s);
            Assert.Contains("\t\t0 discarded due to memory problems\n", s);
            Assert.Matches(@"\n\t\d+ connections? established \(including accepts\)\n", s);
            Assert.Contains("\nTCP connection count by state:\n", s);
            Assert.Matches(@"\n\t[1-9]\d* connections? +in LISTEN state\n", s);
            Assert.Matches(@"\n\t([2-9]|\d\d+) connections in ESTABLISHED state\n", s);
            Assert.EndsWith("in TIME_WAIT state\n", s);

            string terse = cli.Ok("netstat -ss -p tcp");
            Assert.DoesNotContain("\t0 ", terse); // -ss leaves zero counters out
            Assert.StartsWith("tcp:\n", cli.Ok("netstat -s"));
        }
    }

    [Fact]
    public void NetstatListsUdpSocketsWithoutState()
    {
        using var cli = new CliFixture();
        using UdpSocket u = UdpSocket.Create(Vnet.Vnet0);
        u.Bind(InAddr.Loopback, 47011);
        string all = cli.Ok("netstat -an -p udp");
        Assert.Equal($"udp4       0      0 {"127.0.0.1.47011",-22} {"*.*",-22} ", CliFixture.LineMatching(all, @"^udp4 .*\.47011 "));
    }

    [Fact]
    public void SockstatListsListenersAndConnections()
    {
        using var cli = new CliFixture();
        using var pair = new Pair(47002);
        ushort cport = pair.Client.LocalPort;
        string all = cli.Ok("sockstat -4");
        Assert.Equal("USER     COMMAND    PID   FD PROTO  LOCAL ADDRESS         FOREIGN ADDRESS      ", all.Split('\n')[0]);
        Assert.Equal("?        ?          ?     ?  tcp4   *:47002               *:*", CliFixture.LineMatching(all, @"\*:47002 "));
        Assert.Equal($"?        ?          ?     ?  tcp4   {"127.0.0.1:" + cport,-21} 127.0.0.1:47002", CliFixture.LineMatching(all, $@"tcp4 +127\.0\.0\.1:{cport} "));

        string listening = cli.Ok("sockstat -4l");
        Assert.Contains("*:47002", listening);
        Assert.DoesNotContain($"127.0.0.1:{cport}", listening);
        string connected = cli.Ok("sockstat -4 -c -p 47002");
        Assert.DoesNotContain("*:47002", connected);
        Assert.Equal(2, connected.Split('\n').Count(l => l.Contains(":47002", StringComparison.Ordinal)));
        Assert.Equal(
            $"?        ?          ?     ?  tcp4   {"127.0.0.1:47002",-21} {"127.0.0.1:" + cport,-21} ESTABLISHED",
            CliFixture.LineMatching(cli.Ok("sockstat -4cs"), @"tcp4 +127\.0\.0\.1:47002 "));
        Assert.DoesNotContain("USER", cli.Ok("sockstat -q -P udp"));
        Assert.DoesNotContain("tcp4", cli.Ok("sockstat -P udp"));

        CliResult bad = cli.Run("sockstat -P sctp");
        Assert.Equal((1, "sockstat: unrecognized protocol: sctp\n"), (bad.Exit, bad.Err));
        Assert.NotEqual(0, cli.Run("sockstat -p 80-20").Exit);
    }
}
