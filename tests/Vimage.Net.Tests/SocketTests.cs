using System.Text;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Udp;

namespace Vimage.Net.Tests;

/// <summary>socket(AF_INET, SOCK_DGRAM) semantics: bind, connect, sendto/recvfrom (sync and async), errors, close.</summary>
public class SocketTests
{
    private const int Wait = 10_000;

    [Fact]
    public void EchoBetweenTwoHostsSeesTheSendersAddressAndPort()
    {
        using var net = StackFixture.Create("echo");
        using var server = UdpSocket.Create(net.B);
        using var client = UdpSocket.Create(net.A);
        server.Bind(InAddr.Any, 7);
        client.Bind(net.AddrA, 0);
        Assert.InRange(client.LocalPort, PortRange.DefaultFirst, PortRange.DefaultLast);

        byte[] hello = Encoding.ASCII.GetBytes("hello, vnet");
        Assert.Equal(hello.Length, client.SendTo(hello, net.AddrB, 7));
        byte[] buffer = new byte[1500];
        int n = server.ReceiveFrom(buffer, out InAddr from, out ushort fromPort, Wait);
        Assert.Equal("hello, vnet", Encoding.ASCII.GetString(buffer, 0, n));
        Assert.Equal(net.AddrA, from);
        Assert.Equal(client.LocalPort, fromPort);

        Assert.Equal(n, server.SendTo(buffer.AsSpan(0, n), from, fromPort));
        n = client.ReceiveFrom(buffer, out from, out fromPort, Wait);
        Assert.Equal("hello, vnet", Encoding.ASCII.GetString(buffer, 0, n));
        Assert.Equal((net.TwoVnets ? net.AddrB : net.AddrA, (ushort)7), (from, fromPort)); // to ourselves: from the destination
        Assert.Equal(0, server.Available);
    }

    [Fact]
    public async Task AsyncEchoCompletesPendingAndQueuedReceives()
    {
        using var net = StackFixture.Create("aecho");
        using var server = UdpSocket.Create(net.B);
        using var client = UdpSocket.Create(net.A);
        server.Bind(net.AddrB, 5353);
        byte[] rx = new byte[64];

        // Pending first: the datagram is copied straight into the waiting buffer.
        ValueTask<UdpReceiveResult> pending = server.ReceiveFromAsync(rx);
        Assert.False(pending.IsCompleted);
        Assert.Throws<InvalidOperationException>(() => server.ReceiveFromAsync(new byte[1]));
        await client.SendToAsync("ping"u8.ToArray(), net.AddrB, 5353);
        UdpReceiveResult got = await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("ping", Encoding.ASCII.GetString(rx, 0, got.BytesReceived));
        Assert.Equal(client.LocalPort, got.RemotePort);
        Assert.False(got.Truncated);

        // Reply, and a receive that finds the datagram already queued.
        await server.SendToAsync("pong"u8.ToArray(), got.RemoteAddress, got.RemotePort);
        Assert.True(Frames.WaitFor(() => client.Available > 0, Wait));
        ValueTask<UdpReceiveResult> queued = client.ReceiveFromAsync(rx);
        Assert.True(queued.IsCompletedSuccessfully);
        UdpReceiveResult back = await queued;
        Assert.Equal("pong", Encoding.ASCII.GetString(rx, 0, back.BytesReceived));
        Assert.Equal((net.AddrB, (ushort)5353), (back.RemoteAddress, back.RemotePort));

        // The socket is reusable for many async round trips (same IValueTaskSource, new versions).
        for (int i = 0; i < 50; i++)
        {
            ValueTask<UdpReceiveResult> r = server.ReceiveFromAsync(rx);
            await client.SendToAsync(BitConverter.GetBytes(i), net.AddrB, 5353);
            UdpReceiveResult res = await r;
            Assert.Equal(i, BitConverter.ToInt32(rx, 0));
            Assert.Equal(4, res.BytesReceived);
        }
    }

    [Fact]
    public async Task AsyncReceiveCanBeCanceledAndIsFailedByClose()
    {
        using var net = StackFixture.Create("acancel");
        var so = UdpSocket.Create(net.B);
        so.Bind(InAddr.Any, 4000);
        using (var cts = new CancellationTokenSource())
        {
            ValueTask<UdpReceiveResult> r = so.ReceiveFromAsync(new byte[16], cts.Token);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await r);
        }

        ValueTask<UdpReceiveResult> r2 = so.ReceiveFromAsync(new byte[16]);
        so.Close();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await r2);
        Assert.Throws<ObjectDisposedException>(() => so.SendTo([1], net.AddrA, 9));
        so.Close(); // idempotent
    }

    [Fact]
    public void LongDatagramIsTruncatedAndFlagged()
    {
        using var net = StackFixture.Create("trunc");
        using var server = UdpSocket.Create(net.B);
        using var client = UdpSocket.Create(net.A);
        server.Bind(InAddr.Any, 9000);
        byte[] data = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        client.SendTo(data, net.AddrB, 9000);
        byte[] small = new byte[10];
        UdpReceiveResult r = server.Receive(small, Wait);
        Assert.True(r.Truncated);
        Assert.Equal(10, r.BytesReceived);
        Assert.Equal(100, r.DatagramLength);
        Assert.Equal(data[..10], small);
        Assert.Equal(0, server.Available); // the rest of the datagram is gone
    }

    [Fact]
    public void ReceiveTimesOutWithEagain()
    {
        using var so = UdpSocket.Create(Vnet.Vnet0);
        so.Bind(InAddr.Any, 0);
        var e = Assert.Throws<NetSocketException>(() => so.ReceiveFrom(new byte[8], out _, out _, 50));
        Assert.Equal(NetSocketException.EAGAIN, e.Errno);
        Assert.Equal("recvfrom: Resource temporarily unavailable", e.Message);
        Assert.Throws<NetSocketException>(() => so.Receive(new byte[8], 0));
    }

    [Fact]
    public void BindErrorsFollowBsdRules()
    {
        using var net = StackFixture.Create("bind");
        using var s1 = UdpSocket.Create(net.A);
        using var s2 = UdpSocket.Create(net.A);
        using var s3 = UdpSocket.Create(net.A);
        using var s4 = UdpSocket.Create(net.A);
        s1.Bind(InAddr.Any, 6000);
        var e = Assert.Throws<NetSocketException>(() => s2.Bind(InAddr.Any, 6000));
        Assert.Equal(Errno.EADDRINUSE, e.Errno);
        Assert.Equal("bind: Address already in use", e.Message);
        Assert.Equal(Errno.EADDRINUSE, Assert.Throws<NetSocketException>(() => s2.Bind(net.AddrA, 6000)).Errno); // wildcard vs specific

        s2.ReuseAddress = true;
        s2.Bind(net.AddrA, 6000); // SO_REUSEADDR: a specific address beside the wildcard
        Assert.Equal(Errno.EINVAL, Assert.Throws<NetSocketException>(() => s2.Bind(net.AddrA, 6001)).Errno); // already bound

        Assert.Equal(Errno.EADDRNOTAVAIL, Assert.Throws<NetSocketException>(() => s3.Bind(InAddr.Parse("203.0.113.9"), 1)).Errno);

        // Two different local addresses share a port without any option.
        InAddr second = new(net.AddrA.Value + 10);
        using (Curvnet.Set(net.A))
        {
            InAddrs.Add(net.IfA, second, 24);
        }

        using var s5 = UdpSocket.Create(net.A);
        s3.Bind(second, 7000);
        s5.Bind(net.AddrA, 7000);

        // SO_REUSEPORT on both: the same address and port twice.
        s4.ReusePort = true;
        using var s6 = UdpSocket.Create(net.A);
        s6.ReusePort = true;
        s4.Bind(InAddr.Any, 7100);
        s6.Bind(InAddr.Any, 7100);

        // Closing frees the port.
        s1.Close();
        using var s7 = UdpSocket.Create(net.A);
        Assert.Equal(Errno.EADDRINUSE, Assert.Throws<NetSocketException>(() => s7.Bind(InAddr.Any, 6000)).Errno); // s2 holds AddrA:6000
        s2.Close();
        s7.Bind(InAddr.Any, 6000);
    }

#if VIMAGE
    [Fact]
    public void TheSamePortIsBoundInTwoVnetsAndEachGetsItsOwnTraffic()
    {
        using var net = StackFixture.Create("iso");
        using var inA = UdpSocket.Create(net.A);
        using var inB = UdpSocket.Create(net.B);
        inA.Bind(InAddr.Any, 5000);
        inB.Bind(InAddr.Any, 5000); // no EADDRINUSE: another stack
        using var client = UdpSocket.Create(net.A);
        client.SendTo("to B"u8, net.AddrB, 5000);
        byte[] buffer = new byte[16];
        Assert.Equal(4, inB.ReceiveFrom(buffer, out InAddr from, out _, Wait));
        Assert.Equal(net.AddrA, from);
        Assert.Equal(0, inA.Available);
        Assert.Equal(1, Udp.Udp.SocketCount(net.B));
        Assert.Equal(2, Udp.Udp.SocketCount(net.A));
        Assert.Equal(2, net.A.SocketCount);
        Assert.Equal(1, net.B.SocketCount);

        // Ephemeral ports are per vnet: each stack hands out its own sequence.
        using var ea = UdpSocket.Create(net.A);
        using var eb = UdpSocket.Create(net.B);
        ea.Bind(InAddr.Any, 0);
        eb.Bind(InAddr.Any, 0);
        Assert.Equal(PortRange.DefaultFirst + 1, ea.LocalPort); // client took the first
        Assert.Equal(PortRange.DefaultFirst, eb.LocalPort);
    }

    [Fact]
    public void ASocketWhoseVnetIsDestroyedFailsCleanly()
    {
        Vnet jail = Vnet.Create("sock-dies");
        var so = UdpSocket.Create(jail);
        so.Bind(InAddr.Any, 1234);
        Assert.Equal(1, jail.SocketCount);
        Exception? blocked = null;
        var receiver = new Thread(() =>
        {
            try
            {
                so.ReceiveFrom(new byte[8], out _, out _, 30_000);
            }
            catch (Exception e)
            {
                blocked = e;
            }
        });
        receiver.Start();
        ValueTask<UdpReceiveResult> pending = so.ReceiveFromAsync(new byte[8]);
        Assert.True(Frames.WaitFor(() => (receiver.ThreadState & ThreadState.WaitSleepJoin) != 0), "the receiver blocks");

        jail.Destroy(); // udp_destroy closes the socket
        Assert.True(receiver.Join(10_000));
        var odx = Assert.IsType<ObjectDisposedException>(blocked);
        Assert.Contains("vnet was destroyed", odx.Message);
        Assert.Throws<ObjectDisposedException>(() => pending.AsTask().GetAwaiter().GetResult());
        Assert.True(so.IsClosed);
        Assert.Equal(0, jail.SocketCount);
        Assert.Throws<ObjectDisposedException>(() => so.SendTo([1], InAddr.Parse("192.0.2.1"), 9));
        Assert.Throws<ObjectDisposedException>(() => so.Bind(InAddr.Any, 1));
        Assert.Throws<ObjectDisposedException>(() => so.ReceiveFrom(new byte[8], out _, out _, 0));
        so.Dispose();
        Assert.Equal(0, jail.SocketCount);
        Assert.Throws<ObjectDisposedException>(() => UdpSocket.Create(jail));
    }
#endif

    [Fact]
    public void ConnectedSocketSendsToItsPeerAndRejectsOthers()
    {
        using var net = StackFixture.Create("conn");
        using var server = UdpSocket.Create(net.B);
        server.Bind(InAddr.Any, 8000);
        using var other = UdpSocket.Create(net.B);
        other.Bind(InAddr.Any, 8001);
        using var client = UdpSocket.Create(net.A);
        client.Connect(net.AddrB, 8000);
        Assert.True(client.IsConnected);
        Assert.Equal(net.TwoVnets ? net.AddrA : net.AddrB, client.LocalAddress); // in_pcbladdr chose it
        Assert.NotEqual(0, client.LocalPort);
        Assert.Equal(Errno.EISCONN, Assert.Throws<NetSocketException>(() => client.SendTo([1], net.AddrB, 8000)).Errno);

        Assert.Equal(3, client.Send("abc"u8));
        byte[] buffer = new byte[8];
        Assert.Equal(3, server.ReceiveFrom(buffer, out InAddr from, out ushort port, Wait));

        // Only the peer's datagrams reach a connected socket.
        other.SendTo("x"u8, from, port);
        server.SendTo("yz"u8, from, port);
        Assert.Equal(2, client.ReceiveFrom(buffer, out InAddr f2, out ushort p2, Wait));
        Assert.Equal((net.AddrB, (ushort)8000), (f2, p2));
        Assert.Equal(0, client.Available);

        client.Disconnect();
        Assert.False(client.IsConnected);
        Assert.Equal(Errno.ENOTCONN, Assert.Throws<NetSocketException>(() => client.Send("a"u8)).Errno);
        using var fresh = UdpSocket.Create(net.A);
        Assert.Equal(Errno.ENOTCONN, Assert.Throws<NetSocketException>(() => fresh.Send("a"u8)).Errno);
        Assert.Equal(Errno.EADDRNOTAVAIL, Assert.Throws<NetSocketException>(() => fresh.Connect(net.AddrB, 0)).Errno);
    }

    [Fact]
    public void SendErrorsCarryErrnoAndMessage()
    {
        using var net = StackFixture.Create("senderr");
        using var so = UdpSocket.Create(net.A);
        var e = Assert.Throws<NetSocketException>(() => so.SendTo("x"u8, InAddr.Parse("203.0.113.1"), 53));
        if (net.TwoVnets)
        {
            Assert.Equal(Errno.ENETUNREACH, e.Errno); // no default route in a fresh vnet
            Assert.Equal("sendto: Network is unreachable", e.Message);
        }

        e = Assert.Throws<NetSocketException>(() => so.SendTo(new byte[Udp.Udp.MaxDgram + 1], net.AddrB, 9));
        Assert.Equal(Errno.EMSGSIZE, e.Errno);
        e = Assert.Throws<NetSocketException>(() => so.SendTo("x"u8, net.Broadcast, 9));
        Assert.Equal(Errno.EACCES, e.Errno); // no SO_BROADCAST
        Assert.Equal("sendto: Permission denied", e.Message);
        Assert.Equal(Errno.EADDRNOTAVAIL, Assert.Throws<NetSocketException>(() => so.SendTo("x"u8, net.AddrB, 0)).Errno);
    }

    [Fact]
    public void ReceiveBufferSizeAndAvailable()
    {
        using var net = StackFixture.Create("rcvbuf");
        using var so = UdpSocket.Create(net.B);
        Assert.Equal(Udp.Udp.DefaultRecvSpace, so.ReceiveBufferSize);
        Assert.Equal(42080, so.ReceiveBufferSize);
        Assert.Equal(9216, so.SendBufferSize);
        Assert.Equal(Errno.EINVAL, Assert.Throws<NetSocketException>(() => so.ReceiveBufferSize = 0).Errno);
        Assert.Equal(Errno.ENOBUFS, Assert.Throws<NetSocketException>(() => so.ReceiveBufferSize = 1 << 30).Errno);
        so.Bind(InAddr.Any, 2222);
        using var client = UdpSocket.Create(net.A);
        for (int i = 0; i < 5; i++)
        {
            client.SendTo(new byte[100], net.AddrB, 2222);
        }

        Assert.True(Frames.WaitFor(() => so.QueuedDatagrams == 5, Wait));
        Assert.Equal(500, so.Available);

        // Copying out queued datagrams allocates nothing.
        byte[] buffer = new byte[200];
        so.Receive(buffer, 0);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 4; i++)
        {
            so.Receive(buffer, 0);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, so.Available);
    }

    [Fact]
    public void ClosingFreesQueuedBuffersAndTheSocketCount()
    {
        using var net = StackFixture.Create("close");
        using (var warm = UdpSocket.Create(net.B))
        {
            // ARP and the pools warm up first so the baseline is stable.
            warm.Bind(InAddr.Any, 3333);
            using var c = UdpSocket.Create(net.A);
            c.SendTo("w"u8, net.AddrB, 3333);
            warm.ReceiveFrom(new byte[4], out _, out _, Wait);
        }

        long baseline = MbufLeak.Baseline();
        int socketsA = net.A.SocketCount, socketsB = net.B.SocketCount;
        var server = UdpSocket.Create(net.B);
        server.Bind(InAddr.Any, 3334);
        using (var client = UdpSocket.Create(net.A))
        {
            for (int i = 0; i < 30; i++)
            {
                client.SendTo(new byte[500], net.AddrB, 3334);
            }

            Assert.True(Frames.WaitFor(() => server.QueuedDatagrams == 30, Wait));
            Assert.True(MbufPool.Clusters.Outstanding >= baseline + 30);
        }

        server.Close();
        MbufLeak.AssertBack(baseline);
        Assert.Equal(socketsA, net.A.SocketCount);
        Assert.Equal(socketsB, net.B.SocketCount);
    }

    [Fact]
    public async Task ConcurrentSendersAndCloseUnderTrafficLeakNothing()
    {
        using var net = StackFixture.Create("stress");
        using (var warm = UdpSocket.Create(net.B))
        {
            warm.Bind(InAddr.Any, 4444);
            using var c = UdpSocket.Create(net.A);
            c.SendTo("w"u8, net.AddrB, 4444);
            warm.ReceiveFrom(new byte[4], out _, out _, Wait);
        }

        long baseline = MbufLeak.Baseline();
        var server = UdpSocket.Create(net.B);
        server.Bind(InAddr.Any, 4445);
        using var stop = new CancellationTokenSource();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        Task[] senders = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            using var c = UdpSocket.Create(net.A);
            byte[] payload = new byte[64];
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    c.SendTo(payload, net.AddrB, 4445);
                }
                catch (NetSocketException e) when (e.Errno is Errno.ECONNREFUSED or Errno.ENOBUFS)
                {
                    // the port closes under us: refusals are expected
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                    return;
                }
            }
        })).ToArray();

        int received = 0;
        byte[] buffer = new byte[128];
        while (received < 500)
        {
            UdpReceiveResult r = await server.ReceiveFromAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(64, r.BytesReceived);
            received++;
        }

        long noport = Udp.Udp.Fetch(net.B, UdpStat.udps_noport);
        server.Close(); // while datagrams keep arriving: wait until some reached the closed port
        Assert.True(Frames.WaitFor(() => Udp.Udp.Fetch(net.B, UdpStat.udps_noport) >= noport + 100, Wait));
        stop.Cancel();
        await Task.WhenAll(senders);
        Assert.Empty(errors);
        MbufLeak.AssertBack(baseline);
        Assert.Equal(0, Udp.Udp.SocketCount(net.B));
    }
}
