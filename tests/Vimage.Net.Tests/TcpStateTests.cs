using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;
using static Vimage.Net.Tests.TcpConnectionTests;

namespace Vimage.Net.Tests;

/// <summary>The state machine's edges: TIME_WAIT and address reuse, simultaneous open and close, the listen backlog, SO_LINGER.</summary>
public class TcpStateTests
{
    private const int Wait = 10_000;

    private static long T(Vnet v, TcpStat s) => Tcp.Tcp.Fetch(v, s);

    [Fact]
    public void TimeWaitLastsTwoMslAndItsPortIsReusableWithReuseAddr()
    {
        using var net = StackFixture.Create("tcptw");
        using var knobs = new SysctlScope().Set("net.inet.tcp.msl", 150, net.B);
        TcpSocket listener = Listen(net, 7010);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7010);
        listener.Close();

        // The server closes first: its side waits in TIME_WAIT holding AddrB:7010.
        s.Close();
        Assert.Equal(0, c.Receive(new byte[1], Wait));
        c.Close();
        Tcpcb tw = s.Tcpcb;
        Assert.True(Frames.WaitFor(() => tw.t_state == TcpState.TCPS_TIME_WAIT, Wait));
        long start = NetTimers.NowUs;

        using (var again = TcpSocket.Create(net.B))
        {
            Assert.Equal(Errno.EADDRINUSE, Assert.Throws<NetSocketException>(() => again.Bind(net.AddrB, 7010)).Errno);
        }

        using (var reuse = TcpSocket.Create(net.B))
        {
            reuse.ReuseAddress = true;
            reuse.Bind(net.AddrB, 7010); // SO_REUSEADDR takes over a TIME_WAIT address
        }

        Assert.True(Frames.WaitFor(() => tw.t_state == TcpState.TCPS_CLOSED, Wait));
        long lasted = NetTimers.NowUs - start;
        Assert.True(lasted >= 2 * 150_000 - 20_000, $"TIME_WAIT lasted {lasted} µs, 2·MSL is 300 ms");
        Assert.True(lasted < 5_000_000, $"TIME_WAIT lasted {lasted} µs");
        using var after = TcpSocket.Create(net.B);
        after.Bind(net.AddrB, 7010); // free again
    }

    [Fact]
    public void SimultaneousOpenEstablishesBothEnds()
    {
        using var net = StackFixture.Create("tcpsimo");
        using var knobs = new SysctlScope().Set("net.inet.tcp.rexmit_initial", 50, net.A, net.B);
        bool holdSyns = true;
        int synsSeen = 0;
        using var hookB = new TcpDropHook(net.B, (sp, dp, f, len) => holdSyns && (f & TcpFlags.TH_SYN) != 0 && (f & TcpFlags.TH_ACK) == 0 && Interlocked.Increment(ref synsSeen) > 0);
        using var hookA = net.TwoVnets ? new TcpDropHook(net.A, (sp, dp, f, len) => holdSyns && (f & TcpFlags.TH_SYN) != 0 && (f & TcpFlags.TH_ACK) == 0 && Interlocked.Increment(ref synsSeen) > 0) : null;
        using var a = TcpSocket.Create(net.A);
        using var b = TcpSocket.Create(net.B);
        a.Bind(net.AddrA, 7020);
        b.Bind(net.AddrB, 7021);
        a.NonBlocking = b.NonBlocking = true;
        Assert.Equal(Errno.EINPROGRESS, Assert.Throws<NetSocketException>(() => a.Connect(net.AddrB, 7021)).Errno);
        Assert.Equal(Errno.EINPROGRESS, Assert.Throws<NetSocketException>(() => b.Connect(net.AddrA, 7020)).Errno);
        Assert.True(Frames.WaitFor(() => synsSeen >= 2, Wait)); // both first SYNs were lost: each side is in SYN_SENT
        Assert.Equal(TcpState.TCPS_SYN_SENT, a.State);
        Assert.Equal(TcpState.TCPS_SYN_SENT, b.State);
        holdSyns = false;

        // The retransmitted SYNs meet a peer in SYN_SENT: SYN_RECEIVED (RFC 9293 §3.5, figure 8), then both established.
        Assert.True(Frames.WaitFor(() => a.IsConnected && b.IsConnected, Wait), $"{a.State} {b.State}");
        Assert.Equal(TcpState.TCPS_ESTABLISHED, a.State);
        Assert.Equal(TcpState.TCPS_ESTABLISHED, b.State);
        a.NonBlocking = b.NonBlocking = false;
        a.Send("ab"u8);
        Assert.Equal("ab"u8.ToArray(), ReadExactly(b, 2));
        b.Send("ba"u8);
        Assert.Equal("ba"u8.ToArray(), ReadExactly(a, 2));
    }

    [Fact]
    public void SimultaneousCloseGoesThroughClosingToTimeWait()
    {
        using var net = StackFixture.Create("tcpsimc");
        using var knobs = new SysctlScope().Set("net.inet.tcp.rexmit_min", 20, net.A, net.B).Set("net.inet.tcp.rexmit_slop", 0, net.A, net.B);
        using TcpSocket listener = Listen(net, 7022);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7022);
        using (c)
        using (s)
        {
            bool holdFins = true;
            int fins = 0;
            Func<ushort, ushort, TcpFlags, int, bool> fin = (sp, dp, f, len) => holdFins && (f & TcpFlags.TH_FIN) != 0 && Interlocked.Increment(ref fins) > 0;
            using var hookB = new TcpDropHook(net.B, fin);
            using var hookA = net.TwoVnets ? new TcpDropHook(net.A, fin) : null;
            c.Shutdown(ShutdownHow.SHUT_WR);
            s.Shutdown(ShutdownHow.SHUT_WR);
            Assert.True(Frames.WaitFor(() => fins >= 2, Wait));
            Assert.Equal(TcpState.TCPS_FIN_WAIT_1, c.State);
            Assert.Equal(TcpState.TCPS_FIN_WAIT_1, s.State);
            holdFins = false;

            // Each FIN arrives in FIN_WAIT_1: CLOSING, then the ACK of ours: TIME_WAIT on both ends.
            Assert.True(Frames.WaitFor(() => c.State == TcpState.TCPS_TIME_WAIT && s.State == TcpState.TCPS_TIME_WAIT, Wait), $"{c.State} {s.State}");
            Assert.Equal(0, c.Receive(new byte[1], Wait));
            Assert.Equal(0, s.Receive(new byte[1], Wait));
        }
    }

    [Fact]
    public void AFullListenQueueResetsTheConnectionThatOverflowsIt()
    {
        using var net = StackFixture.Create("tcpbacklog");
        using TcpSocket listener = Listen(net, 7023, backlog: 1);
        Assert.Equal(1, listener.Socket.AcceptQueueLimit);
        long listendrop = T(net.B, TcpStat.tcps_listendrop);
        var clients = new List<TcpSocket>();
        try
        {
            // sonewconn: sol_qlen > 3 · qlimit / 2 refuses; with a backlog of 1 two connections queue, the third overflows.
            for (int i = 0; i < 2; i++)
            {
                var c = TcpSocket.Create(net.A);
                clients.Add(c);
                c.Connect(net.AddrB, 7023, Wait);
            }

            Assert.True(Frames.WaitFor(() => listener.Socket.AcceptQueueLength == 2, Wait));
            var third = TcpSocket.Create(net.A);
            clients.Add(third);
            var error = Assert.Throws<NetSocketException>(() =>
            {
                third.Connect(net.AddrB, 7023, Wait);
                third.Receive(new byte[1], Wait);
            });
            Assert.Equal(Errno.ECONNRESET, error.Errno);
            Assert.Equal(listendrop + 1, T(net.B, TcpStat.tcps_listendrop));
            Assert.Equal(2, listener.Socket.AcceptQueueLength);

            using TcpSocket first = listener.Accept(Wait);
            clients[0].Send("q"u8);
            Assert.Equal("q"u8.ToArray(), ReadExactly(first, 1));
        }
        finally
        {
            clients.ForEach(c => c.Close());
        }
    }

    [Fact]
    public void ClosingAListenerResetsConnectionsNobodyAccepted()
    {
        using var net = StackFixture.Create("tcplclose");
        TcpSocket listener = Listen(net, 7024);
        using var c = TcpSocket.Create(net.A);
        c.Connect(net.AddrB, 7024, Wait);
        Assert.True(Frames.WaitFor(() => listener.Socket.AcceptQueueLength == 1, Wait));
        listener.Close();
        Assert.Equal(Errno.ECONNRESET, Assert.Throws<NetSocketException>(() => c.Receive(new byte[1], Wait)).Errno);
    }

    [Fact]
    public void LingerZeroCloseSendsRst()
    {
        using var net = StackFixture.Create("tcplinger");
        using TcpSocket listener = Listen(net, 7025);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7025);
        using (s)
        {
            long drops = T(net.A, TcpStat.tcps_drops);
            c.Linger = 0;
            c.Close();
            if (net.TwoVnets)
            {
                Assert.Equal(drops + 1, T(net.A, TcpStat.tcps_drops));
            }
            else
            {
                Assert.True(T(net.A, TcpStat.tcps_drops) >= drops + 1); // vnet0 counts both ends and other tests' connections
            }

            Assert.Equal(Errno.ECONNRESET, Assert.Throws<NetSocketException>(() => s.Receive(new byte[1], Wait)).Errno);
            Assert.Equal(TcpState.TCPS_CLOSED, c.State); // no TIME_WAIT after an abortive close
        }
    }

    [Fact]
    public void LingerWaitsForTheDataToBeAcknowledged()
    {
        using var net = StackFixture.Create("tcplinger2");
        using TcpSocket listener = Listen(net, 7026);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7026);
        using (s)
        {
            c.Linger = 5;
            c.Send(new byte[100_000].AsSpan(0, 20_000));
            c.Close(); // returns once the FIN is acknowledged (or 5 s pass)
            Assert.True(c.State is TcpState.TCPS_FIN_WAIT_2 or TcpState.TCPS_TIME_WAIT or TcpState.TCPS_CLOSED, c.State.ToString());
            Assert.Equal(20_000, ReadExactly(s, 20_000).Length);
            Assert.Equal(0, s.Receive(new byte[1], Wait));
        }
    }
}
