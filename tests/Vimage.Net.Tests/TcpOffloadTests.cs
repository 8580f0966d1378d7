using System.Buffers.Binary;
using System.Security.Cryptography;
using Vimage.Core;
using Vimage.Net.Bpf;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;

namespace Vimage.Net.Tests;

/// <summary>
/// Checksum offload and TSO between vnets (IFCAP_TXCSUM/RXCSUM/TSO4/LRO on epair, csum_flags, in_delayed_cksum
/// and software segmentation in ip_output): bytes arrive intact, large segments cross an epair whole, and what
/// leaves on a link that cannot take them is cut and checksummed.
/// </summary>
public class TcpOffloadTests
{
    private const int Wait = 20_000;
    private const IfCap EpairCaps = IfCap.IFCAP_HWCSUM | IfCap.IFCAP_VLAN_MTU | IfCap.IFCAP_TSO4 | IfCap.IFCAP_LRO;

    [Fact]
    public void EpairAdvertisesChecksumAndTsoAndTheEndsAgreeOnWhatIsOffloaded()
    {
        using StackFixture net = StackFixture.Create("offload-caps");
        Ifnet a = net.IfA, b = net.IfB;
        Assert.Equal(EpairCaps, a.Capabilities);
        Assert.Equal(EpairCaps, a.CapEnable);
        Assert.Equal(65535, a.HwTsoMax);
        Assert.Equal(CsumFlags.CSUM_IP | CsumFlags.CSUM_TCP | CsumFlags.CSUM_UDP | CsumFlags.CSUM_TSO, a.HwAssist);

        // The peer not taking large segments (-lro) stops TSO towards it, not checksums.
        b.SetCapabilities(IfCap.None, IfCap.IFCAP_LRO);
        Assert.Equal(CsumFlags.CSUM_IP | CsumFlags.CSUM_TCP | CsumFlags.CSUM_UDP, a.HwAssist);

        // The peer not trusting checksums (-rxcsum) stops every offload towards it.
        b.SetCapabilities(IfCap.IFCAP_LRO, IfCap.IFCAP_RXCSUM);
        Assert.Equal(CsumFlags.None, a.HwAssist);
        b.SetCapabilities(IfCap.IFCAP_RXCSUM, IfCap.None);

        // TSO needs TXCSUM: -txcsum turns both off, tso turns both on.
        Assert.Equal(IfCap.IFCAP_TSO4, a.SetCapabilities(IfCap.None, IfCap.IFCAP_TXCSUM));
        Assert.Equal(CsumFlags.None, a.HwAssist);
        Assert.Equal(IfCap.IFCAP_TXCSUM, a.SetCapabilities(IfCap.IFCAP_TSO4, IfCap.None));
        Assert.Equal(EpairCaps, a.CapEnable);

        // Bits the driver does not have are ignored, as setifcap masks them with if_capabilities.
        a.SetCapabilities(IfCap.IFCAP_TSO6, IfCap.None);
        Assert.Equal(EpairCaps, a.CapEnable);
    }

    [Fact]
    public void SoftwareSegmentationCutsALargeSegmentIntoValidWireSegments()
    {
        InAddr src = InAddr.Parse("192.0.2.1"), dst = InAddr.Parse("192.0.2.2");
        const int segsz = 1000, payload = 3500, thlen = 32;
        Mbuf m = MbufPool.GetFor(20 + thlen + payload)!;
        Span<byte> p = m.Append(20 + thlen + payload);
        IpHeader.Write(p, p.Length, 700, IpHeader.FlagDontFragment, 64, IpProto.Tcp, src, dst, 0);
        new TcpHeader(1234, 80, 0xffff_fe00, 99, thlen, TcpFlags.TH_ACK | TcpFlags.TH_PUSH | TcpFlags.TH_FIN | TcpFlags.TH_CWR, 512, 0).Write(p[20..]);
        for (int i = 0; i < payload; i++)
        {
            p[20 + thlen + i] = (byte)(i * 7);
        }

        byte[] original = p[(20 + thlen)..].ToArray();
        m.CsumFlags = CsumFlags.CSUM_TCP | CsumFlags.CSUM_TSO;
        m.CsumData = InOffload.TcpSumOffset;
        m.TsoSegsz = segsz;
        Assert.Equal(20 + thlen + segsz, InOffload.WireLength(m));
        long before = MbufPool.Clusters.Outstanding + MbufPool.Jumbo.Outstanding;

        Mbuf? s = InOffload.Segment(m);
        var got = new List<byte>();
        int n = 0;
        while (s is not null)
        {
            Mbuf? next = s.NextPacket;
            Assert.Equal(CsumFlags.CSUM_TCP, s.CsumFlags);
            InOffload.DelayedCksum(s);
            byte[] d = s.Data.ToArray();
            var ip = new IpHeader(d);
            int len = Math.Min(segsz, payload - n * segsz);
            Assert.Equal(20 + thlen + len, ip.TotalLength);
            Assert.Equal((ushort)(700 + n), ip.Id);
            Assert.True(ip.DontFragment);
            Assert.True(Checksum.IsValid(d.AsSpan(0, 20)));
            Assert.True(TcpHeader.ChecksumValid(d.AsSpan(20), src, dst));
            TcpHeader th = TcpHeader.Read(d.AsSpan(20));
            Assert.Equal(unchecked(0xffff_fe00u + (uint)(n * segsz)), th.Seq);
            bool last = next is null;
            Assert.Equal(n == 0, (th.Flags & TcpFlags.TH_CWR) != 0);
            Assert.Equal(last, (th.Flags & TcpFlags.TH_FIN) != 0);
            Assert.Equal(last, (th.Flags & TcpFlags.TH_PUSH) != 0);
            Assert.Equal((ushort)1234, th.SourcePort);
            got.AddRange(d.AsSpan(20 + thlen).ToArray());
            s.Free();
            s = next;
            n++;
        }

        Assert.Equal(4, n);
        Assert.Equal(original, got.ToArray());
        Assert.Equal(before - 1, MbufPool.Clusters.Outstanding + MbufPool.Jumbo.Outstanding); // the original went back
    }

    [Fact]
    public void CompletingAnOffloadedPacketComputesItsChecksumAndClearsTheFlags()
    {
        // Dummynet's corruption flips a bit "on the wire": the checksum must be complete and unflagged first, or a
        // receiver trusting CSUM_DATA_VALID would take the corrupted bytes.
        InAddr src = InAddr.Parse("192.0.2.1"), dst = InAddr.Parse("192.0.2.2");
        Mbuf m = MbufPool.GetFor(20 + 20 + 100)!;
        Span<byte> p = m.Append(140);
        IpHeader.Write(p, 140, 1, 0, 64, IpProto.Tcp, src, dst, 0);
        new TcpHeader(1, 2, 3, 4, 20, TcpFlags.TH_ACK, 100, 0).Write(p[20..]);
        p[40..].Fill(0x5a);
        InOffload.WritePseudo(p[(20 + InOffload.TcpSumOffset)..], src, dst, IpProto.Tcp, 120);
        m.CsumFlags = CsumFlags.CSUM_TCP | CsumFlags.CSUM_DATA_VALID | CsumFlags.CSUM_PSEUDO_HDR;
        m.CsumData = InOffload.TcpSumOffset;
        Assert.False(TcpHeader.ChecksumValid(m.Data[20..], src, dst)); // only the pseudo-header sum so far
        MbufCsum.Complete(m);
        Assert.Equal(CsumFlags.None, m.CsumFlags);
        Assert.True(TcpHeader.ChecksumValid(m.Data[20..], src, dst));
        m.Data[100] ^= 1;
        Assert.False(TcpHeader.ChecksumValid(m.Data[20..], src, dst));
        m.Free();
    }

    [Fact]
    public void BulkTransferIsIntactAndNeedsNoChecksumWork()
    {
        using StackFixture net = StackFixture.Create("offload-bulk");
        long badsum = Tcp.Tcp.Fetch(net.B, TcpStat.tcps_rcvbadsum);
        (byte[] sent, byte[] received) = Transfer(net.A, net.AddrA, net.B, net.AddrB, 7401, 3 << 20);
        Assert.Equal(SHA256.HashData(sent), SHA256.HashData(received));
        Assert.Equal(badsum, Tcp.Tcp.Fetch(net.B, TcpStat.tcps_rcvbadsum));
    }

    [SkippableFact]
    public void LargeSegmentsCrossAnEpairWholeAndWireSizedOnesWithoutTso()
    {
        Skip.IfNot(Vnet.IsVimage, "one vnet over lo0 without VIMAGE: no epair between stacks");
        using StackFixture net = StackFixture.Create("offload-tso");
        int biggest = 0, frames = 0;
        using BpfSession tap = net.IfA.Bpf.Attach((frame, dir, _) =>
        {
            if (frame.Length > 54 && frame[23] == IpProto.Tcp)
            {
                Interlocked.Increment(ref frames);
                InterlockedMax(ref biggest, frame.Length);
            }
        }, Direction.Out);
        (byte[] sent, byte[] received) = Transfer(net.A, net.AddrA, net.B, net.AddrB, 7402, 4 << 20);
        Assert.Equal(SHA256.HashData(sent), SHA256.HashData(received));
        Assert.True(Volatile.Read(ref biggest) > 1514, $"largest frame {biggest}: no TSO segment crossed");
        Assert.True(Volatile.Read(ref biggest) <= 65535 + 14);
        Assert.True(Volatile.Read(ref frames) < sent.Length / 1448, $"{frames} data frames for {sent.Length} bytes: not coalesced");

        // ifconfig epairNa -tso: the same transfer goes out in wire-sized segments with full checksums.
        net.IfA.SetCapabilities(IfCap.None, IfCap.IFCAP_TSO4);
        Volatile.Write(ref biggest, 0);
        Volatile.Write(ref frames, 0);
        (sent, received) = Transfer(net.A, net.AddrA, net.B, net.AddrB, 7403, 1 << 20);
        Assert.Equal(SHA256.HashData(sent), SHA256.HashData(received));
        Assert.InRange(Volatile.Read(ref biggest), 1000, 1514);
        Assert.True(Volatile.Read(ref frames) >= sent.Length / 1448);
    }

    [SkippableFact]
    public void WithoutTxcsumEveryFrameOnTheWireCarriesAValidChecksum()
    {
        Skip.IfNot(Vnet.IsVimage, "one vnet over lo0 without VIMAGE: no epair between stacks");
        using StackFixture net = StackFixture.Create("offload-notx");
        net.IfA.SetCapabilities(IfCap.None, IfCap.IFCAP_TXCSUM);
        Assert.Equal(CsumFlags.None, net.IfA.HwAssist);
        int bad = 0, good = 0;
        using BpfSession tap = net.IfA.Bpf.Attach((frame, dir, _) =>
        {
            if (frame.Length > 54 && frame[23] == IpProto.Tcp)
            {
                ReadOnlySpan<byte> ip = frame[14..];
                int hlen = (ip[0] & 0xf) * 4;
                bool ok = Checksum.IsValid(ip[..hlen]) && TcpHeader.ChecksumValid(ip[hlen..], InAddr.Read(ip[12..]), InAddr.Read(ip[16..]));
                Interlocked.Increment(ref ok ? ref good : ref bad);
            }
        }, Direction.Out);
        (byte[] sent, byte[] received) = Transfer(net.A, net.AddrA, net.B, net.AddrB, 7404, 1 << 20);
        Assert.Equal(sent, received);
        Assert.Equal(0, Volatile.Read(ref bad));
        Assert.True(Volatile.Read(ref good) >= sent.Length / 1448);
    }

    [SkippableTheory]
    [InlineData(1280, false, false)] // a smaller MTU behind the router: cut to 1448-byte segments, need-frag, PMTU lowers the MSS
    [InlineData(1500, true, false)] // the outgoing end without TSO: cut to the segments the sender meant
    [InlineData(1280, false, true)] // both ends take large segments whose segments fit: they cross whole
    public void ARouterCutsLargeSegmentsForALinkThatCannotCarryThem(int mtu, bool noTsoOut, bool largeExpected)
    {
        Skip.IfNot(Vnet.IsVimage, "a router between stacks needs VIMAGE");
        using var t = new Topology();
        string tag = $"{mtu}-{noTsoOut}-{largeExpected}";
        Vnet a = t.NewVnet($"tso-rt-a-{tag}"), r = t.NewVnet($"tso-rt-r-{tag}"), c = t.NewVnet($"tso-rt-c-{tag}");
        t.Link(a, "192.0.2.1/24", r, "192.0.2.2/24");
        (Ifnet rc, Ifnet cr) = t.Link(r, "198.51.100.1/24", c, "198.51.100.2/24");
        using (Curvnet.Set(r))
        {
            rc.SetMtu(mtu);
            if (noTsoOut)
            {
                rc.SetCapabilities(IfCap.None, IfCap.IFCAP_TSO4);
            }
        }

        using (Curvnet.Set(c))
        {
            if (largeExpected)
            {
                cr.SetMtu(mtu); // c offers an MSS that fits the small link
            }
            else
            {
                cr.SetCapabilities(IfCap.None, IfCap.IFCAP_LRO); // the router may hand c nothing larger than the MTU
            }

            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("198.51.100.1"));
        }

        using (Curvnet.Set(a))
        {
            Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("192.0.2.2"));
        }

        Sysctl.Set("net.inet.ip.forwarding", "1", r);
        Sysctl.Set("net.inet.icmp.icmplim", "0", r);
        int biggest = 0;
        using BpfSession tap = cr.Bpf.Attach((frame, dir, _) => InterlockedMax(ref biggest, frame.Length), Direction.In);
        (byte[] sent, byte[] received) = Transfer(a, InAddr.Parse("192.0.2.1"), c, InAddr.Parse("198.51.100.2"), 7405, 2 << 20);
        Assert.Equal(SHA256.HashData(sent), SHA256.HashData(received));
        if (largeExpected)
        {
            Assert.True(Volatile.Read(ref biggest) > mtu + 14, $"largest frame {biggest}");
        }
        else
        {
            Assert.InRange(Volatile.Read(ref biggest), 100, mtu + 14);
        }

        if (mtu < 1500 && !largeExpected)
        {
            Assert.True(StackFixture.In(r, () => Icmp.FetchOutHist((byte)IcmpType.Unreach)) > 0, "no need-frag from the router");
        }
    }

    /// <summary>Sends <paramref name="size"/> random bytes from a client in <paramref name="from"/> to a listener in <paramref name="to"/>.</summary>
    private static (byte[] Sent, byte[] Received) Transfer(Vnet from, InAddr fromAddr, Vnet to, InAddr toAddr, ushort port, int size)
    {
        byte[] data = RandomNumberGenerator.GetBytes(size);
        using var listener = TcpSocket.Create(to);
        listener.Bind(InAddr.Any, port);
        listener.Listen(4);
        using var client = TcpSocket.Create(from);
        client.Bind(fromAddr, 0);
        client.Connect(toAddr, port, Wait);
        using TcpSocket server = listener.Accept(Wait);
        Task sending = Task.Run(() =>
        {
            for (int off = 0; off < data.Length;)
            {
                off += client.Send(data.AsSpan(off), Wait);
            }

            client.Shutdown(Vimage.Net.Sockets.ShutdownHow.SHUT_WR);
        });
        byte[] got = new byte[size + 1];
        int n = 0;
        while (true)
        {
            int r = server.Receive(got.AsSpan(n), Wait);
            Assert.True(r >= 0);
            if (r == 0)
            {
                break;
            }

            n += r;
            Assert.True(n <= size, "more bytes than were sent");
        }

        Assert.True(sending.Wait(Wait), "sender did not finish");
        return (data, got[..n]);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
