using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Udp;
using Xunit.Abstractions;

namespace Vimage.Net.Tests;

#if VIMAGE
/// <summary>
/// Steady-state UDP, ICMP echo and forwarding allocate nothing per packet in every dispatch mode. Measured on the
/// sending and receiving thread (the test's) with GC.GetAllocatedBytesForCurrentThread: in direct and hybrid mode
/// that thread runs every hop of the round trip; in deferred mode the queue workers run the stack and this thread
/// only sends and receives. The whole process is measured as well (GC.GetTotalAllocatedBytes(precise)) and
/// reported; it is bounded by the 32 B per packet measured before direct dispatch: deferred mode's queue-worker
/// wake-ups and the runtime's background work (timers, tiered JIT) still allocate a few bytes per packet there.
/// </summary>
public class DispatchAllocationTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string mode in new[] { "direct", "hybrid", "deferred" })
        {
            foreach (string path in new[] { "udp", "ping", "forward" })
            {
                data.Add(mode, path);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Steady_state_round_trips_allocate_nothing(string mode, string path)
    {
        using var scope = new DispatchScope(mode);
        using var t = new Topology();
        Vnet a = t.NewVnet($"alloc-{path}-a"), b = t.NewVnet($"alloc-{path}-b");
        InAddr target = InAddr.Parse("192.0.2.2");
        t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        if (path == "forward")
        {
            Vnet c = t.NewVnet($"alloc-{path}-c");
            t.Link(b, "198.51.100.1/24", c, "198.51.100.2/24");
            using (Curvnet.Set(a))
            {
                Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("192.0.2.2"));
            }

            using (Curvnet.Set(c))
            {
                Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("198.51.100.1"));
            }

            Sysctl.Set("net.inet.ip.forwarding", "1", b);
            b = c;
            target = InAddr.Parse("198.51.100.2");
        }

        Sysctl.Set("net.inet.icmp.icmplim", "0", b);
        using UdpSocket server = UdpSocket.Create(b);
        server.Bind(InAddr.Any, 7100);
        using UdpSocket client = UdpSocket.Create(a);
        using PingSocket ping = PingSocket.Open(a);
        byte[] payload = new byte[64], buffer = new byte[256];
        int seq = 0;
        void RoundTrip()
        {
            if (path == "ping")
            {
                // No Assert.Equal in the loop: xunit's allocates a comparer per call.
                if (ping.Send(target, (ushort)++seq) != 0)
                {
                    throw new InvalidOperationException("ping send failed");
                }

                while (true)
                {
                    if (!ping.TryReceive(5000, out PingReply reply))
                    {
                        throw new TimeoutException($"no echo reply {seq}");
                    }

                    if (reply.Sequence == (ushort)seq)
                    {
                        return;
                    }
                }
            }

            client.SendTo(payload, target, 7100);
            if (server.ReceiveFrom(buffer, out _, out _, 5000) != 64)
            {
                throw new InvalidOperationException("short datagram");
            }
        }

        for (int i = 0; i < 1000; i++)
        {
            RoundTrip(); // warm-up: ARP, pools, tiered JIT
        }

        // The JIT may still allocate while it settles: up to five windows are measured; one must be clean.
        const int packets = 1000, windows = 4; // deferred mode pays a worker wake-up per hop: keep the run short
        long thread = long.MaxValue, total = long.MaxValue;
        for (int w = 0; w < windows && (thread != 0 || total > 32L * packets); w++)
        {
            long t0 = GC.GetAllocatedBytesForCurrentThread(), p0 = GC.GetTotalAllocatedBytes(precise: true);
            for (int i = 0; i < packets; i++)
            {
                RoundTrip();
            }

            thread = GC.GetAllocatedBytesForCurrentThread() - t0;
            total = GC.GetTotalAllocatedBytes(precise: true) - p0;
        }

        output.WriteLine($"{mode} {path}: this thread {thread} B, whole process {total} B over {packets} round trips ({(double)total / packets:0.##} B each)");
        Assert.Equal(0, thread);
        Assert.True(total <= 32L * packets, $"{total} B allocated process-wide over {packets} round trips");
    }
}
#endif
