using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;

namespace Vimage.Net.Tests;

#if VIMAGE
/// <summary>
/// Async receive completions without a thread hop (issue 12): with direct dispatch, a datagram a user's send
/// delivers inline completes the receiver's awaiting ReceiveFromAsync on the sender's thread, inside that send,
/// after every delivery lock is released; nesting is bounded by net.isr.inline_wakeup; steady state allocates nothing.
/// </summary>
public class InlineWakeupTests
{
    private sealed class Pair : IDisposable
    {
        private readonly Topology _t = new();

        public Pair(string name)
        {
            A = _t.NewVnet($"{name}-a");
            B = _t.NewVnet($"{name}-b");
            _t.Link(A, "192.0.2.1/24", B, "192.0.2.2/24");
            Server = UdpSocket.Create(B);
            Server.Bind(InAddr.Any, 7200);
            Client = UdpSocket.Create(A);

            // Resolve ARP first: a datagram held for ARP is sent later from ARP's input, not from the user's send.
            Client.SendTo(new byte[1], InAddr.Parse("192.0.2.2"), 7200);
            Assert.Equal(1, Server.ReceiveFrom(new byte[8], out _, out _, timeoutMs: 10_000));
        }

        public Vnet A { get; }

        public Vnet B { get; }

        public UdpSocket Server { get; }

        public UdpSocket Client { get; }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
            _t.Dispose();
        }
    }

    [Fact]
    public void In_direct_mode_the_awaiting_receiver_continues_on_the_senders_thread_before_the_send_returns()
    {
        using var scope = new DispatchScope("direct");
        using var p = new Pair("wake-direct");
        int continuedOn = 0;
        bool sendReturned = false;
        bool continuedBeforeSendReturned = false;
        byte[] buffer = new byte[64];
        async Task ServerAsync()
        {
            await p.Server.ReceiveFromAsync(buffer);
            continuedOn = Environment.CurrentManagedThreadId;
            continuedBeforeSendReturned = !Volatile.Read(ref sendReturned);
        }

        Task server = Started(ServerAsync);
        p.Client.SendTo(new byte[8], InAddr.Parse("192.0.2.2"), 7200);
        Volatile.Write(ref sendReturned, true);
        Finished(server, 10_000);
        Assert.Equal(Environment.CurrentManagedThreadId, continuedOn);
        Assert.True(continuedBeforeSendReturned, "the continuation ran inside the send");
    }

    [Theory]
    [InlineData("deferred", 8)]
    [InlineData("direct", 0)]
    public void Queued_delivery_or_the_knob_at_zero_completes_on_the_thread_pool(string mode, int depth)
    {
        using var scope = new DispatchScope(mode);
        using var knob = new KnobScope(depth);
        using var p = new Pair($"wake-pool-{mode}");
        int continuedOn = 0;
        byte[] buffer = new byte[64];
        async Task ServerAsync()
        {
            await p.Server.ReceiveFromAsync(buffer);
            continuedOn = Environment.CurrentManagedThreadId;
        }

        Task server = Started(ServerAsync);
        p.Client.SendTo(new byte[8], InAddr.Parse("192.0.2.2"), 7200);
        Finished(server, 10_000);
        Assert.NotEqual(Environment.CurrentManagedThreadId, continuedOn);
    }

    /// <summary>
    /// The continuation blocks until another thread's datagram arrives through the same interface queue. Run
    /// under the queue's delivery lock (the design this replaces) it would stall that queue for good.
    /// </summary>
    [Fact]
    public void A_continuation_that_blocks_for_more_traffic_on_the_same_queue_does_not_stall_it()
    {
        using var scope = new DispatchScope("direct");
        using var p = new Pair("wake-block");
        using UdpSocket second = UdpSocket.Create(p.B);
        second.Bind(InAddr.Any, 7201);
        using UdpSocket otherClient = UdpSocket.Create(p.A);
        byte[] buffer = new byte[64], other = new byte[64];
        using var inContinuation = new ManualResetEventSlim();
        int blockedReceive = -1;
        async Task ServerAsync()
        {
            await p.Server.ReceiveFromAsync(buffer);
            inContinuation.Set();
            blockedReceive = second.ReceiveFrom(other, out _, out _, timeoutMs: 10_000); // waits for the other thread
        }

        Task server = Started(ServerAsync);
        var otherSender = new Thread(() =>
        {
            if (inContinuation.Wait(10_000))
            {
                otherClient.SendTo(new byte[5], InAddr.Parse("192.0.2.2"), 7201);
            }
        });
        otherSender.Start();
        p.Client.SendTo(new byte[8], InAddr.Parse("192.0.2.2"), 7200);
        Assert.True(otherSender.Join(15_000));
        Finished(server, 15_000);
        Assert.Equal(5, blockedReceive);
    }

    /// <summary>
    /// Two async loops bounce a datagram 2,000 times: each reply wakes the other side inline, so the nesting is cut
    /// at net.isr.inline_wakeup (the stack never grows with the exchange) and the rest hops to the pool.
    /// </summary>
    [Fact]
    public void Ping_pong_between_async_loops_nests_at_most_the_knob_and_finishes()
    {
        using var scope = new DispatchScope("direct");
        using var knob = new KnobScope(4);
        using var p = new Pair("wake-pingpong");
        const int Rounds = 2000;
        long inlineBefore = SoWakeups.Inline;
        int maxFrames = 0;
        InAddr serverAddress = InAddr.Parse("192.0.2.2"), clientAddress = InAddr.Parse("192.0.2.1");
        ushort clientPort = p.Client.LocalPort;
        async Task Echo()
        {
            byte[] b = new byte[64];
            for (int i = 0; i < Rounds; i++)
            {
                await p.Server.ReceiveFromAsync(b);
                await p.Server.SendToAsync(b.AsMemory(0, 8), clientAddress, clientPort);
            }
        }

        async Task Client()
        {
            byte[] b = new byte[64];
            for (int i = 0; i < Rounds; i++)
            {
                ValueTask<UdpReceiveResult> reply = p.Client.ReceiveFromAsync(b);
                await p.Client.SendToAsync(new byte[8], serverAddress, 7200);
                await reply;
                maxFrames = Math.Max(maxFrames, new System.Diagnostics.StackTrace().FrameCount);
            }
        }

        Task echo = Started(Echo);
        Task client = Task.Run(Client);
        Finished(client, 30_000);
        Finished(echo, 10_000);
        Assert.True(SoWakeups.Inline - inlineBefore >= Rounds, $"most wake-ups ran inline ({SoWakeups.Inline - inlineBefore})");
        Assert.True(maxFrames < 1500, $"the stack stays bounded ({maxFrames} frames)");
    }

    /// <summary>
    /// Request/response in lockstep: the client's send runs the echo server's continuation inline (receive,
    /// SendToAsync the reply, await the next request); the client then reads the reply synchronously. Every
    /// completion is inline and the sending thread allocates nothing per round trip.
    /// </summary>
    [Fact]
    public void Steady_state_inline_completions_allocate_nothing_on_the_sending_thread()
    {
        using var scope = new DispatchScope("direct");
        using var p = new Pair("wake-alloc");
        InAddr serverAddress = InAddr.Parse("192.0.2.2"), clientAddress = InAddr.Parse("192.0.2.1");
        ushort clientPort = p.Client.LocalPort;
        byte[] payload = new byte[32], reply = new byte[64];
        async Task Serve()
        {
            byte[] b = new byte[64];
            while (true)
            {
                UdpReceiveResult r = await p.Server.ReceiveFromAsync(b);
                if (r.BytesReceived == 0)
                {
                    return;
                }

                await p.Server.SendToAsync(b.AsMemory(0, r.BytesReceived), clientAddress, clientPort);
            }
        }

        Task server = Started(Serve);
        int Round()
        {
            p.Client.SendTo(payload, serverAddress, 7200);
            return p.Client.ReceiveFrom(reply, out _, out _, timeoutMs: 10_000);
        }

        // The server's continuations run on this thread and capture its synchronization context at their next
        // await (as any inline completion does): the test's context would take them off this thread.
        SynchronizationContext? saved = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        using var restore = new ContextRestore(saved);

        for (int i = 0; i < 500; i++)
        {
            Round();
        }

        const int Rounds = 2000;
        long inlineBefore = SoWakeups.Inline;
        long before = GC.GetAllocatedBytesForCurrentThread();
        int bytes = 0;
        for (int i = 0; i < Rounds; i++)
        {
            bytes += Round();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long inlined = SoWakeups.Inline - inlineBefore;
        Assert.Equal(Rounds * payload.Length, bytes);
        Assert.Equal(0, allocated);

        // A few may hop: when the queue's rx task holds the delivery lock (preempted on a loaded machine), the
        // frame is queued and that completion goes to the pool. Almost all must be inline.
        Assert.True(inlined >= Rounds * 99 / 100, $"{inlined} of {Rounds} completions inline");
        p.Client.SendTo([], serverAddress, 7200);
        Finished(server, 10_000);
    }

    /// <summary>
    /// Runs <paramref name="body"/> up to its first await, without the test's synchronization context (which would
    /// take its continuations), and checks that it is waiting there.
    /// </summary>
    internal static Task Started(Func<Task> body)
    {
        SynchronizationContext? saved = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        Task t;
        try
        {
            t = body();
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(saved);
        }

        Assert.False(t.IsCompleted, $"{t.Status}: {t.Exception}");
        return t;
    }

    internal static void Finished(Task t, int timeoutMs)
    {
        Assert.True(Frames.WaitFor(() => t.IsCompleted, timeoutMs), "the task finishes");
        Assert.True(t.Status == TaskStatus.RanToCompletion, $"{t.Status}: {t.Exception}");
    }

    private sealed class ContextRestore(SynchronizationContext? saved) : IDisposable
    {
        public void Dispose() => SynchronizationContext.SetSynchronizationContext(saved);
    }

    internal sealed class KnobScope : IDisposable
    {
        private readonly int _saved = SoWakeups.s_inline_wakeup;

        public KnobScope(int depth)
        {
            Sysctl.Set("net.isr.inline_wakeup", depth.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(depth, SoWakeups.s_inline_wakeup);
        }

        public void Dispose() => SoWakeups.s_inline_wakeup = _saved;
    }
}
#endif
