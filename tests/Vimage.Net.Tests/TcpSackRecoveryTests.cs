using System.Security.Cryptography;
using Vimage.Core;
using Vimage.Net.Tcp;
using static Vimage.Net.Tests.TcpConnectionTests;

namespace Vimage.Net.Tests;

/// <summary>
/// Sender-side SACK loss recovery (RFC 6675 as tcp_input.c / tcp_output.c / tcp_sack.c do it) against NewReno
/// (RFC 6582) with net.inet.tcp.sack.enable=0: several segments lost in one window, exact retransmission counts.
/// </summary>
public class TcpSackRecoveryTests
{
    private const string TwoStacks = "exact per-side expectations need two vnets over an epair";

    private static long T(Vnet v, TcpStat s) => Tcp.Tcp.Fetch(v, s);

    /// <summary>What one run saw: the counters' deltas on the sender (A) and receiver (B).</summary>
    private sealed record Run(int Dropped, long DroppedBytes, long Rexmit, long RexmitBytes, long SackRexmits, long SackRexmitBytes,
        long Episodes, long Timeouts, long DupB, long RexmitsBeforeFirstPartialAck, bool Sack);

    /// <summary>Sends 30 kB with the 3rd, 5th and 7th data segments of the first window dropped once.</summary>
    private static Run LoseThreeInOneWindow(string name, ushort port, int sackEnable)
    {
        using var net = StackFixture.Create(name);
        using var knobs = new SysctlScope().Set("net.inet.tcp.sack.enable", sackEnable, net.A, net.B);
        using TcpSocket listener = Listen(net, port);
        (TcpSocket c, TcpSocket s) = Pair(net, listener, port);
        using (c)
        using (s)
        {
            ushort cport = c.LocalPort;
            int dataSegments = 0;
            long droppedBytes = 0;
            using var hook = new TcpDropHook(net.B, (sp, dp, f, len) =>
            {
                if (sp != cport || dp != port || len == 0)
                {
                    return false;
                }

                int n = Interlocked.Increment(ref dataSegments);
                bool drop = n is 3 or 5 or 7;
                if (drop)
                {
                    Interlocked.Add(ref droppedBytes, len);
                }

                return drop;
            });

            // Retransmissions the sender had made when the first ACK that moves snd_una during recovery arrived.
            long rexmitAtPartial = -1;
            long rexmit0 = T(net.A, TcpStat.tcps_sndrexmitpack);
            uint firstHole = 0;
            using var watch = new TcpDropHook(net.A, (sp, dp, f, len) =>
            {
                Tcpcb tp = c.Tcpcb;
                if (sp == port && dp == cport && tp.InFastRecovery && (firstHole == 0 || tp.snd_una == firstHole))
                {
                    firstHole = tp.snd_una;
                    rexmitAtPartial = T(net.A, TcpStat.tcps_sndrexmitpack) - rexmit0;
                }

                return false;
            });
            long rexmitBytes = T(net.A, TcpStat.tcps_sndrexmitbyte), sackRexmits = T(net.A, TcpStat.tcps_sack_rexmits);
            long sackBytes = T(net.A, TcpStat.tcps_sack_rexmit_bytes), episodes = T(net.A, TcpStat.tcps_sack_recovery_episode);
            long rto = T(net.A, TcpStat.tcps_rexmttimeo), dupB = T(net.B, TcpStat.tcps_rcvduppack);

            byte[] data = RandomNumberGenerator.GetBytes(30_000);
            c.NoDelay = true;
            c.Send(data);
            Assert.Equal(data, ReadExactly(s, data.Length));
            return new Run(hook.Dropped, droppedBytes, T(net.A, TcpStat.tcps_sndrexmitpack) - rexmit0, T(net.A, TcpStat.tcps_sndrexmitbyte) - rexmitBytes,
                T(net.A, TcpStat.tcps_sack_rexmits) - sackRexmits, T(net.A, TcpStat.tcps_sack_rexmit_bytes) - sackBytes,
                T(net.A, TcpStat.tcps_sack_recovery_episode) - episodes, T(net.A, TcpStat.tcps_rexmttimeo) - rto,
                T(net.B, TcpStat.tcps_rcvduppack) - dupB, rexmitAtPartial, c.Tcpcb.SackPermitted);
        }
    }

    [SkippableFact]
    public void ThreeLossesInOneWindowAreRetransmittedFromTheScoreboardOnlyOnce()
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        Run r = LoseThreeInOneWindow("tcpsackrec", 7080, sackEnable: 1);
        Assert.True(r.Sack);
        Assert.Equal(3, r.Dropped);
        Assert.True(r.Rexmit == 3, r.ToString()); // only the lost segments went again
        Assert.Equal(r.DroppedBytes, r.RexmitBytes);
        Assert.Equal(3, r.SackRexmits);
        Assert.Equal(r.DroppedBytes, r.SackRexmitBytes);
        Assert.Equal(1, r.Episodes);
        Assert.Equal(0, r.Timeouts);
        Assert.Equal(0, r.DupB); // nothing arrived twice
        Assert.True(r.RexmitsBeforeFirstPartialAck == 3, r.ToString()); // every hole went before the first one's ACK came back
    }

    [SkippableFact]
    public void WithSackDisabledNewRenoResendsOneHolePerPartialAck()
    {
        Skip.IfNot(Vnet.IsVimage, TwoStacks);
        Run r = LoseThreeInOneWindow("tcpnewreno", 7081, sackEnable: 0);
        Assert.False(r.Sack);
        Assert.Equal(3, r.Dropped);
        Assert.True(r.Rexmit == 3, r.ToString());
        Assert.Equal(r.DroppedBytes, r.RexmitBytes);
        Assert.Equal(0, r.SackRexmits);
        Assert.Equal(0, r.Episodes);
        Assert.Equal(0, r.Timeouts);
        Assert.Equal(0, r.DupB);
        Assert.True(r.RexmitsBeforeFirstPartialAck == 1, r.ToString()); // one hole per round trip (RFC 6582)
    }
}
