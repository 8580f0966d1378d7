using Vimage.Net.Inet;
using Vimage.Net.Tcp;
using static Vimage.Net.Tests.TcpConnectionTests;

namespace Vimage.Net.Tests;

/// <summary>tcp_mss: once the peer's MSS is known, so_snd and so_rcv grow to a whole number of segments.</summary>
public class TcpMssBufferTests
{
    private static int RoundUp(int size, int mss) => size > mss ? (size + mss - 1) / mss * mss : size; // a smaller buffer stays

    [Fact]
    public void SocketBuffersAreRoundedUpToWholeSegmentsOnBothSides()
    {
        using var net = StackFixture.Create("tcpmssbuf");
        using TcpSocket listener = Listen(net, 7110);
        listener.ReceiveBufferSize = 10_000; // inherited by the accepted socket (sonewconn), rounded by tcp_mss all the same
        var c = TcpSocket.Create(net.A);
        c.Bind(net.AddrA, 0);
        c.ReceiveBufferSize = 20_000;
        c.SendBufferSize = 30_000;
        c.Connect(net.AddrB, 7110, 10_000);
        using TcpSocket s = listener.Accept(10_000);
        using (c)
        {
            int mss = c.Tcpcb.t_maxseg;
            Assert.Equal(mss, s.Tcpcb.t_maxseg);
            Assert.NotEqual(0, 20_000 % mss); // the test means something only if rounding is needed
            Assert.Equal(RoundUp(20_000, mss), c.ReceiveBufferSize);
            Assert.Equal(RoundUp(30_000, mss), c.SendBufferSize);
            Assert.Equal(RoundUp(10_000, mss), s.ReceiveBufferSize);
            Assert.Equal(0, s.SendBufferSize % mss);
        }
    }
}
