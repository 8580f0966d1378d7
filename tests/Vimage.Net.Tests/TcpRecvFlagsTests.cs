using System.Text;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;
using static Vimage.Net.Tests.TcpConnectionTests;

namespace Vimage.Net.Tests;

/// <summary>recv(2) flags on TCP sockets (soreceive_stream): MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, MSG_OOB.</summary>
public class TcpRecvFlagsTests
{
    private const int Wait = 10_000;

    [Fact]
    public async Task PeekCopiesWithoutConsuming()
    {
        using var net = StackFixture.Create("tcppeek");
        using TcpSocket listener = Listen(net, 7090);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7090);
        using (c)
        using (s)
        {
            c.Send("hello world"u8);
            Assert.True(Frames.WaitFor(() => s.Available == 11));
            byte[] buf = new byte[5];
            Assert.Equal(5, s.Receive(buf, MsgFlags.MSG_PEEK, Wait));
            Assert.Equal("hello", Encoding.ASCII.GetString(buf));
            Assert.Equal(11, s.Available);
            byte[] all = new byte[64];
            Assert.Equal(11, await s.ReceiveAsync(all, MsgFlags.MSG_PEEK));
            Assert.Equal(11, s.Available);
            Assert.Equal(11, s.Receive(all, Wait));
            Assert.Equal("hello world", Encoding.ASCII.GetString(all, 0, 11));
            Assert.Equal(0, s.Available);
        }
    }

    [Fact]
    public void DontWaitAnswersEagainOnABlockingSocket()
    {
        using var net = StackFixture.Create("tcpdontwait");
        using TcpSocket listener = Listen(net, 7091);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7091);
        using (c)
        using (s)
        {
            Assert.False(s.NonBlocking);
            var e = Assert.Throws<NetSocketException>(() => s.Receive(new byte[16], MsgFlags.MSG_DONTWAIT));
            Assert.Equal(NetSocketException.EAGAIN, e.Errno);
            c.Send("x"u8);
            Assert.True(Frames.WaitFor(() => s.Available == 1));
            Assert.Equal(1, s.Receive(new byte[16], MsgFlags.MSG_DONTWAIT));
            var oob = Assert.Throws<NetSocketException>(() => s.Receive(new byte[16], MsgFlags.MSG_OOB));
            Assert.Equal(Errno.EINVAL, oob.Errno);
        }
    }

    [Fact]
    public async Task WaitAllReturnsOnlyWhenTheRequestIsFilledOrAtEof()
    {
        using var net = StackFixture.Create("tcpwaitall");
        using TcpSocket listener = Listen(net, 7092);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7092);
        using (c)
        using (s)
        {
            byte[] rx = new byte[3000];
            ValueTask<int> pending = s.ReceiveAsync(rx, MsgFlags.MSG_WAITALL);
            c.Send(new byte[1000]);
            Assert.True(Frames.WaitFor(() => s.Available == 1000));
            Assert.False(pending.IsCompleted); // a plain recv would have returned these 1000 bytes
            byte[] rest = new byte[2000];
            rest.AsSpan().Fill(7);
            c.Send(rest);
            Assert.Equal(3000, await pending.AsTask().WaitAsync(TimeSpan.FromMilliseconds(Wait)));
            Assert.Equal(7, rx[2999]);

            // At EOF MSG_WAITALL returns what there is, then 0.
            c.Send(new byte[100]);
            c.Shutdown(ShutdownHow.SHUT_WR);
            Assert.Equal(100, s.Receive(new byte[1000], MsgFlags.MSG_WAITALL, Wait));
            Assert.Equal(0, s.Receive(new byte[1000], MsgFlags.MSG_WAITALL, Wait));
        }
    }

    [Fact]
    public async Task BlockingWaitAllCollectsSeveralSends()
    {
        using var net = StackFixture.Create("tcpwaitall2");
        using TcpSocket listener = Listen(net, 7093);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, 7093);
        using (c)
        using (s)
        {
            Task<int> receiver = Task.Run(() => s.Receive(new byte[2000], MsgFlags.MSG_WAITALL, Wait));
            for (int i = 0; i < 4; i++)
            {
                c.Send(new byte[500]);
            }

            Assert.Equal(2000, await receiver.WaitAsync(TimeSpan.FromMilliseconds(Wait)));
        }
    }
}
