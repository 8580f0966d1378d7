using Vimage.Core;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

/// <summary>tcp_sack.c: the receiver's block list and the sender's scoreboard, with exact expectations.</summary>
public class TcpSackTests
{
    private static SackBlock B(uint start, uint end) => new(start, end);

    /// <summary>Runs <paramref name="body"/> in a vnet of its own (vnet0 without VIMAGE, the sack knobs restored).</summary>
    private static void InVnet(Action<Vnet> body)
    {
        if (Vnet.IsVimage)
        {
            Vnet v = Vnet.Create("sack-test");
            try
            {
                using (Curvnet.Set(v))
                {
                    body(v);
                }
            }
            finally
            {
                v.Destroy();
            }

            return;
        }

        object? maxholes = Sysctl.Get("net.inet.tcp.sack.maxholes"), global = Sysctl.Get("net.inet.tcp.sack.globalmaxholes");
        try
        {
            using (Curvnet.Set(Vnet.Vnet0))
            {
                body(Vnet.Vnet0);
            }
        }
        finally
        {
            Sysctl.Set("net.inet.tcp.sack.maxholes", maxholes);
            Sysctl.Set("net.inet.tcp.sack.globalmaxholes", global);
        }
    }

    [Fact]
    public void ReceiverReportsTheMostRecentBlockFirstMergesAndForgetsAcknowledgedOnes()
    {
        var r = new SackReport();
        r.Update(1000, 2000, 2100);
        r.Update(1000, 3000, 3100);
        Assert.Equal([B(3000, 3100), B(2000, 2100)], r.Blocks.ToArray());
        r.Update(1000, 2100, 2200); // adjacent to [2000, 2100): merged, and it moves to the front
        Assert.Equal([B(2000, 2200), B(3000, 3100)], r.Blocks.ToArray());
        r.Update(1000, 3100, 3200);
        Assert.Equal([B(3000, 3200), B(2000, 2200)], r.Blocks.ToArray());
        for (uint s = 4000; s <= 8000; s += 1000)
        {
            r.Update(1000, s, s + 100);
        }

        // Six remembered; the oldest fell off.
        Assert.Equal([B(8000, 8100), B(7000, 7100), B(6000, 6100), B(5000, 5100), B(4000, 4100), B(3000, 3200)], r.Blocks.ToArray());
        Span<SackBlock> opt = stackalloc SackBlock[6];
        Assert.Equal(4, r.CopyForOption(opt, timestamps: false));
        Assert.Equal(3, r.CopyForOption(opt, timestamps: true));
        Assert.Equal(B(6000, 6100), opt[2]);

        // In-order data reached 3200: the blocks at or below rcv_nxt go; the order of the others stays.
        r.Update(3200, 3200, 3200);
        Assert.Equal([B(8000, 8100), B(7000, 7100), B(6000, 6100), B(5000, 5100), B(4000, 4100)], r.Blocks.ToArray());

        // A segment bridging two blocks merges all three.
        r.Update(3200, 5100, 6000);
        Assert.Equal([B(5000, 6100), B(8000, 8100), B(7000, 7100), B(4000, 4100)], r.Blocks.ToArray());

        // Partly duplicate: the duplicated part first (RFC 2883), the union kept.
        r.Update(3200, 4050, 4150);
        Assert.Equal([B(4050, 4100), B(5000, 6100), B(8000, 8100), B(7000, 7100), B(4000, 4150)], r.Blocks.ToArray());

        r.Update(3200, 9000, 8000); // inverted: ignored
        Assert.Equal(5, r.Count);
        r.Clean();
        Assert.Equal(0, r.Count);
    }

    [Fact]
    public void ReceiverBlocksWrapAroundTwoToTheThirtyTwo()
    {
        var r = new SackReport();
        uint nxt = 0xffff_ff00;
        r.Update(nxt, 0xffff_fff0, 0x10); // a block across the wrap
        r.Update(nxt, 0x10, 0x40);
        Assert.Equal([B(0xffff_fff0, 0x40)], r.Blocks.ToArray());
        r.Update(nxt, 0x100, 0x200);
        r.Update(0x40, 0x40, 0x40); // rcv_nxt wrapped past the first block
        Assert.Equal([B(0x100, 0x200)], r.Blocks.ToArray());
    }

    [Fact]
    public void DuplicateSegmentsAreReportedAsDsackBlocks()
    {
        var r = new SackReport();
        r.UpdateDsack(5000, 4000, 4100); // below rcv_nxt: the duplicate itself
        Assert.Equal([B(4000, 4100)], r.Blocks.ToArray());
        Assert.True(r.DsackBlockExists(5000));
        r.CleanDsack(5000);
        Assert.Equal(0, r.Count);

        r.Update(5000, 6000, 6100);
        r.Update(5000, 7000, 7100);
        r.UpdateDsack(5000, 6000, 6100); // a copy of a block we hold: D-SACK, then the block it repeats (RFC 2883 §4.1)
        Assert.Equal([B(6000, 6100), B(6000, 6100), B(7000, 7100)], r.Blocks.ToArray());
        Assert.False(r.DsackBlockExists(5000)); // above rcv_nxt
        r.CleanDsack(5000); // nothing at or below rcv_nxt; the copies stay until the list is rebuilt
        r.Update(5000, 5000, 5000);
        Assert.Equal([B(6000, 6100), B(7000, 7100)], r.Blocks.ToArray());

        var d = new SackReport();
        d.UpdateDsack(5000, 4800, 4900);
        d.Update(5000, 4900, 4900); // an empty update ending at the D-SACK block keeps it at the front until sent
        Assert.Equal([B(4800, 4900)], d.Blocks.ToArray());
    }

    /// <summary>Ten segments of 1000 bytes sent from base + 1000; the first is lost.</summary>
    [Theory]
    [InlineData(0u)]
    [InlineData(0xffff_f800u)] // the flight straddles 2^32
    public void ScoreboardTracksHolesSackedBytesAndThePipe(uint bs)
    {
        InVnet(vnet =>
        {
            var sb = new SackScoreboard();
            uint una = bs + 1000, max = bs + 11000;
            Assert.True(sb.DoAck(una, max, una, [B(bs + 2000, bs + 3000)]));
            Assert.Equal([new SackHole(bs + 1000, bs + 2000, bs + 1000)], sb.Holes());
            Assert.Equal(bs + 3000, sb.snd_fack);
            Assert.Equal(1000, sb.sacked_bytes);
            Assert.Equal(9000u, sb.Pipe(una, max));

            Assert.True(sb.DoAck(una, max, una, [B(bs + 2000, bs + 4000), B(bs + 5000, bs + 6000)]));
            Assert.Equal([new SackHole(bs + 1000, bs + 2000, bs + 1000), new SackHole(bs + 4000, bs + 5000, bs + 4000)], sb.Holes());
            Assert.Equal((bs + 6000, 3000, 2000), (sb.snd_fack, sb.sacked_bytes, sb.delivered_data));
            Assert.Equal(7000u, sb.Pipe(una, max));
            Assert.False(sb.DoAck(una, max, una, [B(bs + 2000, bs + 4000)])); // nothing new: not a dupack for recovery

            int h = sb.Output(out int rexmit);
            Assert.Equal((new SackHole(bs + 1000, bs + 2000, bs + 1000), 0), (sb[h], rexmit));
            sb.Retransmitted(h, 1000);
            Assert.Equal(1000, sb.sack_bytes_rexmit);
            Assert.Equal(8000u, sb.Pipe(una, max)); // the retransmission is in flight again
            h = sb.Output(out rexmit);
            Assert.Equal((new SackHole(bs + 4000, bs + 5000, bs + 4000), 1000), (sb[h], rexmit));
            sb.Retransmitted(h, 600);
            Assert.Equal(new SackHole(bs + 4000, bs + 5000, bs + 4600), sb[sb.Output(out _)]); // the hint stays on a partly sent hole
            sb.Retransmitted(h, 10_000); // never past the hole
            Assert.Equal(2000, sb.sack_bytes_rexmit);
            Assert.Equal(-1, sb.Output(out _));

            // The first retransmission arrived: ACK 4000, SACK [5000, 6000).
            Assert.True(sb.DoAck(una, max, bs + 4000, [B(bs + 5000, bs + 6000)]));
            una = bs + 4000;
            Assert.Equal([new SackHole(bs + 4000, bs + 5000, bs + 5000)], sb.Holes());
            Assert.Equal((1000, 1000, 1000), (sb.sacked_bytes, sb.sack_bytes_rexmit, sb.delivered_data));
            Assert.Equal(7000u, sb.Pipe(una, max)); // 7000 out − 1000 SACKed + 1000 retransmitted

            // A full ACK empties it.
            Assert.False(sb.DoAck(una, max, max, []));
            Assert.Empty(sb.Holes());
            Assert.Equal((0, 0), (sb.sacked_bytes, sb.sack_bytes_rexmit));
            Assert.Equal(0, (int)Sysctl.Get("net.inet.tcp.sack.globalholes")!);
        });
    }

    [Fact]
    public void HostileBlocksAreIgnoredAndDsacksCounted()
    {
        InVnet(v =>
        {
            var sb = new SackScoreboard();
            const uint una = 1000, max = 11000;
            long dsacks = Tcp.Tcp.Fetch(v, TcpStat.tcps_dsack_count), dbytes = Tcp.Tcp.Fetch(v, TcpStat.tcps_dsack_bytes);
            // Below snd_una (a D-SACK: counted), beyond snd_max, inverted, empty, starting at th_ack: no holes.
            Assert.False(sb.DoAck(una, max, una, [B(500, 900), B(10_500, 12_000), B(3000, 2000), B(4000, 4000)]));
            Assert.Equal(dsacks + 1, Tcp.Tcp.Fetch(v, TcpStat.tcps_dsack_count));
            Assert.False(sb.DoAck(una, max, una, [B(1000, 2000), B(0x8000_0000, 0x8000_0100), B(11_000, 11_100)]));
            Assert.Empty(sb.Holes());
            Assert.Equal(0, sb.sacked_bytes);

            // Overlapping blocks count once.
            Assert.True(sb.DoAck(una, max, una, [B(2500, 3500), B(2000, 3000)]));
            Assert.Equal([new SackHole(1000, 2000, 1000)], sb.Holes());
            Assert.Equal((1500, 3500u), (sb.sacked_bytes, sb.snd_fack));

            // More than TCP_MAX_SACK blocks: only the first four are read.
            var many = new SackScoreboard();
            SackBlock[] six = [B(2000, 2100), B(3000, 3100), B(4000, 4100), B(5000, 5100), B(6000, 6100), B(7000, 7100)];
            Assert.True(many.DoAck(una, max, una, six));
            Assert.Equal(4, many.Count);
            Assert.Equal((5100u, 400), (many.snd_fack, many.sacked_bytes));

            // A block wholly below the ACK is a D-SACK (RFC 2883): counted, no change to the scoreboard.
            Assert.False(sb.DoAck(una, max, una, [B(600, 700)]));
            Assert.Equal([new SackHole(1000, 2000, 1000)], sb.Holes());
            Assert.Equal(dsacks + 2, Tcp.Tcp.Fetch(v, TcpStat.tcps_dsack_count));
            Assert.Equal(dbytes + 500, Tcp.Tcp.Fetch(v, TcpStat.tcps_dsack_bytes));
            sb.Free();
            many.Free();
            Assert.Equal(0, (int)Sysctl.Get("net.inet.tcp.sack.globalholes")!);
        });
    }

    [Fact]
    public void HolesAreBoundedPerConnectionAndPerVnetWithCountedRefusals()
    {
        InVnet(v =>
        {
            Sysctl.Set("net.inet.tcp.sack.maxholes", "3");
            long overflows = Tcp.Tcp.Fetch(v, TcpStat.tcps_sack_sboverflow);
            var sb = new SackScoreboard();
            for (uint s = 2000; s <= 5000; s += 1000)
            {
                sb.DoAck(1000, 11_000, 1000, [B(s, s + 100)]);
            }

            Assert.Equal([new SackHole(1000, 2000, 1000), new SackHole(2100, 3000, 2100), new SackHole(3100, 4000, 3100)], sb.Holes());
            Assert.Equal(4100u, sb.snd_fack); // the refused block is not counted as SACKed
            Assert.Equal(300, sb.sacked_bytes);
            Assert.Equal(1, sb.Overflows);
            Assert.Equal(overflows + 1, Tcp.Tcp.Fetch(v, TcpStat.tcps_sack_sboverflow));
            Assert.Equal(3, (int)Sysctl.Get("net.inet.tcp.sack.globalholes")!);

            Sysctl.Set("net.inet.tcp.sack.maxholes", "128");
            Sysctl.Set("net.inet.tcp.sack.globalmaxholes", "4");
            var other = new SackScoreboard();
            other.DoAck(1000, 11_000, 1000, [B(2000, 2100)]);
            other.DoAck(1000, 11_000, 1000, [B(3000, 3100)]); // the vnet's fifth hole: refused
            Assert.Equal(1, other.Count);
            Assert.Equal(1, other.Overflows);
            sb.Free();
            other.Free();
            Assert.Equal(0, (int)Sysctl.Get("net.inet.tcp.sack.globalholes")!);
        });
    }

    [Fact]
    public void PartialAckLetsOutOneOrTwoSegmentsAndAddsTheRescueHole()
    {
        InVnet(vnet =>
        {
            var sb = new SackScoreboard();
            sb.DoAck(1000, 11_000, 1000, [B(2000, 3000), B(5000, 6000)]);
            sb.Retransmitted(sb.Output(out _), 1000);
            Assert.Equal(3000u, sb.PartialAck(4000, 1000, 11_000, 11_000, 11_000, 8000, 1000, sentFin: false)); // 1000 + 0 + 2·1000
            Assert.Equal(2000u, sb.PartialAck(1500, 1000, 11_000, 11_000, 11_000, 8000, 1000, sentFin: false)); // one segment
            Assert.Equal(2500u, sb.PartialAck(4000, 1000, 11_000, 11_000, 11_000, 2500, 1000, sentFin: false)); // capped at ssthresh
            sb.Free();

            // RFC 6675 rescue: everything but the tail was acknowledged and nothing is left to send.
            var tail = new SackScoreboard();
            tail.DoAck(1000, 11_000, 1000, [B(2000, 3000)]);
            tail.DoAck(1000, 11_000, 9000, []); // cumulative ACK past every hole: delivered data, empty board
            Assert.Empty(tail.Holes());
            tail.PartialAck(9000, 1000, 11_000, 11_000, 11_000, 8000, 1000, sentFin: true);
            Assert.Equal([new SackHole(9999, 10_999, 9999)], tail.Holes()); // the last segment, FIN excluded
            tail.Free();
        });
    }

    [Fact]
    public void ALostRetransmissionIsDetectedAndTheHolesResent()
    {
        InVnet(v =>
        {
            long lost = Tcp.Tcp.Fetch(v, TcpStat.tcps_sack_lostrexmt);
            var sb = new SackScoreboard();
            sb.DoAck(1000, 11_000, 1000, [B(2000, 4000), B(5000, 6000)]); // holes [1000, 2000) and [4000, 5000)
            sb.Retransmitted(sb.Output(out _), 1000);
            sb.Retransmitted(sb.Output(out _), 1000);
            Assert.Equal(-1, sb.Output(out int rexmit));
            Assert.Equal(2000, rexmit);
            Assert.False(sb.LostRetransmission(inRecovery: true, snd_recover: 11_000)); // fack 6000: too early to tell

            // New data sent in recovery (up to 13000) is SACKed, the retransmissions are not: they were lost.
            sb.DoAck(1000, 13_000, 1000, [B(2000, 4000), B(5000, 6000), B(12_000, 13_000)]);
            Assert.Equal(13_000u, sb.snd_fack);
            Assert.False(sb.LostRetransmission(inRecovery: false, snd_recover: 11_000));
            Assert.True(sb.LostRetransmission(inRecovery: true, snd_recover: 11_000));
            Assert.Equal(lost + 1, Tcp.Tcp.Fetch(v, TcpStat.tcps_sack_lostrexmt));
            Assert.Equal(
                [new SackHole(1000, 2000, 1000), new SackHole(4000, 5000, 4000), new SackHole(6000, 12_000, 6000)],
                sb.Holes());
            Assert.Equal(0, sb.sack_bytes_rexmit);
            Assert.Equal(new SackHole(1000, 2000, 1000), sb[sb.Output(out _)]);
            sb.Free();
        });
    }

    /// <summary>
    /// Model check: a receiver gets a random subset of 40 segments (some of them retransmissions the scoreboard
    /// picked) and reports up to four of its blocks per ACK, in random order, mixed with invalid blocks. After every
    /// ACK the scoreboard must be consistent: holes ordered, disjoint and inside [snd_una, snd_fack); every byte
    /// it considers SACKed really arrived; sacked_bytes, sack_bytes_rexmit and the vnet's hole count exact.
    /// </summary>
    [Theory]
    [InlineData(1, 0u)]
    [InlineData(2, 0xffff_c000u)]
    [InlineData(3, 0x7fff_f000u)]
    public void RandomAcksKeepTheScoreboardConsistentWithTheReceiver(int seed, uint bs)
    {
        InVnet(vnet =>
        {
            const int Segs = 40, Seg = 1000;
            var rng = new Random(seed);
            int mostHoles = 0, retransmissions = 0;
            for (int round = 0; round < 200; round++)
            {
                var sb = new SackScoreboard();
                var got = new bool[Segs];
                uint una = bs, max = bs + (Segs * Seg);
                for (int step = 0; step < 30 && TcpSeq.Lt(una, max); step++)
                {
                    for (int k = rng.Next(1, 6); k > 0; k--)
                    {
                        got[rng.Next(Segs)] = true;
                    }

                    int h = sb.Output(out _);
                    if (h >= 0 && rng.Next(2) == 0)
                    {
                        SackHole hole = sb[h];
                        int len = Math.Min(Seg, TcpSeq.Delta(hole.End, hole.Rxmit));
                        sb.Retransmitted(h, len);
                        retransmissions++;
                        if (rng.Next(3) > 0)
                        {
                            got[(int)((hole.Rxmit - bs) / Seg)] = true; // the retransmission arrives (usually)
                        }
                    }

                    int first = Array.IndexOf(got, false);
                    uint ack = first < 0 ? max : bs + (uint)(first * Seg);
                    var blocks = new List<SackBlock>();
                    for (int i = Math.Max(first, 0); first >= 0 && i < Segs; i++)
                    {
                        if (got[i] && (i == 0 || !got[i - 1]))
                        {
                            int j = i;
                            while (j < Segs && got[j])
                            {
                                j++;
                            }

                            blocks.Add(B(bs + (uint)(i * Seg), bs + (uint)(j * Seg)));
                        }
                    }

                    SackBlock[] report = [.. blocks.OrderBy(_ => rng.Next()).Take(4)];
                    if (rng.Next(4) == 0)
                    {
                        report = [.. report, B(una - 500, una - 100), B(max + 1, max + 900), B(una + 3000, una + 2000)];
                    }

                    sb.DoAck(una, max, ack, report.OrderBy(_ => rng.Next()).ToArray());
                    una = TcpSeq.Max(una, ack);

                    SackHole[] holes = sb.Holes();
                    mostHoles = Math.Max(mostHoles, holes.Length);
                    long holeBytes = 0, rexmit = 0;
                    uint prevEnd = una;
                    foreach (SackHole x in holes)
                    {
                        Assert.True(TcpSeq.Leq(prevEnd, x.Start) && TcpSeq.Lt(x.Start, x.End) && TcpSeq.Leq(x.End, sb.snd_fack), $"hole {x} after {prevEnd}");
                        Assert.True(TcpSeq.Leq(x.Start, x.Rxmit) && TcpSeq.Leq(x.Rxmit, x.End));
                        holeBytes += x.End - x.Start;
                        rexmit += x.Rxmit - x.Start;
                        prevEnd = x.End;
                    }

                    if (holes.Length > 0)
                    {
                        Assert.Equal(TcpSeq.Delta(sb.snd_fack, una) - holeBytes, sb.sacked_bytes);
                        for (uint q = una; TcpSeq.Lt(q, sb.snd_fack); q += Seg)
                        {
                            bool inHole = holes.Any(x => TcpSeq.Leq(x.Start, q) && TcpSeq.Lt(q, x.End));
                            Assert.True(inHole || got[(int)((q - bs) / Seg)], $"byte {q - bs} counted as SACKed but never arrived");
                        }
                    }

                    Assert.Equal(rexmit, sb.sack_bytes_rexmit);
                    Assert.Equal(holes.Length, (int)Sysctl.Get("net.inet.tcp.sack.globalholes", vnet)!);
                }

                sb.Free();
                Assert.Equal(0, (int)Sysctl.Get("net.inet.tcp.sack.globalholes", vnet)!);
            }

            Assert.True(mostHoles >= 5 && retransmissions > 500, $"the model barely exercised the scoreboard: {mostHoles} holes, {retransmissions} retransmissions");
        });
    }

    [Fact]
    public void AdjustSkipsSackedDataAfterATimeout()
    {
        InVnet(vnet =>
        {
            var sb = new SackScoreboard();
            sb.DoAck(1000, 11_000, 1000, [B(2000, 4000), B(5000, 6000)]);
            Assert.Equal(4000u, sb.Adjust(2500));
            Assert.Equal(1500u, sb.Adjust(1500));
            Assert.Equal(6000u, sb.Adjust(5000));
            Assert.Equal(7000u, sb.Adjust(7000));
            sb.Free();
        });
    }

    [Fact]
    public void SteadyStateAckProcessingAllocatesNothing()
    {
        InVnet(vnet =>
        {
            var sb = new SackScoreboard();
            SackBlock[] blocks = [B(0, 0), B(0, 0)];
            void Run(int n)
            {
                uint una = 1000;
                for (int i = 0; i < n; i++)
                {
                    uint max = una + 20_000;
                    blocks[0] = B(una + 2000, una + 4000);
                    blocks[1] = B(una + 6000, una + 7000);
                    sb.DoAck(una, max, una, blocks);
                    int h = sb.Output(out _);
                    if (h >= 0)
                    {
                        sb.Retransmitted(h, 1000);
                    }

                    _ = sb.Pipe(una, max);
                    sb.DoAck(una, max, una + 8000, ReadOnlySpan<SackBlock>.Empty);
                    una += 8000;
                    sb.Free();
                }
            }

            Run(100);
            long before = GC.GetAllocatedBytesForCurrentThread();
            Run(10_000);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        });
    }
}
