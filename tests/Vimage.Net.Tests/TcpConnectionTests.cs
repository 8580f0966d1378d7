using System.Security.Cryptography;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

/// <summary>Real TCP connections between two vnets joined by an epair (one vnet over lo0 without VIMAGE).</summary>
public class TcpConnectionTests
{
    private const int Wait = 10_000;

    private static long T(Vnet v, TcpStat s) => Tcp.Tcp.Fetch(v, s);

    /// <summary>A listener in B, a client in A connected to it, and the accepted server side.</summary>
    internal static (TcpSocket Client, TcpSocket Server) Pair(StackFixture net, TcpSocket listener, ushort port)
    {
        var client = TcpSocket.Create(net.A);
        client.Bind(net.AddrA, 0); // AddrA in both build modes (hand-made segments name it)
        client.Connect(net.AddrB, port, Wait);
        TcpSocket server = listener.Accept(Wait);
        return (client, server);
    }

    internal static TcpSocket Listen(StackFixture net, ushort port, int backlog = 128)
    {
        var l = TcpSocket.Create(net.B);
        l.Bind(InAddr.Any, port);
        l.Listen(backlog);
        return l;
    }

    internal static byte[] ReadExactly(TcpSocket s, int n)
    {
        byte[] buf = new byte[n];
        int got = 0;
        while (got < n)
        {
            int r = s.Receive(buf.AsSpan(got), Wait);
            Assert.True(r > 0, $"end of data after {got} of {n} bytes");
            got += r;
        }

        return buf;
    }

    [Fact]
    public void HandshakeAndDataBothWays()
    {
        using var net = StackFixture.Create("tcphs");
        long connects = T(net.A, TcpStat.tcps_connects), attempts = T(net.A, TcpStat.tcps_connattempt);
        using TcpSocket listener = Listen(net, 7001);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7001);
        using (c)
        using (s)
        {
            Assert.Equal(TcpState.TCPS_ESTABLISHED, c.State);
            Assert.Equal(TcpState.TCPS_ESTABLISHED, s.State);
            Assert.Equal(c.LocalAddress, s.RemoteAddress);
            Assert.Equal(c.LocalPort, s.RemotePort);
            Assert.Equal((ushort)7001, c.RemotePort);
            Assert.Equal(attempts + 1, T(net.A, TcpStat.tcps_connattempt));
            Assert.True(T(net.A, TcpStat.tcps_connects) >= connects + 1);

            Assert.Equal(5, c.Send("hello"u8));
            Assert.Equal("hello"u8.ToArray(), ReadExactly(s, 5));
            Assert.Equal(6, s.Send("world!"u8));
            Assert.Equal("world!"u8.ToArray(), ReadExactly(c, 6));

            // Options were negotiated both ways: window scaling and timestamps (RFC 7323), MSS from the MTU.
            Tcpcb ct = c.Tcpcb;
            Assert.True((ct.t_flags & TcpCbFlags.TF_RCVD_TSTMP) != 0);
            Assert.True((ct.t_flags & TcpCbFlags.TF_RCVD_SCALE) != 0);
            Assert.Equal(net.TwoVnets ? 1460 : 16384 - 40, ct.maxseg);
        }
    }

    [Fact]
    public async Task AsyncConnectAcceptSendReceive()
    {
        using var net = StackFixture.Create("tcpasync");
        using TcpSocket listener = Listen(net, 7002);
        using var c = TcpSocket.Create(net.A);
        ValueTask<TcpSocket> accepting = listener.AcceptAsync();
        await c.ConnectAsync(net.AddrB, 7002).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        using TcpSocket s = await accepting.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        byte[] buf = new byte[16];
        ValueTask<int> rx = s.ReceiveAsync(buf);
        Assert.Equal(3, await c.SendAsync("abc"u8.ToArray()));
        Assert.Equal(3, await rx.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("abc"u8.ToArray(), buf[..3]);

        // The Stream view.
        using TcpStream cs = c.GetStream(ownsSocket: false);
        using TcpStream ss = s.GetStream(ownsSocket: false);
        await cs.WriteAsync("stream"u8.ToArray());
        byte[] six = new byte[6];
        await ss.ReadExactlyAsync(six).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("stream"u8.ToArray(), six);
    }

    /// <summary>
    /// A port that is bound but not listening is closed too: tcp_input answers a SYN to a TCPS_CLOSED tcpcb with a
    /// RST (dropwithreset), it does not drop it silently (the client used to wait for its SYN retransmissions).
    /// </summary>
    [Fact]
    public void ConnectToABoundButNotListeningPortIsRefused()
    {
        using var net = StackFixture.Create("tcpbound");
        using var bound = TcpSocket.Create(net.B);
        bound.Bind(InAddr.Any, 7097);
        using var c = TcpSocket.Create(net.A);
        var e = Assert.Throws<NetSocketException>(() => c.Connect(net.AddrB, 7097, Wait));
        Assert.Equal(Errno.ECONNREFUSED, e.Errno);
        Assert.Equal(TcpState.TCPS_CLOSED, bound.State);
    }

    [Fact]
    public void ConnectToAClosedPortIsRefused()
    {
        using var net = StackFixture.Create("tcpref");
        using var c = TcpSocket.Create(net.A);
        var e = Assert.Throws<NetSocketException>(() => c.Connect(net.AddrB, 7003, Wait));
        Assert.Equal(Errno.ECONNREFUSED, e.Errno);
        Assert.Equal(TcpState.TCPS_CLOSED, c.State);
    }

    [Fact]
    public void NonblockingConnectSaysEinprogressThenConnects()
    {
        using var net = StackFixture.Create("tcpnb");
        using TcpSocket listener = Listen(net, 7004);
        using var c = TcpSocket.Create(net.A);
        c.NonBlocking = true;
        try
        {
            c.Connect(net.AddrB, 7004);
        }
        catch (NetSocketException e)
        {
            Assert.Equal(Errno.EINPROGRESS, e.Errno);
        }

        Assert.True(Frames.WaitFor(() => c.IsConnected, Wait));
        Assert.Equal(0, c.Socket.GetOption(SoOption.SO_ERROR));
        byte[] buf = new byte[4];
        Assert.Equal(NetSocketException.EAGAIN, Assert.Throws<NetSocketException>(() => c.Receive(buf)).Errno);
        listener.NonBlocking = true;
        using TcpSocket s = listener.Accept();
        listener.NonBlocking = true;
        Assert.Equal(NetSocketException.EAGAIN, Assert.Throws<NetSocketException>(() => listener.Accept()).Errno);
    }

    [Fact]
    public async Task TenMegabytesEachWayArriveIntact()
    {
        using var net = StackFixture.Create("tcpbulk");
        using TcpSocket listener = Listen(net, 7005);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7005);
        using (c)
        using (s)
        {
            byte[] up = RandomNumberGenerator.GetBytes(10 << 20);
            byte[] down = RandomNumberGenerator.GetBytes(10 << 20);
            byte[]? gotUp = null, gotDown = null;
            var t1 = Task.Run(() => c.Send(up));
            var t2 = Task.Run(() => s.Send(down));
            var r1 = Task.Run(() => gotUp = ReadExactly(s, up.Length));
            var r2 = Task.Run(() => gotDown = ReadExactly(c, down.Length));
            await Task.WhenAll(t1, t2, r1, r2).WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(SHA256.HashData(up), SHA256.HashData(gotUp!));
            Assert.Equal(SHA256.HashData(down), SHA256.HashData(gotDown!));

            // Autotuning (sendbuf_auto, recvbuf_auto) grew the buffers past sendspace / recvspace.
            Assert.True(c.SendBufferSize > 32768 || s.SendBufferSize > 32768, $"send buffers {c.SendBufferSize} {s.SendBufferSize}");
            Assert.True(c.ReceiveBufferSize > 65536 || s.ReceiveBufferSize > 65536, $"receive buffers {c.ReceiveBufferSize} {s.ReceiveBufferSize}");
        }
    }

    [Fact]
    public async Task AnExplicitBufferSizeTurnsAutotuningOff()
    {
        using var net = StackFixture.Create("tcpnoauto");
        var listener = TcpSocket.Create(net.B);
        listener.ReceiveBufferSize = 65536; // SO_RCVBUF clears SB_AUTOSIZE, inherited by accepted sockets
        listener.Bind(InAddr.Any, 7009);
        listener.Listen();
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7009);
        using (listener)
        using (c)
        using (s)
        {
            Assert.False(s.Socket.ReceiveBufferState.Auto);
            Assert.True(c.Socket.ReceiveBufferState.Auto);
            var reader = Task.Run(() => ReadExactly(s, 4 << 20));
            c.Send(new byte[4 << 20]);
            await reader.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal((65536 + s.Tcpcb.t_maxseg - 1) / s.Tcpcb.t_maxseg * s.Tcpcb.t_maxseg, s.ReceiveBufferSize); // tcp_mss's rounding, no growth
        }
    }

    [Fact]
    public void HalfCloseThenTheOtherSideFinishes()
    {
        using var net = StackFixture.Create("tcphalf");
        using TcpSocket listener = Listen(net, 7006);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7006);
        using (c)
        using (s)
        {
            c.Send("request"u8);
            c.Shutdown(ShutdownHow.SHUT_WR);
            Assert.Equal("request"u8.ToArray(), ReadExactly(s, 7));
            Assert.Equal(0, s.Receive(new byte[8], Wait)); // the FIN: end of data
            Assert.True(Frames.WaitFor(() => s.State == TcpState.TCPS_CLOSE_WAIT && c.State == TcpState.TCPS_FIN_WAIT_2, Wait));
            Assert.Equal(Errno.EPIPE, Assert.Throws<NetSocketException>(() => c.Send("x"u8)).Errno);

            // The other direction still flows.
            s.Send("response"u8);
            Assert.Equal("response"u8.ToArray(), ReadExactly(c, 8));
            s.Close();
            Assert.Equal(0, c.Receive(new byte[8], Wait));
            Assert.True(Frames.WaitFor(() => c.State == TcpState.TCPS_TIME_WAIT, Wait));
        }
    }
}

/// <summary>The System.IO.Pipelines view.</summary>
public class TcpPipeTests
{
    [Fact]
    public async Task ADuplexPipeCarriesDataBothWays()
    {
        using var net = StackFixture.Create("tcppipe");
        using TcpSocket listener = TcpConnectionTests.Listen(net, 7080);
        (TcpSocket c, TcpSocket s) = TcpConnectionTests.Pair(net, listener, 7080);
        using (c)
        using (s)
        {
            TcpDuplexPipe cp = c.GetPipe();
            TcpDuplexPipe sp = s.GetPipe();
            await cp.Output.WriteAsync("ping"u8.ToArray());
            await cp.CompleteOutputAsync();
            var received = new List<byte>();
            while (true)
            {
                System.IO.Pipelines.ReadResult r = await sp.Input.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                foreach (ReadOnlyMemory<byte> segment in r.Buffer)
                {
                    received.AddRange(segment.ToArray());
                }

                sp.Input.AdvanceTo(r.Buffer.End);
                if (r.IsCompleted)
                {
                    break;
                }
            }

            Assert.Equal("ping"u8.ToArray(), received.ToArray());
            await sp.Output.WriteAsync("pong"u8.ToArray());
            byte[] pong = new byte[4];
            await c.GetStream(ownsSocket: false).ReadExactlyAsync(pong).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("pong"u8.ToArray(), pong);
            await cp.DisposeAsync();
            await sp.DisposeAsync();
        }
    }
}
