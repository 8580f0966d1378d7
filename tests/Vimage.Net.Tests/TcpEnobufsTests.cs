using System.Security.Cryptography;
using Vimage.Core;
using Vimage.Net.Iflib;
using Vimage.Net.Tcp;
using static Vimage.Net.Tests.TcpConnectionTests;

namespace Vimage.Net.Tests;

/// <summary>
/// Backpressure from a full interface queue (iflib_if_transmit's ENOBUFS) up through ether_output and ip_output to
/// tcp_output, which backs out the segment and cuts cwnd to one segment (tcp_output.c's "case ENOBUFS"), so the
/// ACKs of what did leave clock the rest instead of a retransmission timeout finding the "loss".
/// </summary>
public class TcpEnobufsTests
{
    private const string TwoStacks = "the epair's ring is only between two vnets (without VIMAGE the traffic loops through lo0)";

    /// <summary>The smallest rings iflib allows: 16 descriptors each way, a TX mp_ring of 8./summary>
    private static readonly IflibQueueConfig Tiny = new(1, 1, IflibQueueConfig.MinDescriptors, IflibQueueConfig.MinDescriptors, 8);

    private static long T(Vnet v, TcpStat s) => Tcp.Tcp.Fetch(v, s);

    [SkippableFact]
    public async Task EightStreamsThroughATinyRingCompleteAndEveryRefusedSegmentIsSentAgain()
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        using var net = StackFixture.Create("tcpenobufs", Tiny);

        // Deferred dispatch: each side's input runs on its RX task, so a sender can outrun it and fill the ring.
        using var dispatch = new DispatchScope("deferred");
        // Wire-sized segments: with TSO a few 64 KiB segments would not fill the ring the test is about.
        using var knobs = new SysctlScope().Set("net.inet.tcp.tso", 0, net.A);
        const ushort port = 7090;
        const int streams = 8, bytes = 1 << 20;
        using TcpSocket listener = Listen(net, port);
        var pairs = new List<(TcpSocket C, TcpSocket S)>();
        try
        {
            for (int i = 0; i < streams; i++)
            {
                pairs.Add(Pair(net, listener, port));
            }

            long drops = net.IfA.Counter(IfCounter.IFCOUNTER_OQDROPS);
            long sent = T(net.A, TcpStat.tcps_sndtotal), left = net.IfA.Counter(IfCounter.IFCOUNTER_OPACKETS);
            byte[][] data = [.. Enumerable.Range(0, streams).Select(_ => RandomNumberGenerator.GetBytes(bytes))];
            var got = new byte[streams][];
            var tasks = new List<Task>();
            for (int i = 0; i < streams; i++)
            {
                int k = i;
                tasks.Add(Task.Run(() => pairs[k].C.Send(data[k])));
                tasks.Add(Task.Run(() => got[k] = ReadExactly(pairs[k].S, bytes)));
            }

            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
            for (int i = 0; i < streams; i++)
            {
                Assert.Equal(SHA256.HashData(data[i]), SHA256.HashData(got[i]));
            }

            long dropped = net.IfA.Counter(IfCounter.IFCOUNTER_OQDROPS) - drops;
            Assert.True(dropped > 0, "the ring never filled: the test did not exercise ENOBUFS");

            // Every segment ip_output took left the interface: the ones the full ring refused came back to TCP as
            // ENOBUFS (not counted in tcps_sndtotal, backed out and sent again), none vanished silently.
            Assert.Equal(net.IfA.Counter(IfCounter.IFCOUNTER_OPACKETS) - left, T(net.A, TcpStat.tcps_sndtotal) - sent);

            // Not asserted (a missed goal): "no retransmission timeout at all". A few remain per run (1-4 for some
            // 500 ring drops on a loaded machine): SACK recovery's pipe still counts bytes that were backed out.
        }
        finally
        {
            foreach ((TcpSocket c, TcpSocket s) in pairs)
            {
                c.Dispose();
                s.Dispose();
            }
        }
    }
}
