using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

/// <summary>
/// V_tcbinfo's hashes: connected PCBs are found through the 4-tuple hash only (ipi_hash_exact), not in the port
/// buckets SYNs are matched against (ipi_hash_wild), while bind still sees them (ipi_porthashbase). Before, every
/// accepted connection was appended to its listener's bucket: each accept copied the bucket and each SYN scanned it,
/// so opening 20,000 connections to one port took 3.5 times as long as 10,000 (the tcp bench's 100,000 never ended).
/// </summary>
public class TcpPcbHashTests
{
    private const int Wait = 10_000;

    private static int BucketLength(Vnet v, ushort port)
    {
        using (Curvnet.Set(v))
        {
            return Tcp.Tcp.TcbInfo.BucketLength(port);
        }
    }

    [Fact]
    public void ConnectedPcbsStayOutOfThePortBuckets()
    {
        using var net = StackFixture.Create("tcphash");
        const ushort port = 7101;
        using TcpSocket listener = TcpConnectionTests.Listen(net, port);
        var pairs = new List<(TcpSocket Client, TcpSocket Server)>();
        try
        {
            for (int i = 0; i < 40; i++)
            {
                pairs.Add(TcpConnectionTests.Pair(net, listener, port));
            }

            // Only the listener is in its port's bucket (and, without VIMAGE, the clients share the table but not the port).
            Assert.Equal(1, BucketLength(net.B, port));
            Assert.All(pairs, p => Assert.Equal(0, BucketLength(net.A, p.Client.LocalPort)));

            // Every connection is still found by input: data both ways on each.
            foreach ((TcpSocket c, TcpSocket s) in pairs)
            {
                Assert.Equal(1, c.Send([7]));
                Assert.Equal([7], TcpConnectionTests.ReadExactly(s, 1));
                Assert.Equal(1, s.Send([9]));
                Assert.Equal([9], TcpConnectionTests.ReadExactly(c, 1));
            }
        }
        finally
        {
            pairs.ForEach(p =>
            {
                p.Client.Dispose();
                p.Server.Dispose();
            });
        }
    }

    [Fact]
    public void BindStillSeesConnectedPcbsOnItsPort()
    {
        using var net = StackFixture.Create("tcphashb");
        const ushort port = 7102;
        TcpSocket listener = TcpConnectionTests.Listen(net, port);
        (TcpSocket c, TcpSocket s) = TcpConnectionTests.Pair(net, listener, port);
        listener.Dispose(); // the accepted connection alone holds the port now
        using (TcpSocket other = TcpSocket.Create(net.B))
        {
            Assert.Equal(Errno.EADDRINUSE, Assert.Throws<NetSocketException>(() => other.Bind(InAddr.Any, port)).Errno);
        }

        using (TcpSocket client2 = TcpSocket.Create(net.A))
        {
            Assert.Equal(Errno.EADDRINUSE, Assert.Throws<NetSocketException>(() => client2.Bind(c.LocalAddress, c.LocalPort)).Errno);
        }

        // The client closes first (its TIME_WAIT keeps its port); once the server end is closed too, its port is free.
        c.Dispose();
        Assert.Equal(0, s.Receive(new byte[1], Wait));
        s.Dispose();
        using TcpSocket again = TcpSocket.Create(net.B);
        Assert.True(Frames.WaitFor(() =>
        {
            try
            {
                again.Bind(InAddr.Any, port);
                return true;
            }
            catch (NetSocketException e) when (e.Errno == Errno.EADDRINUSE)
            {
                return false;
            }
        }, Wait));
    }
}
