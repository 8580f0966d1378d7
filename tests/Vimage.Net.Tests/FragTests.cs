using System.Buffers.Binary;
using CsCheck;
using Vimage.Core;
using Vimage.Net.Inet;
using static Vimage.Net.Tests.FragSupport;

namespace Vimage.Net.Tests;

/// <summary>ip_fragment and ip_reass called directly, in a vnet of their own (vnet0 without VIMAGE).</summary>
public class FragTests
{
    private static readonly InAddr Src = InAddr.Parse("192.0.2.1"), Dst = InAddr.Parse("192.0.2.2");

    /// <summary>Runs <paramref name="body"/> in a fresh vnet (VIMAGE) or vnet0, restoring the knobs afterwards.</summary>
    private static void InStack(Action<Vnet> body)
    {
#if VIMAGE
        Vnet v = Vnet.Create("frag-unit");
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
#else
        Vnet v = Vnet.Vnet0;
        using (Curvnet.Set(v))
        {
            int packets = Ip.MaxFragPackets, perPacket = Ip.MaxFragsPerPacket;
            try
            {
                body(v);
            }
            finally
            {
                IpReass.Drain();
                Sysctl.Set("net.inet.ip.maxfragpackets", packets, v);
                Sysctl.Set("net.inet.ip.maxfragsperpacket", perPacket, v);
            }
        }
#endif
    }

    private static Mbuf? Feed(byte[] packet) => IpReass.Input(FragSupport.Mbuf(packet), (packet[0] & 0xf) * 4);

    private static byte[] Pattern(int length, int seed)
    {
        byte[] b = new byte[length];
        for (int i = 0; i < b.Length; i++)
        {
            b[i] = (byte)(i * 31 + seed);
        }

        return b;
    }

    [Fact]
    public void FragmentOutputSplitsAtTheMtuCopiesOnlyCopiedOptionsAndReassemblesToTheOriginal()
    {
        InStack(_ =>
        {
            // LSRR (copied flag set) then Record Route (not copied), EOL-padded: a 36-byte header.
            byte[] options = [131, 7, 4, 10, 0, 0, 1, 7, 7, 4, 0, 0, 0, 0, 0, 0];
            byte[] original = Packet(Src, Dst, 4242, 253, 0, false, Pattern(3000, 1), options);
            long fragmentedBefore = Ip.Fetch(IpStat.ips_fragmented), ofragmentsBefore = Ip.Fetch(IpStat.ips_ofragments);
            long outstanding = MbufPool.Clusters.Outstanding;
            var sent = new List<byte[]>();
            int error = IpFragment.Output(FragSupport.Mbuf(original), 1000, f =>
            {
                sent.Add(f.Data.ToArray());
                f.Free();
                return 0;
            });
            Assert.Equal(0, error);
            Assert.Equal(outstanding, MbufPool.Clusters.Outstanding);
            Assert.Equal(1, Ip.Fetch(IpStat.ips_fragmented) - fragmentedBefore);
            Assert.Equal(4, Ip.Fetch(IpStat.ips_ofragments) - ofragmentsBefore);

            // (1000 - 36) & ~7 = 960 in the first, (1000 - 28) & ~7 = 968 in the others.
            Assert.Equal([960, 968, 968, 104], sent.Select(f => new IpHeader(f).TotalLength - new IpHeader(f).HeaderLength));
            Assert.Equal([36, 28, 28, 28], sent.Select(f => new IpHeader(f).HeaderLength));
            Assert.Equal([0, 960, 1928, 2896], sent.Select(f => new IpHeader(f).FragmentOffset));
            Assert.Equal([true, true, true, false], sent.Select(f => new IpHeader(f).MoreFragments));
            Assert.All(sent, f =>
            {
                var h = new IpHeader(f);
                Assert.True(h.TotalLength <= 1000);
                Assert.Equal(f.Length, h.TotalLength);
                Assert.True(Checksum.IsValid(f.AsSpan(0, h.HeaderLength)));
                Assert.Equal((ushort)4242, h.Id);
            });
            Assert.Equal(options, sent[0][20..36]);
            Assert.Equal(new byte[] { 131, 7, 4, 10, 0, 0, 1, 0 }, sent[1][20..28]);

            // Reassembly, out of order, gives back the original byte for byte.
            long reassembled = Ip.Fetch(IpStat.ips_reassembled);
            Mbuf? whole = null;
            foreach (int i in new[] { 2, 0, 3, 1 })
            {
                Mbuf? r = Feed(sent[i]);
                Assert.True(r is null || i == 1);
                whole ??= r;
            }

            Assert.NotNull(whole);
            Assert.Equal(original, whole.Data.ToArray());
            whole.Free();
            Assert.Equal(1, Ip.Fetch(IpStat.ips_reassembled) - reassembled);
            Assert.Equal(0, IpReass.QueueCount);
            Assert.Equal(outstanding, MbufPool.Clusters.Outstanding);
        });
    }

    [Fact]
    public void FragmentOutputRefusesDfAndTinyMtusAndStopsAtTheFirstSendError()
    {
        InStack(_ =>
        {
            long outstanding = MbufPool.Clusters.Outstanding;
            long cantfrag = Ip.Fetch(IpStat.ips_cantfrag);
            byte[] df = Packet(Src, Dst, 1, 17, 0, false, new byte[1000]);
            BinaryPrimitives.WriteUInt16BigEndian(df.AsSpan(6), IpHeader.FlagDontFragment);
            new IpHeader(df).UpdateChecksum();
            Assert.Equal(Errno.EMSGSIZE, IpFragment.Output(FragSupport.Mbuf(df), 576, _ => throw new InvalidOperationException("sent")));
            Assert.Equal(Errno.EMSGSIZE, IpFragment.Output(FragSupport.Mbuf(Packet(Src, Dst, 2, 17, 0, false, new byte[100])), 27, _ => throw new InvalidOperationException("sent")));
            Assert.Equal(2, Ip.Fetch(IpStat.ips_cantfrag) - cantfrag);

            // A packet that fits goes out untouched.
            byte[] small = Packet(Src, Dst, 3, 17, 0, false, new byte[100]);
            byte[]? got = null;
            Assert.Equal(0, IpFragment.Output(FragSupport.Mbuf(small), 576, m =>
            {
                got = m.Data.ToArray();
                m.Free();
                return 0;
            }));
            Assert.Equal(small, got);

            // The first error is returned; the fragments not yet sent are freed.
            int calls = 0;
            Assert.Equal(Errno.EHOSTDOWN, IpFragment.Output(FragSupport.Mbuf(Packet(Src, Dst, 4, 17, 0, false, new byte[4000])), 576, m =>
            {
                calls++;
                m.Free();
                return calls == 2 ? Errno.EHOSTDOWN : 0;
            }));
            Assert.Equal(2, calls);
            Assert.Equal(outstanding, MbufPool.Clusters.Outstanding);

            // Re-fragmenting a fragment keeps its offset and MF on the last piece.
            var pieces = new List<byte[]>();
            Assert.Equal(0, IpFragment.Output(FragSupport.Mbuf(Packet(Src, Dst, 5, 17, 1480, true, new byte[1480])), 576, m =>
            {
                pieces.Add(m.Data.ToArray());
                m.Free();
                return 0;
            }));
            Assert.Equal([1480, 2032, 2584], pieces.Select(p => new IpHeader(p).FragmentOffset));
            Assert.All(pieces, p => Assert.True(new IpHeader(p).MoreFragments));
        });
    }

    [Fact]
    public void DuplicatesAreDroppedAloneOverlapsDropTheWholeDatagram()
    {
        InStack(_ =>
        {
            long outstanding = MbufPool.Clusters.Outstanding;
            long dropped = Ip.Fetch(IpStat.ips_fragdropped), fragments = Ip.Fetch(IpStat.ips_fragments);
            byte[] data = Pattern(48, 3);

            // Exact duplicate: only the copy goes; the datagram still completes.
            Assert.Null(Feed(Packet(Src, Dst, 10, 253, 0, true, data.AsSpan(0, 16))));
            Assert.Null(Feed(Packet(Src, Dst, 10, 253, 0, true, data.AsSpan(0, 16))));
            Assert.Equal(1, Ip.Fetch(IpStat.ips_fragdropped) - dropped);
            Mbuf? whole = Feed(Packet(Src, Dst, 10, 253, 16, false, data.AsSpan(16)));
            Assert.NotNull(whole);
            Assert.Equal(data, whole.Data[20..].ToArray());
            Assert.Equal(20 + 48, new IpHeader(whole.Data).TotalLength);
            Assert.Equal(0, new IpHeader(whole.Data).FragmentField);
            Assert.True(Checksum.IsValid(whole.Data[..20]));
            whole.Free();

            // Partial overlap (teardrop-style): both fragments counted, the queue is gone.
            dropped = Ip.Fetch(IpStat.ips_fragdropped);
            Assert.Null(Feed(Packet(Src, Dst, 11, 253, 0, true, data.AsSpan(0, 24))));
            Assert.Null(Feed(Packet(Src, Dst, 11, 253, 16, true, data.AsSpan(0, 16))));
            Assert.Equal(2, Ip.Fetch(IpStat.ips_fragdropped) - dropped);
            Assert.Equal(0, IpReass.QueueCount);

            // Two last fragments that disagree on the end; data beyond the known end.
            dropped = Ip.Fetch(IpStat.ips_fragdropped);
            Assert.Null(Feed(Packet(Src, Dst, 12, 253, 32, false, data.AsSpan(0, 8))));
            Assert.Null(Feed(Packet(Src, Dst, 12, 253, 64, false, data.AsSpan(0, 8))));
            Assert.Null(Feed(Packet(Src, Dst, 13, 253, 32, false, data.AsSpan(0, 8))));
            Assert.Null(Feed(Packet(Src, Dst, 13, 253, 40, true, data.AsSpan(0, 8))));
            Assert.Equal(4, Ip.Fetch(IpStat.ips_fragdropped) - dropped);
            Assert.Equal(0, IpReass.QueueCount);
            Assert.Equal(9, Ip.Fetch(IpStat.ips_fragments) - fragments);
            Assert.Equal(outstanding, MbufPool.Clusters.Outstanding);
        });
    }

    [Fact]
    public void MalformedFragmentsAreDroppedAndCountedUnderTheirField()
    {
        InStack(_ =>
        {
            long outstanding = MbufPool.Clusters.Outstanding;
            long dropped = Ip.Fetch(IpStat.ips_fragdropped), toolong = Ip.Fetch(IpStat.ips_toolong);
            long toosmall = Ip.Fetch(IpStat.ips_toosmall), tooshort = Ip.Fetch(IpStat.ips_tooshort);

            // offset + length past 65535.
            Assert.Null(Feed(Packet(Src, Dst, 20, 253, 65512, false, new byte[32])));
            Assert.Null(Feed(Packet(Src, Dst, 20, 253, 65480, true, new byte[48])));
            // Non-last fragment not a multiple of 8; empty fragment.
            Assert.Null(Feed(Packet(Src, Dst, 21, 253, 0, true, new byte[13])));
            Assert.Null(Feed(Packet(Src, Dst, 21, 253, 8, false, [])));
            // Truncated: the header claims more than the buffer holds.
            Assert.Null(Feed(Packet(Src, Dst, 22, 253, 0, true, new byte[16], totalLengthOverride: 20 + 64)));

            Assert.Equal(2, Ip.Fetch(IpStat.ips_toolong) - toolong);
            Assert.Equal(2, Ip.Fetch(IpStat.ips_toosmall) - toosmall);
            Assert.Equal(1, Ip.Fetch(IpStat.ips_tooshort) - tooshort);
            Assert.Equal(5, Ip.Fetch(IpStat.ips_fragdropped) - dropped);
            Assert.Equal(0, IpReass.QueueCount);

            // A datagram whose fragments fit but whose header makes it exceed 65535 at completion.
            // (60-byte header + 65512 bytes of data; every fragment alone is fine with a 20-byte header.)
            byte[] options = Enumerable.Repeat((byte)IpOptions.NoOp, 40).ToArray();
            long jumbo = MbufPool.Jumbo.Outstanding;
            dropped = Ip.Fetch(IpStat.ips_fragdropped);
            Assert.Null(Feed(Packet(Src, Dst, 23, 253, 0, true, new byte[1480], options)));
            Assert.Null(Feed(Packet(Src, Dst, 23, 253, 65504, false, new byte[8])));
            for (int off = 1480; off < 65504; off += 1480 * 8)
            {
                Assert.Null(Feed(Packet(Src, Dst, 23, 253, off, true, new byte[Math.Min(1480 * 8, 65504 - off)])));
            }

            Assert.Equal(0, IpReass.QueueCount);
            Assert.Equal(3, Ip.Fetch(IpStat.ips_toolong) - toolong);
            Assert.Equal(8, Ip.Fetch(IpStat.ips_fragdropped) - dropped);
            Assert.Equal(outstanding, MbufPool.Clusters.Outstanding);
            Assert.Equal(jumbo, MbufPool.Jumbo.Outstanding);
        });
    }

    [Fact]
    public void TooManyFragmentsPerPacketDropTheQueueAndQueuesAreBoundedByMaxfragpackets()
    {
        InStack(v =>
        {
            long outstanding = MbufPool.Clusters.Outstanding;
            long dropped = Ip.Fetch(IpStat.ips_fragdropped);
            Assert.Equal(16, Ip.MaxFragsPerPacket);
            for (int i = 0; i < 17; i++)
            {
                Assert.Null(Feed(Packet(Src, Dst, 30, 253, i * 16, true, new byte[8]))); // gaps: never completes
            }

            Assert.Equal(17, Ip.Fetch(IpStat.ips_fragdropped) - dropped);
            Assert.Equal(0, IpReass.QueueCount);

            Sysctl.Set("net.inet.ip.maxfragpackets", 8, v);
            dropped = Ip.Fetch(IpStat.ips_fragdropped);
            for (int id = 0; id < 100; id++)
            {
                Assert.Null(Feed(Packet(Src, Dst, (ushort)(1000 + id), 253, 0, true, new byte[8])));
                Assert.True(IpReass.QueueCount <= 8);
            }

            Assert.Equal(8, IpReass.QueueCount);
            Assert.Equal(92, Ip.Fetch(IpStat.ips_fragdropped) - dropped);
            Assert.Equal(outstanding + 8, MbufPool.Clusters.Outstanding);

            // Lowering the knob trims the oldest queues at the next tick.
            Sysctl.Set("net.inet.ip.maxfragpackets", 3, v);
            IpReass.Tick();
            Assert.Equal(3, IpReass.QueueCount);
            Sysctl.Set("net.inet.ip.maxfragpackets", 0, v); // 0: no reassembly at all
            Assert.Null(Feed(Packet(Src, Dst, 5000, 253, 0, true, new byte[8])));
            IpReass.Tick();
            Assert.Equal(0, IpReass.QueueCount);
            Assert.Equal(outstanding, MbufPool.Clusters.Outstanding);
        });
    }

    [Fact]
    public void UncompletedQueuesExpireAfterThirtySeconds()
    {
        InStack(_ =>
        {
            long outstanding = MbufPool.Clusters.Outstanding;
            long timeout = Ip.Fetch(IpStat.ips_fragtimeout);
            Assert.Null(Feed(Packet(Src, Dst, 40, 253, 0, true, new byte[8])));
            Assert.Null(Feed(Packet(Src, Dst, 40, 253, 16, true, new byte[8])));
            Assert.Null(Feed(Packet(Src, Dst, 41, 253, 8, true, new byte[8])));
            long start = NetTimers.NowMs;
            try
            {
                IpReass.ClockOverride = () => start + IpReass.TimeToLiveMs - 1000;
                IpReass.Tick();
                Assert.Equal(2, IpReass.QueueCount);
                IpReass.ClockOverride = () => start + IpReass.TimeToLiveMs + 1000;
                IpReass.Tick();
            }
            finally
            {
                IpReass.ClockOverride = null;
            }

            Assert.Equal(0, IpReass.QueueCount);
            Assert.Equal(3, Ip.Fetch(IpStat.ips_fragtimeout) - timeout);
            Assert.Equal(outstanding, MbufPool.Clusters.Outstanding);
        });
    }

    [Fact]
    public void JumboBuffersAreCompactedIntoClustersBeforeTheyAreQueued()
    {
        InStack(_ =>
        {
            long jumbo = MbufPool.Jumbo.Outstanding, clusters = MbufPool.Clusters.Outstanding;
            byte[] f = Packet(Src, Dst, 50, 253, 0, true, new byte[64]);
            Mbuf m = MbufPool.Jumbo.Get()!;
            m.SetData(f);
            Assert.Null(IpReass.Input(m, 20));
            Assert.Equal(jumbo, MbufPool.Jumbo.Outstanding);
            Assert.Equal(clusters + 1, MbufPool.Clusters.Outstanding);
            IpReass.Drain();
            Assert.Equal(clusters, MbufPool.Clusters.Outstanding);
        });
    }

#if VIMAGE
    [Fact]
    public void DestroyingTheVnetFreesItsQueues()
    {
        long outstanding = MbufLeak.Baseline();
        Vnet v = Vnet.Create("frag-destroy");
        using (Curvnet.Set(v))
        {
            for (int id = 0; id < 100; id++)
            {
                Assert.Null(Feed(Packet(Src, Dst, (ushort)id, 253, 0, true, new byte[64])));
            }

            Assert.Equal(100, IpReass.QueueCount);
        }

        Assert.True(MbufPool.Clusters.Outstanding >= outstanding + 100);
        v.Destroy();
        MbufLeak.AssertBack(outstanding);
    }
#endif

    /// <summary>Random fragment streams: never an exception, bounded state, and whatever completes is exactly right.</summary>
    [Fact]
    public void RandomFragmentSequencesNeverBreakTheBounds()
    {
        InStack(v =>
        {
            Sysctl.Set("net.inet.ip.maxfragpackets", 4, v);
            Sysctl.Set("net.inet.ip.maxfragsperpacket", 6, v);
            long outstanding = MbufPool.Clusters.Outstanding;
            var gen = Gen.Select(Gen.Int[0, 3], Gen.Int[0, 12], Gen.Int[0, 5], Gen.Bool, Gen.Int[0, 9], Gen.Int[-4, 4])
                .Array[1, 60];
            long start = NetTimers.NowMs;
            int completed = 0;
            try
            {
                gen.Sample(frags =>
                {
                    using CurvnetScope scope = Curvnet.Set(v); // CsCheck runs the sample on its own thread
                    long now = start;
                    IpReass.ClockOverride = () => now;
                    foreach ((int id, int unit, int units, bool more, int special, int lengthSkew) in frags)
                    {
                        int offset = special == 9 ? 8100 * 8 : unit * 8;
                        int length = units * 8 + (special == 8 ? 3 : 0);
                        byte[] data = new byte[length];
                        for (int i = 0; i < length; i++)
                        {
                            data[i] = (byte)((offset + i) * 13 + id);
                        }

                        byte[] packet = Packet(Src, Dst, (ushort)id, 253, offset, more, data, special == 7 ? [1, 1, 1, 1] : default);
                        if (special == 6)
                        {
                            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)Math.Max(0, packet.Length + lengthSkew));
                        }

                        Mbuf? whole = Feed(packet);
                        if (whole is not null && offset == 0 && !more)
                        {
                            whole.Free(); // not a fragment: handed back untouched
                        }
                        else if (whole is not null)
                        {
                            var ip = new IpHeader(whole.Data);
                            Assert.Equal(whole.Length, ip.TotalLength);
                            Assert.Equal(0, ip.FragmentField & (IpHeader.FlagMoreFragments | IpHeader.OffsetMask));
                            Assert.True(Checksum.IsValid(whole.Data[..ip.HeaderLength]));
                            ReadOnlySpan<byte> payload = whole.Data[ip.HeaderLength..];
                            for (int i = 0; i < payload.Length; i++)
                            {
                                Assert.Equal((byte)(i * 13 + ip.Id), payload[i]);
                            }

                            whole.Free();
                            completed++;
                        }

                        Assert.True(IpReass.QueueCount <= 4);
                        Assert.True(IpReass.FragmentCount <= 4 * 6);
                        now += 3000;
                        if (special == 5)
                        {
                            IpReass.Tick();
                        }
                    }

                    now += IpReass.TimeToLiveMs;
                    IpReass.Tick();
                    Assert.Equal(0, IpReass.QueueCount);
                }, iter: 2000, threads: 1); // one table, one clock: samples must not interleave
            }
            finally
            {
                IpReass.ClockOverride = null;
            }

            Assert.True(completed > 0, "no random sequence ever completed a datagram");
            Assert.True(Frames.WaitFor(() => MbufPool.Clusters.Outstanding <= outstanding + 8, 5000),
                $"outstanding {MbufPool.Clusters.Outstanding} vs {outstanding}");
        });
    }
}
