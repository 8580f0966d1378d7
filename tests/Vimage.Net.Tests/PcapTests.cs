using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Text;
using CsCheck;
using PacketDotNet;
using Vimage.Net.Bpf;

namespace Vimage.Net.Tests;

/// <summary>Hand-built Ethernet frames, so the pcap code is checked against bytes nobody's encoder produced.</summary>
internal static class PcapTestFrames
{
    public static readonly byte[] MacA = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
    public static readonly byte[] MacB = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
    public static readonly byte[] IpA = [10, 0, 0, 1];
    public static readonly byte[] IpB = [10, 0, 0, 2];

    /// <summary>ARP request: who-has 10.0.0.2 tell 10.0.0.1, broadcast, 42 bytes.</summary>
    public static byte[] ArpRequest()
    {
        var f = new List<byte>();
        f.AddRange([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]); // dst: broadcast
        f.AddRange(MacA);                                // src
        f.AddRange([0x08, 0x06]);                        // ethertype ARP
        f.AddRange([0x00, 0x01]);                        // htype Ethernet
        f.AddRange([0x08, 0x00]);                        // ptype IPv4
        f.AddRange([6, 4]);                              // hlen, plen
        f.AddRange([0x00, 0x01]);                        // oper request
        f.AddRange(MacA);                                // sha
        f.AddRange(IpA);                                 // spa
        f.AddRange([0, 0, 0, 0, 0, 0]);                  // tha
        f.AddRange(IpB);                                 // tpa
        return [.. f];
    }

    /// <summary>IPv4/UDP 10.0.0.1:12345 → 10.0.0.2:9999 with correct IP and UDP checksums.</summary>
    public static byte[] Udp(string payload = "hello vimage", ushort id = 0x1234) => Udp(Encoding.ASCII.GetBytes(payload), id);

    public static byte[] Udp(byte[] payload, ushort id = 0x1234)
    {
        int udpLen = 8 + payload.Length;
        int ipLen = 20 + udpLen;
        var f = new byte[14 + ipLen];
        MacB.CopyTo(f, 0);
        MacA.CopyTo(f, 6);
        f[12] = 0x08; f[13] = 0x00;

        Span<byte> ip = f.AsSpan(14, 20);
        ip[0] = 0x45;                                              // version 4, IHL 5
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ipLen);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);    // DF
        ip[8] = 64;                                                // TTL
        ip[9] = 17;                                                // UDP
        IpA.CopyTo(ip[12..]);
        IpB.CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip, 0));

        Span<byte> udp = f.AsSpan(34, udpLen);
        BinaryPrimitives.WriteUInt16BigEndian(udp[0..], 12345);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9999);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)udpLen);
        payload.CopyTo(udp[8..]);
        // Pseudo-header: src, dst, zero, protocol, UDP length.
        uint pseudo = Sum(IpA) + Sum(IpB) + 17u + (uint)udpLen;
        ushort sum = Checksum(udp, pseudo);
        BinaryPrimitives.WriteUInt16BigEndian(udp[6..], sum == 0 ? (ushort)0xffff : sum);
        return f;
    }

    private static uint Sum(ReadOnlySpan<byte> b)
    {
        uint s = 0;
        for (int i = 0; i + 1 < b.Length; i += 2)
        {
            s += (uint)(b[i] << 8 | b[i + 1]);
        }

        if ((b.Length & 1) != 0)
        {
            s += (uint)(b[^1] << 8);
        }

        return s;
    }

    private static ushort Checksum(ReadOnlySpan<byte> b, uint initial)
    {
        uint s = initial + Sum(b);
        while (s >> 16 != 0)
        {
            s = (s & 0xffff) + (s >> 16);
        }

        return (ushort)~s;
    }
}

/// <summary>A write-only sink that allocates nothing and can be told to fail.</summary>
internal sealed class PcapSinkStream : Stream
{
    public long Written;
    public long FailAfterBytes = long.MaxValue;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (Written + buffer.Length > FailAfterBytes)
        {
            throw new IOException("simulated: no space left on device");
        }

        Written += buffer.Length;
    }
}

public sealed class PcapTests : IDisposable
{
    private static readonly DateTime T0 = new DateTime(2023, 11, 14, 22, 13, 20, DateTimeKind.Utc); // 1700000000
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vimage-pcap-" + Guid.NewGuid().ToString("N"));

    public PcapTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string NewPath(string name) => Path.Combine(_dir, name);

    /// <summary>Writes the ARP request, a UDP packet, and a second UDP packet with distinct µs timestamps.</summary>
    private string WriteSample(out List<(byte[] Frame, DateTime Ts)> frames)
    {
        frames =
        [
            (PcapTestFrames.ArpRequest(), T0.AddTicks(10)),                     // 1700000000.000001
            (PcapTestFrames.Udp(), T0.AddSeconds(1).AddTicks(1_234_560)),       // 1700000001.123456
            (PcapTestFrames.Udp("second", 0x1235), T0.AddSeconds(2).AddTicks(9_999_990)), // 1700000002.999999
        ];
        string path = NewPath("sample.pcap");
        using var w = new PcapWriter(path);
        foreach (var (frame, ts) in frames)
        {
            w.Write(frame, ts);
        }

        return path;
    }

    // ---------------------------------------------------------------- writer / reader round trip

    [Fact]
    public void Pcap_GlobalHeader_IsClassicLibpcapLittleEndian()
    {
        var ms = new MemoryStream();
        using (new PcapWriter(ms, leaveOpen: true)) { }
        byte[] expected =
        [
            0xd4, 0xc3, 0xb2, 0xa1, // magic 0xa1b2c3d4 little-endian
            0x02, 0x00, 0x04, 0x00, // version 2.4
            0, 0, 0, 0,             // thiszone
            0, 0, 0, 0,             // sigfigs
            0x00, 0x00, 0x04, 0x00, // snaplen 262144
            0x01, 0x00, 0x00, 0x00, // LINKTYPE_ETHERNET
        ];
        Assert.Equal(expected, ms.ToArray());
    }

    [Fact]
    public void Pcap_RoundTrip_SameBytesLengthsAndMicrosecondTimestamps()
    {
        string path = WriteSample(out var frames);
        using var r = new PcapReader(path);
        Assert.Equal(2, r.VersionMajor);
        Assert.Equal(4, r.VersionMinor);
        Assert.Equal(0, r.ThisZone);
        Assert.Equal(0u, r.SigFigs);
        Assert.Equal((uint)PcapFormat.DefaultSnapLength, r.SnapLength);
        Assert.Equal(PcapLinkType.Ethernet, r.LinkType);
        Assert.False(r.IsNanosecond);
        Assert.False(r.IsByteSwapped);

        var records = r.ReadAll().ToList();
        Assert.Equal(frames.Count, records.Count);
        for (int i = 0; i < frames.Count; i++)
        {
            Assert.Equal(i, records[i].Index);
            Assert.Equal(frames[i].Frame, records[i].Data);
            Assert.Equal(frames[i].Frame.Length, records[i].OriginalLength);
            Assert.Equal(frames[i].Frame.Length, records[i].IncludedLength);
            Assert.False(records[i].IsTruncated);
            Assert.Equal(frames[i].Ts, records[i].Timestamp);
            Assert.Equal(DateTimeKind.Utc, records[i].Timestamp.Kind);
        }

        Assert.Equal(1_700_000_000u, records[0].Seconds);
        Assert.Equal(1u, records[0].Fraction);
        Assert.Equal(1_700_000_001_123_456L, records[1].UnixMicroseconds);
        Assert.Equal(999_999u, records[2].Fraction);
        Assert.Equal(42, records[0].OriginalLength);
        Assert.False(r.TryReadNext(out _)); // clean EOF stays EOF
    }

    [Fact]
    public void Pcap_Timestamps_LongAndDateTimeOverloadsAgree_LocalIsConvertedAndSubMicrosecondTruncated()
    {
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, leaveOpen: true))
        {
            w.Write([1, 2, 3], 1_700_000_000_654_321L);
            w.Write([4], T0.ToLocalTime().AddTicks(6_543_219)); // Local → UTC; the last 100 ns tick is below µs precision
            w.Write([5], new DateTime(T0.Ticks, DateTimeKind.Unspecified)); // Unspecified is taken as UTC
            Assert.Equal(3, w.PacketsWritten);
            Assert.Equal(24 + 3 * 16 + 5, w.BytesWritten);
        }

        ms.Position = 0;
        var recs = new PcapReader(ms).ReadAll().ToList();
        Assert.Equal(1_700_000_000_654_321L, recs[0].UnixMicroseconds);
        Assert.Equal(1_700_000_000_654_321L, recs[1].UnixMicroseconds);
        Assert.Equal(1_700_000_000_000_000L, recs[2].UnixMicroseconds);
    }

    [Fact]
    public void Pcap_Writer_RejectsTimestampsOutsidePcapRange_AndWritesAfterDispose()
    {
        var ms = new MemoryStream();
        var w = new PcapWriter(ms, leaveOpen: true);
        Assert.Throws<ArgumentOutOfRangeException>(() => w.Write([1], -1L));
        Assert.Throws<ArgumentOutOfRangeException>(() => w.Write([1], new DateTime(1969, 12, 31, 23, 59, 59, DateTimeKind.Utc)));
        Assert.Throws<ArgumentOutOfRangeException>(() => w.Write([1], (uint.MaxValue + 1L) * 1_000_000));
        w.Write([1], uint.MaxValue * 1_000_000L + 999_999); // the last representable instant is fine
        Assert.Equal(24 + 16 + 1, ms.Length);
        w.Dispose();
        w.Dispose(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => w.Write([1], 0L));
        Assert.Throws<ObjectDisposedException>(() => w.Flush());
        Assert.True(ms.CanWrite, "leaveOpen keeps the caller's stream open");

        var owned = new MemoryStream();
        new PcapWriter(owned).Dispose();
        Assert.False(owned.CanWrite, "without leaveOpen the writer closes the stream");

        Assert.Throws<ArgumentOutOfRangeException>(() => new PcapWriter(new MemoryStream(), snapLength: 0));
        Assert.Throws<ArgumentException>(() => new PcapWriter(new MemoryStream([], writable: false)));
    }

    [Fact]
    public void Pcap_Writer_StreamFailure_FaultsTheWriter()
    {
        var sink = new PcapSinkStream { FailAfterBytes = 24 + 16 + 10 };
        var w = new PcapWriter(sink);
        Assert.Throws<IOException>(() => w.Write(new byte[20], T0)); // the data write fails after the header went out
        var ex = Assert.Throws<InvalidOperationException>(() => w.Write([1], T0));
        Assert.IsType<IOException>(ex.InnerException);
        Assert.Equal(0, w.PacketsWritten);
        w.Dispose(); // does not throw even though the stream is broken
    }

    [Fact]
    public void Pcap_Snaplen_TruncatesButKeepsOriginalLength()
    {
        string path = NewPath("snap.pcap");
        byte[] big = PcapTestFrames.Udp(new byte[200]);   // 242 bytes
        byte[] small = PcapTestFrames.ArpRequest();       // 42 bytes
        using (var w = new PcapWriter(path, snapLength: 64))
        {
            w.Write(big, T0);
            w.Write(small, T0);
            w.Write(big.AsSpan(0, 64), T0); // exactly snaplen: not truncated
        }

        using var r = new PcapReader(path);
        Assert.Equal(64u, r.SnapLength);
        var recs = r.ReadAll().ToList();
        Assert.Equal(3, recs.Count);
        Assert.Equal(64, recs[0].IncludedLength);
        Assert.Equal(242, recs[0].OriginalLength);
        Assert.True(recs[0].IsTruncated);
        Assert.Equal(big.AsSpan(0, 64).ToArray(), recs[0].Data);
        Assert.Equal(small, recs[1].Data);
        Assert.Equal(42, recs[1].OriginalLength);
        Assert.False(recs[1].IsTruncated);
        Assert.Equal(64, recs[2].OriginalLength);
        Assert.False(recs[2].IsTruncated);
        Assert.Equal(24 + 3 * 16 + 64 + 42 + 64, new FileInfo(path).Length);
    }

    [Fact]
    public void Pcap_ConcurrentWriters_FourThreads_EveryRecordIntact()
    {
        const int threads = 4, perThread = 5000;
        string path = NewPath("concurrent.pcap");
        using (var w = new PcapWriter(path))
        {
            using var start = new Barrier(threads);
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                Span<byte> frame = stackalloc byte[14 + 1500];
                start.SignalAndWait();
                for (int i = 0; i < perThread; i++)
                {
                    // Length varies per record; every byte is derived from (thread, seq) so tearing would show.
                    int len = 14 + 5 + (i * 37 + t * 11) % 1400;
                    Span<byte> f = frame[..len];
                    f.Fill((byte)(t * 64 + i % 61));
                    BinaryPrimitives.WriteUInt16BigEndian(f[12..], 0x88b5); // local experimental ethertype
                    f[14] = (byte)t;
                    BinaryPrimitives.WriteInt32BigEndian(f[15..], i);
                    w.Write(f, 1_700_000_000_000_000L + t * 1_000_000_000L + i);
                }
            })).ToList();
            workers.ForEach(x => x.Start());
            workers.ForEach(x => x.Join());
            Assert.Equal(threads * perThread, w.PacketsWritten);
        }

        var next = new int[threads];
        foreach (PcapRecord rec in PcapReader.ReadAllRecords(path))
        {
            int t = rec.Data[14];
            int i = BinaryPrimitives.ReadInt32BigEndian(rec.Data.AsSpan(15));
            Assert.InRange(t, 0, threads - 1);
            Assert.Equal(next[t]++, i); // each writer's records appear whole and in its own order
            Assert.Equal(14 + 5 + (i * 37 + t * 11) % 1400, rec.IncludedLength);
            Assert.Equal(rec.IncludedLength, rec.OriginalLength);
            Assert.Equal(1_700_000_000_000_000L + t * 1_000_000_000L + i, rec.UnixMicroseconds);
            byte fill = (byte)(t * 64 + i % 61);
            Assert.True(rec.Data.AsSpan(19).IndexOfAnyExcept(fill) < 0 && rec.Data.AsSpan(0, 12).IndexOfAnyExcept(fill) < 0,
                $"record {rec.Index} (thread {t}, seq {i}) is torn");
        }

        Assert.All(next, n => Assert.Equal(perThread, n));
    }

    // ---------------------------------------------------------------- independent decoders

    [Fact]
    public void Pcap_RecordsDecodeWithPacketDotNet()
    {
        string path = WriteSample(out _);
        var recs = PcapReader.ReadAllRecords(path);
        Assert.Equal(3, recs.Count);

        var arpEth = Assert.IsType<EthernetPacket>(Packet.ParsePacket(LinkLayers.Ethernet, recs[0].Data));
        Assert.Equal(EthernetType.Arp, arpEth.Type);
        Assert.Equal("FFFFFFFFFFFF", arpEth.DestinationHardwareAddress.ToString());
        Assert.Equal("020000000001", arpEth.SourceHardwareAddress.ToString());
        var arp = arpEth.Extract<ArpPacket>();
        Assert.NotNull(arp);
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), arp.SenderProtocolAddress);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), arp.TargetProtocolAddress);
        Assert.Equal("020000000001", arp.SenderHardwareAddress.ToString());

        var udpEth = Assert.IsType<EthernetPacket>(Packet.ParsePacket(LinkLayers.Ethernet, recs[1].Data));
        Assert.Equal(EthernetType.IPv4, udpEth.Type);
        var ip = udpEth.Extract<IPv4Packet>();
        Assert.NotNull(ip);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), ip.SourceAddress);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), ip.DestinationAddress);
        Assert.Equal(64, ip.TimeToLive);
        Assert.Equal(0x1234, ip.Id);
        Assert.True(ip.ValidIPChecksum, "hand-built IPv4 header checksum");
        var udp = udpEth.Extract<UdpPacket>();
        Assert.NotNull(udp);
        Assert.Equal(12345, udp.SourcePort);
        Assert.Equal(9999, udp.DestinationPort);
        Assert.True(udp.ValidUdpChecksum, "hand-built UDP checksum");
        Assert.Equal("hello vimage", Encoding.ASCII.GetString(udp.PayloadData));

        var udp2 = Packet.ParsePacket(LinkLayers.Ethernet, recs[2].Data).Extract<UdpPacket>();
        Assert.Equal("second", Encoding.ASCII.GetString(udp2.PayloadData));
    }

    [Fact]
    public void Pcap_TcpdumpReadsTheFile()
    {
        string path = WriteSample(out _);
        string output = RunTcpdump("-nn", "-tt", "-r", path);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 3, $"tcpdump listed {lines.Length} packets:\n{output}");
        Assert.Equal("1700000000.000001 ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28", lines[0]);
        Assert.Equal("1700000001.123456 IP 10.0.0.1.12345 > 10.0.0.2.9999: UDP, length 12", lines[1]);
        Assert.Equal("1700000002.999999 IP 10.0.0.1.12345 > 10.0.0.2.9999: UDP, length 6", lines[2]);

        // -e shows the link layer; -v makes tcpdump verify the IP checksum (it would print "bad cksum").
        string verbose = RunTcpdump("-nn", "-e", "-v", "-r", path);
        Assert.Contains("02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806)", verbose);
        Assert.Contains("02:00:00:00:00:01 > 02:00:00:00:00:02, ethertype IPv4 (0x0800)", verbose);
        Assert.DoesNotContain("bad", verbose);
    }

    [Fact]
    public void Bpf_TapToFile_TcpdumpSeesBothDirections()
    {
        string path = NewPath("tap.pcap");
        var tap = new BpfTap("epair0a");
        using (var w = new PcapWriter(path))
        using (tap.Attach(w))
        {
            tap.Tap(PcapTestFrames.ArpRequest(), Direction.Out);
            tap.Tap(PcapTestFrames.Udp(), Direction.In);
        }

        // -Q cannot be used on a savefile; tcpdump lists both frames in order.
        string output = RunTcpdump("-nn", "-r", path);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("ARP, Request who-has 10.0.0.2 tell 10.0.0.1", lines[0]);
        Assert.Contains("IP 10.0.0.1.12345 > 10.0.0.2.9999: UDP, length 12", lines[1]);
    }

    /// <summary>Linux tcpdump ARGS to completion (exit 0 required): its stdout.</summary>
    internal static string RunTcpdump(params string[] args)
    {
        string? tcpdump = FindOnPath("tcpdump");
        Assert.True(tcpdump is not null,
            "tcpdump is required by the pcap tests but is not on PATH: run scripts/setup.sh (or apt-get install -y tcpdump).");
        var psi = new ProcessStartInfo(tcpdump!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(30_000), "tcpdump did not finish in 30 s");
        Assert.True(p.ExitCode == 0, $"tcpdump {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}\n{stdout}");
        return stdout;
    }

    private static string? FindOnPath(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
                     .Concat(["/usr/sbin", "/usr/bin", "/sbin"]))
        {
            string candidate = Path.Combine(dir, name);
            if (dir.Length > 0 && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    // ---------------------------------------------------------------- bad input

    private static byte[] ValidFile(int records = 2)
    {
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, leaveOpen: true))
        {
            for (int i = 0; i < records; i++)
            {
                w.Write(i % 2 == 0 ? PcapTestFrames.ArpRequest() : PcapTestFrames.Udp(), T0.AddSeconds(i));
            }
        }

        return ms.ToArray();
    }

    private static List<PcapRecord> ReadBytes(byte[] bytes)
    {
        using var r = new PcapReader(new MemoryStream(bytes));
        return r.ReadAll().ToList();
    }

    private static void Patch(byte[] b, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(offset), value);

    public static TheoryData<string, string> GarbageCases() => new()
    {
        { "empty", "too short" },
        { "three-bytes", "too short" },
        { "text", "bad magic number" },
        { "pcapng", "pcapng" },
        { "header-truncated", "global header needs 24 bytes" },
        { "bad-version", "Unsupported pcap version 3.4" },
        { "record-header-truncated", "has only 7 of its 16 header bytes" },
        { "record-data-truncated", "declares 42 captured bytes but only 41 remain" },
        { "incl-over-limit", "exceeds the limit" },
        { "incl-over-orig", "exceeds original length" },
        { "usec-too-big", "sub-second field 1000000" },
        { "nonseekable-data-truncated", "declares 42 captured bytes but only 41 remain" },
    };

    [Theory]
    [MemberData(nameof(GarbageCases))]
    public void Pcap_GarbageOrTruncated_ThrowsInvalidDataExceptionWithClearMessage(string kind, string message)
    {
        byte[] valid = ValidFile();
        Stream stream;
        switch (kind)
        {
            case "empty": stream = new MemoryStream([]); break;
            case "three-bytes": stream = new MemoryStream([0xd4, 0xc3, 0xb2]); break;
            case "text": stream = new MemoryStream(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: example\r\n\r\n")); break;
            case "pcapng": stream = new MemoryStream([0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a]); break;
            case "header-truncated": stream = new MemoryStream(valid[..20]); break;
            case "bad-version": valid[4] = 3; stream = new MemoryStream(valid); break;
            case "record-header-truncated": stream = new MemoryStream(valid[..(24 + 7)]); break;
            case "record-data-truncated": stream = new MemoryStream(valid[..(24 + 16 + 41)]); break;
            case "incl-over-limit": Patch(valid, 24 + 8, 0x7fff_0000); Patch(valid, 24 + 12, 0x7fff_0000); stream = new MemoryStream(valid); break;
            case "incl-over-orig": Patch(valid, 24 + 12, 10); stream = new MemoryStream(valid); break;
            case "usec-too-big": Patch(valid, 24 + 4, 1_000_000); stream = new MemoryStream(valid); break;
            case "nonseekable-data-truncated": stream = new NonSeekable(valid[..(24 + 16 + 41)]); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind));
        }

        var ex = Assert.Throws<InvalidDataException>(() =>
        {
            using var r = new PcapReader(stream);
            _ = r.ReadAll().ToList();
        });
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Pcap_GarbageFileOnDisk_ThrowsInvalidDataException()
    {
        string path = NewPath("garbage.pcap");
        File.WriteAllBytes(path, Enumerable.Range(0, 1000).Select(i => (byte)(i * 7 + 3)).ToArray());
        var ex = Assert.Throws<InvalidDataException>(() => PcapReader.ReadAllRecords(path));
        Assert.Contains("Not a pcap file", ex.Message);
        File.Delete(path); // the reader closed the file even though its constructor threw
    }

    [Fact]
    public void Pcap_Reader_AcceptsBigEndianAndNanosecondFiles()
    {
        // A big-endian nanosecond file with one 4-byte record, as a SPARC box running tcpdump --nano would write it.
        var b = new byte[24 + 16 + 4];
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(0), PcapFormat.MagicNanoseconds);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(4), 2);
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), 4);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(16), 65535);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(24), 1_700_000_000);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(28), 123_456_789);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(32), 4);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(36), 60);
        b.AsSpan(40).Fill(0xab);

        using var r = new PcapReader(new MemoryStream(b));
        Assert.True(r.IsByteSwapped);
        Assert.True(r.IsNanosecond);
        Assert.Equal(65535u, r.SnapLength);
        Assert.Equal(PcapLinkType.Ethernet, r.LinkType);
        var rec = Assert.Single(r.ReadAll());
        Assert.Equal(1_700_000_000_123_456L, rec.UnixMicroseconds);
        Assert.Equal(T0.AddTicks(1_234_567), rec.Timestamp);
        Assert.Equal(60, rec.OriginalLength);
        Assert.Equal(new byte[] { 0xab, 0xab, 0xab, 0xab }, rec.Data);
    }

    [Fact]
    public void Pcap_EveryTruncationOfAValidFile_IsAPrefixOrInvalidData()
    {
        byte[] valid = ValidFile(records: 3);
        int[] boundaries = [24, 24 + 16 + 42, 24 + 16 + 42 + 16 + 54, valid.Length];
        for (int len = 0; len <= valid.Length; len++)
        {
            byte[] cut = valid[..len];
            if (boundaries.Contains(len))
            {
                Assert.Equal(Array.IndexOf(boundaries, len), ReadBytes(cut).Count);
            }
            else
            {
                Assert.Throws<InvalidDataException>(() => ReadBytes(cut));
            }
        }
    }

    [Fact]
    public void Pcap_RandomBytesAndMutations_OnlyEverThrowInvalidData()
    {
        static void Check(byte[] bytes)
        {
            try
            {
                foreach (PcapRecord rec in ReadBytes(bytes))
                {
                    Assert.True(rec.IncludedLength <= rec.OriginalLength);
                }
            }
            catch (InvalidDataException)
            {
            }
        }

        Gen.Byte.Array[0, 200].Sample(Check, iter: 2000);

        // Random pcap-ish files: a valid header, then random records, so the record checks get exercised too.
        byte[] valid = ValidFile(records: 3);
        Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Byte, Gen.Int[0, valid.Length])
            .Sample(t =>
            {
                var (pos, value, len) = t;
                byte[] m = (byte[])valid.Clone();
                m[pos] = value;
                Check(m[..len]);
            }, iter: 5000);
    }

    private sealed class NonSeekable(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
    }

    // ---------------------------------------------------------------- BpfTap

    [Fact]
    public void Bpf_NoListener_TapDoesNothing()
    {
        var tap = new BpfTap("em0");
        Assert.False(tap.HasListeners);
        Assert.Equal(0, tap.SessionCount);
        tap.Tap(PcapTestFrames.ArpRequest(), Direction.In);
        tap.Tap(PcapTestFrames.ArpRequest(), Direction.Out);
        tap.Tap([], Direction.Out);

        byte[] frame = PcapTestFrames.Udp();
        for (int i = 0; i < 1000; i++)
        {
            tap.Tap(frame, Direction.In); // warm up
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            tap.Tap(frame, Direction.In);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Bpf_TwoSessions_EachGetsItsDirection_DisposeStops()
    {
        var tap = new BpfTap("epair0a");
        var inStream = new MemoryStream();
        var bothStream = new MemoryStream();
        using var inWriter = new PcapWriter(inStream, leaveOpen: true);
        using var bothWriter = new PcapWriter(bothStream, leaveOpen: true);

        BpfSession inSession = tap.Attach(inWriter, Direction.In);
        BpfSession bothSession = tap.Attach(bothWriter);
        Assert.True(tap.HasListeners);
        Assert.Equal(2, tap.SessionCount);
        Assert.Equal(Direction.In, inSession.Filter);
        Assert.Equal(Direction.Both, bothSession.Filter);
        Assert.Same(tap, inSession.Tap);
        Assert.Same(inWriter, inSession.Writer);

        byte[] arp = PcapTestFrames.ArpRequest();
        byte[] udp = PcapTestFrames.Udp();
        tap.Tap(arp, Direction.Out);
        tap.Tap(udp, Direction.In);
        tap.Tap(arp, Direction.In);

        Assert.Equal(2, inSession.PacketsCaptured);
        Assert.Equal(udp.Length + arp.Length, inSession.BytesCaptured);
        Assert.Equal(3, bothSession.PacketsCaptured);
        Assert.Equal(0, inSession.PacketsDropped);

        inSession.Dispose();
        Assert.False(inSession.IsAttached);
        Assert.Equal(1, tap.SessionCount);
        tap.Tap(udp, Direction.In);
        inSession.Dispose(); // idempotent
        Assert.Equal(2, inSession.PacketsCaptured);
        Assert.Equal(4, bothSession.PacketsCaptured);

        bothSession.Dispose();
        Assert.False(tap.HasListeners);
        tap.Tap(udp, Direction.Out);
        Assert.Equal(4, bothSession.PacketsCaptured);

        inWriter.Flush();
        bothWriter.Flush();
        inStream.Position = 0;
        bothStream.Position = 0;
        Assert.Equal(new[] { udp, arp }, new PcapReader(inStream).ReadAll().Select(r => r.Data).ToList());
        Assert.Equal(new[] { arp, udp, arp, udp }, new PcapReader(bothStream).ReadAll().Select(r => r.Data).ToList());
    }

    [Fact]
    public void Bpf_OutFilter_AndHandlerSession_AndDetachAll()
    {
        var tap = new BpfTap("lo0");
        var seen = new List<(int Len, Direction Dir)>();
        using var outOnly = tap.Attach((f, d, _) => seen.Add((f.Length, d)), Direction.Out);
        tap.Tap(new byte[10], Direction.In);
        tap.Tap(new byte[20], Direction.Out);
        Assert.Equal(new[] { (20, Direction.Out) }, seen);

        Assert.Throws<ArgumentOutOfRangeException>(() => tap.Attach((_, _, _) => { }, (Direction)0));
        Assert.Throws<ArgumentOutOfRangeException>(() => tap.Attach((_, _, _) => { }, (Direction)4));
        Assert.Throws<ArgumentNullException>(() => tap.Attach((PcapWriter)null!));

        tap.DetachAll();
        Assert.False(tap.HasListeners);
        Assert.False(outOnly.IsAttached);
        tap.Tap(new byte[30], Direction.Out);
        Assert.Single(seen);
    }

    [Fact]
    public void Bpf_TimestampsComeFromTheTapsClock()
    {
        var clock = new FixedClock(new DateTimeOffset(T0.AddTicks(4_321_000)));
        var tap = new BpfTap("em0", clock);
        var ms = new MemoryStream();
        using (var w = new PcapWriter(ms, leaveOpen: true))
        using (tap.Attach(w))
        {
            tap.Tap(PcapTestFrames.ArpRequest(), Direction.In);
        }

        ms.Position = 0;
        Assert.Equal(1_700_000_000_432_100L, Assert.Single(new PcapReader(ms).ReadAll()).UnixMicroseconds);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    [Fact]
    public void Bpf_ThrowingWriter_IsCountedAndDetached_DataPathContinues()
    {
        var tap = new BpfTap("em0");
        var failing = new PcapWriter(new PcapSinkStream { FailAfterBytes = 24 + 16 + 42 + 5 });
        var goodStream = new MemoryStream();
        using var good = new PcapWriter(goodStream, leaveOpen: true);
        BpfSession bad = tap.Attach(failing);
        BpfSession ok = tap.Attach(good);
        var handlerFailed = tap.Attach((_, _, _) => throw new InvalidOperationException("listener bug"));

        byte[] arp = PcapTestFrames.ArpRequest();
        tap.Tap(arp, Direction.In);  // fits: captured by all but the handler
        Assert.False(handlerFailed.IsAttached);
        Assert.Equal(1, handlerFailed.PacketsDropped);
        Assert.IsType<InvalidOperationException>(handlerFailed.Error);

        tap.Tap(arp, Direction.Out); // the failing stream throws on this record
        Assert.Equal(1, bad.PacketsCaptured);
        Assert.Equal(1, bad.PacketsDropped);
        Assert.False(bad.IsAttached);
        Assert.IsType<IOException>(bad.Error);
        Assert.Equal(1, tap.SessionCount);
        Assert.Contains("1 dropped", bad.ToString());

        tap.Tap(arp, Direction.In);  // the healthy session carries on
        Assert.Equal(3, ok.PacketsCaptured);
        Assert.Equal(0, ok.PacketsDropped);
        Assert.Equal(1, bad.PacketsDropped); // detached: not counted again

        // A writer disposed under a live session (the user closed the file first) is a drop too, never a crash.
        good.Dispose();
        tap.Tap(arp, Direction.In);
        Assert.False(ok.IsAttached);
        Assert.IsType<ObjectDisposedException>(ok.Error);
        Assert.False(tap.HasListeners);
        goodStream.Position = 0;
        Assert.Equal(3, new PcapReader(goodStream).ReadAll().Count());
        failing.Dispose();
    }

    [Fact]
    public void Bpf_Listening_IsAllocationFree()
    {
        var tap = new BpfTap("em0");
        var sink = new PcapSinkStream();
        using var w = new PcapWriter(sink);
        using var s1 = tap.Attach(w, Direction.In);
        using var s2 = tap.Attach(w, Direction.Both);
        long count = 0;
        using var s3 = tap.Attach((f, _, _) => count += f.Length);
        byte[] frame = PcapTestFrames.Udp();
        for (int i = 0; i < 1000; i++)
        {
            tap.Tap(frame, (i & 1) == 0 ? Direction.In : Direction.Out); // warm up
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            tap.Tap(frame, (i & 1) == 0 ? Direction.In : Direction.Out);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(50_500, s1.PacketsCaptured);
        Assert.Equal(101_000, s2.PacketsCaptured);
        Assert.Equal(151_500, w.PacketsWritten);
        Assert.Equal(101_000L * frame.Length, count);
    }

    [Fact]
    public void Bpf_ConcurrentTapsWithAttachDetachChurn_FileStaysValid()
    {
        const int queues = 4, perQueue = 10_000;
        string path = NewPath("churn.pcap");
        var tap = new BpfTap("vtnet0");
        long churnCaptured = 0;
        using (var w = new PcapWriter(path))
        {
            BpfSession steady = tap.Attach(w, Direction.In);
            using var stop = new CancellationTokenSource();
            var churn = new Thread(() =>
            {
                var sink = new PcapSinkStream();
                using var w2 = new PcapWriter(sink);
                while (!stop.IsCancellationRequested)
                {
                    using BpfSession s = tap.Attach(w2);
                    Thread.Yield();
                    s.Dispose();
                    Interlocked.Add(ref churnCaptured, s.PacketsCaptured);
                }
            });
            churn.Start();
            var workers = Enumerable.Range(0, queues).Select(q => new Thread(() =>
            {
                byte[] frame = PcapTestFrames.Udp(new byte[q * 100]);
                for (int i = 0; i < perQueue; i++)
                {
                    tap.Tap(frame, Direction.In);
                }
            })).ToList();
            workers.ForEach(t => t.Start());
            workers.ForEach(t => t.Join());
            stop.Cancel();
            churn.Join();
            Assert.Equal(queues * perQueue, steady.PacketsCaptured);
            Assert.Equal(0, steady.PacketsDropped);
            steady.Dispose();
        }

        var counts = new int[queues];
        foreach (PcapRecord rec in PcapReader.ReadAllRecords(path))
        {
            Assert.Equal(rec.IncludedLength, rec.OriginalLength);
            int q = (rec.Data.Length - 42) / 100;
            counts[q]++;
            Assert.Equal(PcapTestFrames.Udp(new byte[q * 100]).AsSpan(0, 40).ToArray(), rec.Data.AsSpan(0, 40).ToArray());
        }

        Assert.All(counts, c => Assert.Equal(perQueue, c));
    }
}
