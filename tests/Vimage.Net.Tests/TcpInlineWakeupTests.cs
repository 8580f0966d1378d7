using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

#if VIMAGE
/// <summary>
/// Issue 12 for TCP: with direct dispatch, data a user's send delivers inline completes the peer's awaiting
/// ReceiveAsync on the sender's thread when that send has left the stack (the datagram receive's rules,
/// net.isr.inline_wakeup); with the knob at 0 it hops to the thread pool as before.
/// </summary>
public class TcpInlineWakeupTests
{
    private const ushort Port = 7310;

    [Fact]
    public void In_direct_mode_an_awaiting_tcp_receive_continues_on_the_senders_thread_inside_the_send()
    {
        using var scope = new DispatchScope("direct");
        using var conn = new Connection("tcpwake", Port);
        TcpSocket c = conn.Client, s = conn.Server;
        {
            int continuedOn = 0, received = 0;
            bool sendReturned = false, beforeSendReturned = false;
            byte[] buffer = new byte[64];
            async Task ServerAsync()
            {
                received = await s.ReceiveAsync(buffer);
                continuedOn = Environment.CurrentManagedThreadId;
                beforeSendReturned = !Volatile.Read(ref sendReturned);
            }

            Task server = InlineWakeupTests.Started(ServerAsync);
            Assert.Equal(5, c.Send("hello"u8));
            Volatile.Write(ref sendReturned, true);
            InlineWakeupTests.Finished(server, 10_000);
            Assert.Equal(5, received);
            Assert.Equal(Environment.CurrentManagedThreadId, continuedOn);
            Assert.True(beforeSendReturned, "the continuation ran inside the send");
        }
    }

    [Fact]
    public void With_inline_wakeup_at_zero_the_tcp_receive_continues_on_the_thread_pool()
    {
        using var scope = new DispatchScope("direct");
        using var knob = new InlineWakeupTests.KnobScope(0);
        using var conn = new Connection("tcpwake0", (ushort)(Port + 1));
        TcpSocket c = conn.Client, s = conn.Server;
        {
            int continuedOn = 0;
            byte[] buffer = new byte[64];
            async Task ServerAsync()
            {
                await s.ReceiveAsync(buffer);
                continuedOn = Environment.CurrentManagedThreadId;
            }

            Task server = InlineWakeupTests.Started(ServerAsync);
            Assert.Equal(5, c.Send("hello"u8));
            InlineWakeupTests.Finished(server, 10_000);
            Assert.NotEqual(Environment.CurrentManagedThreadId, continuedOn);
        }
    }

    /// <summary>
    /// An async echo server and an async client bounce 2,000 messages: each send wakes the other side inline, so
    /// the nesting is cut at net.isr.inline_wakeup and the rest hops to the pool; every byte arrives, in order.
    /// </summary>
    [Fact]
    public void An_async_tcp_ping_pong_nests_boundedly_and_loses_nothing()
    {
        const int Rounds = 2000;
        using var scope = new DispatchScope("direct");
        using var conn = new Connection("tcpwakepp", (ushort)(Port + 2));
        TcpSocket c = conn.Client, s = conn.Server;
        {
            long inlineBefore = SoWakeups.Inline;
            async Task EchoAsync()
            {
                byte[] b = new byte[4];
                for (int i = 0; i < Rounds; i++)
                {
                    await ReadExactlyAsync(s, b);
                    await s.SendAsync(b);
                }
            }

            async Task ClientAsync()
            {
                byte[] b = new byte[4];
                for (int i = 0; i < Rounds; i++)
                {
                    BitConverter.TryWriteBytes(b, i);
                    await c.SendAsync(b);
                    await ReadExactlyAsync(c, b);
                    Assert.Equal(i, BitConverter.ToInt32(b));
                }
            }

            Task echo = InlineWakeupTests.Started(EchoAsync);
            Task client = Task.Run(ClientAsync);
            InlineWakeupTests.Finished(client, 30_000);
            InlineWakeupTests.Finished(echo, 30_000);
            Assert.True(SoWakeups.Inline - inlineBefore >= Rounds, $"most wake-ups ran inline ({SoWakeups.Inline - inlineBefore})");
        }
    }

    /// <summary>
    /// Closing the server while the client streams and the server's async receive is woken inline: the receive
    /// ends (end of data or ObjectDisposedException), the client's sends end with an error, nothing hangs.
    /// </summary>
    [Fact]
    public void Closing_under_inline_tcp_traffic_ends_both_sides()
    {
        using var scope = new DispatchScope("direct");
        using var conn = new Connection("tcpwakeclose", (ushort)(Port + 3));
        TcpSocket c = conn.Client, s = conn.Server;
        {
            long got = 0;
            async Task ServerAsync()
            {
                byte[] b = new byte[1024];
                try
                {
                    while (true)
                    {
                        int n = await s.ReceiveAsync(b);
                        if (n == 0)
                        {
                            return;
                        }

                        if (Interlocked.Add(ref got, n) > 64 * 1024)
                        {
                            s.Close(); // closes its own socket from inside the sender's send
                        }
                    }
                }
                catch (ObjectDisposedException)
                {
                }
            }

            Task server = InlineWakeupTests.Started(ServerAsync);
            byte[] chunk = new byte[512];
            Exception? ended = null;
            for (int i = 0; i < 100_000 && ended is null; i++)
            {
                try
                {
                    c.Send(chunk);
                }
                catch (Exception e) when (e is NetSocketException or ObjectDisposedException)
                {
                    ended = e;
                }
            }

            Assert.NotNull(ended);
            InlineWakeupTests.Finished(server, 10_000);
            Assert.True(Interlocked.Read(ref got) > 64 * 1024);
        }
    }

    /// <summary>Two vnets on an epair, a listener in B and one accepted connection from A.</summary>
    private sealed class Connection : IDisposable
    {
        private readonly StackFixture _net;
        private readonly TcpSocket _listener;

        public Connection(string name, ushort port)
        {
            _net = StackFixture.Create(name);
            _listener = TcpConnectionTests.Listen(_net, port);
            (Client, Server) = TcpConnectionTests.Pair(_net, _listener, port);
        }

        public TcpSocket Client { get; }

        public TcpSocket Server { get; }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
            _listener.Dispose();
            _net.Dispose();
        }
    }

    private static async Task ReadExactlyAsync(TcpSocket so, byte[] b)
    {
        for (int got = 0; got < b.Length;)
        {
            int n = await so.ReceiveAsync(b.AsMemory(got));
            Assert.True(n > 0, "end of data");
            got += n;
        }
    }
}
#endif
