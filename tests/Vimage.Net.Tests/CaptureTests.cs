using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using System.Text.RegularExpressions;
using PacketDotNet;
using Vimage.Core;
using Vimage.Net.Bpf;

namespace Vimage.Net.Tests;

/// <summary>
/// Capturing real interface traffic: PcapWriters on an epair's <see cref="Ifnet.Bpf"/> hooks, hand-built UDP frames
/// sent both ways, then the files read back with <see cref="PcapReader"/>, decoded with PacketDotNet and listed by
/// tcpdump (scripts/setup.sh installs it).
/// </summary>
public sealed partial class CaptureTests : IDisposable
{
    private static readonly IPAddress IpA = IPAddress.Parse("198.51.100.1");
    private static readonly IPAddress IpB = IPAddress.Parse("198.51.100.2");
    private const int PortA = 5001, PortB = 6001;
    private const int AtoB = 5, BtoA = 3;

    private readonly string _dir = Directory.CreateTempSubdirectory("vimage-capture-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void EpairTrafficCapturedBothWaysDecodesWithPacketDotNetAndTcpdump()
    {
        string path = Path.Combine(_dir, "epair-a.pcap");
        using (Curvnet.Set(Vnet.Vnet0))
        {
            (Ifnet a, Ifnet b) = NewPair();
            try
            {
                using (var writer = new PcapWriter(path))
                using (BpfSession session = a.Bpf.Attach(writer, Direction.Both))
                {
                    Exchange(a, b);
                    Assert.Equal(AtoB + BtoA, session.PacketsCaptured);
                    Assert.Equal(0, session.PacketsDropped);
                }
            }
            finally
            {
                Ifnets.Destroy(a.Name);
            }
        }

        List<PcapRecord> records = PcapReader.ReadAllRecords(path);
        Assert.Equal(AtoB + BtoA, records.Count);
        var outbound = new List<long>();
        var inbound = new List<long>();
        foreach (PcapRecord r in records)
        {
            Assert.False(r.IsTruncated);
            var eth = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, r.Data);
            var ip = eth.Extract<IPv4Packet>();
            var udp = eth.Extract<UdpPacket>();
            Assert.NotNull(ip);
            Assert.NotNull(udp);
            Assert.True(ip.ValidIPChecksum, $"record {r.Index}: bad IP checksum");
            Assert.Equal(ip.TotalLength + 14, r.OriginalLength);
            long sequence = BinaryPrimitives.ReadInt64BigEndian(udp.PayloadData);
            if (ip.SourceAddress.Equals(IpA))
            {
                Assert.Equal(IpB, ip.DestinationAddress);
                Assert.Equal((PortA, PortB), (udp.SourcePort, udp.DestinationPort));
                outbound.Add(sequence);
            }
            else
            {
                Assert.Equal((IpB, IpA), (ip.SourceAddress, ip.DestinationAddress));
                Assert.Equal((PortB, PortA), (udp.SourcePort, udp.DestinationPort));
                inbound.Add(sequence);
            }
        }

        // Each direction in order; timestamps never go backwards.
        Assert.Equal(Enumerable.Range(0, AtoB).Select(i => (long)i), outbound);
        Assert.Equal(Enumerable.Range(100, BtoA).Select(i => (long)i), inbound);
        Assert.True(records.Zip(records.Skip(1)).All(p => p.First.UnixMicroseconds <= p.Second.UnixMicroseconds));

        string[] lines = RunTcpdump("-nn", "-r", path).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(AtoB + BtoA, lines.Length);
        int ab = 0, ba = 0;
        foreach (string line in lines)
        {
            Match m = TcpdumpUdpLine().Match(line);
            Assert.True(m.Success, $"unexpected tcpdump line: {line}");
            Assert.Equal("8", m.Groups["len"].Value);
            if (m.Groups["src"].Value == $"{IpA}.{PortA}")
            {
                Assert.Equal($"{IpB}.{PortB}", m.Groups["dst"].Value);
                ab++;
            }
            else
            {
                Assert.Equal(($"{IpB}.{PortB}", $"{IpA}.{PortA}"), (m.Groups["src"].Value, m.Groups["dst"].Value));
                ba++;
            }
        }

        Assert.Equal((AtoB, BtoA), (ab, ba));

        // -v verifies the IP checksums and -e shows the epair's MACs.
        string verbose = RunTcpdump("-nn", "-e", "-v", "-r", path);
        Assert.DoesNotContain("bad cksum", verbose);
        Assert.Contains("ethertype IPv4 (0x0800)", verbose);
    }

    [Fact]
    public void InAndOutAreCapturedOnTheRightEnds()
    {
        var files = new Dictionary<string, string>();
        byte[] macA, macB;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            (Ifnet a, Ifnet b) = NewPair();
            (macA, macB) = (a.Lladdr, b.Lladdr);
            var writers = new List<PcapWriter>();
            var sessions = new List<BpfSession>();
            try
            {
                foreach ((string name, Ifnet ifp, Direction dir) in new[]
                         {
                             ("a-in", a, Direction.In), ("a-out", a, Direction.Out),
                             ("b-in", b, Direction.In), ("b-out", b, Direction.Out),
                         })
                {
                    files[name] = Path.Combine(_dir, name + ".pcap");
                    var w = new PcapWriter(files[name]);
                    writers.Add(w);
                    sessions.Add(ifp.Bpf.Attach(w, dir));
                }

                Exchange(a, b);
            }
            finally
            {
                sessions.ForEach(s => s.Dispose());
                writers.ForEach(w => w.Dispose());
                Ifnets.Destroy(a.Name);
            }
        }

        // a→b frames leave a and enter b; b→a frames leave b and enter a. Nothing else anywhere.
        AssertFile(files["a-out"], IpA, macA, macB, Enumerable.Range(0, AtoB));
        AssertFile(files["b-in"], IpA, macA, macB, Enumerable.Range(0, AtoB));
        AssertFile(files["b-out"], IpB, macB, macA, Enumerable.Range(100, BtoA));
        AssertFile(files["a-in"], IpB, macB, macA, Enumerable.Range(100, BtoA));

        string[] aOut = RunTcpdump("-nn", "-r", files["a-out"]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(aOut, l => Assert.Contains($"IP {IpA}.{PortA} > {IpB}.{PortB}: UDP, length 8", l));
        string[] aIn = RunTcpdump("-nn", "-r", files["a-in"]).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(aIn, l => Assert.Contains($"IP {IpB}.{PortB} > {IpA}.{PortA}: UDP, length 8", l));
        Assert.Equal((AtoB, BtoA), (aOut.Length, aIn.Length));
    }

    private static void AssertFile(string path, IPAddress src, byte[] srcMac, byte[] dstMac, IEnumerable<int> sequences)
    {
        List<PcapRecord> records = PcapReader.ReadAllRecords(path);
        var got = new List<long>();
        foreach (PcapRecord r in records)
        {
            var eth = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, r.Data);
            Assert.Equal(new PhysicalAddress(srcMac), eth.SourceHardwareAddress);
            Assert.Equal(new PhysicalAddress(dstMac), eth.DestinationHardwareAddress);
            Assert.Equal(src, eth.Extract<IPv4Packet>().SourceAddress);
            got.Add(BinaryPrimitives.ReadInt64BigEndian(eth.Extract<UdpPacket>().PayloadData));
        }

        Assert.Equal(sequences.Select(i => (long)i), got);
    }

    private static (Ifnet A, Ifnet B) NewPair()
    {
        IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
        pair[0].SetUp(true);
        pair[1].SetUp(true);
        return (pair[0], pair[1]);
    }

    /// <summary>Sends <see cref="AtoB"/> frames a→b (sequences 0..), waits for them, then <see cref="BtoA"/> b→a (100..).</summary>
    private static void Exchange(Ifnet a, Ifnet b)
    {
        var atB = new Recorder();
        var atA = new Recorder();
        atB.Attach(b);
        atA.Attach(a);
        for (int i = 0; i < AtoB; i++)
        {
            Assert.True(Frames.Send(a, Udp(a.Lladdr, b.Lladdr, IpA, IpB, PortA, PortB, i)));
        }

        Assert.True(Frames.WaitFor(() => atB.Count == AtoB), $"b received {atB.Count} of {AtoB}");
        for (int i = 0; i < BtoA; i++)
        {
            Assert.True(Frames.Send(b, Udp(b.Lladdr, a.Lladdr, IpB, IpA, PortB, PortA, 100 + i)));
        }

        Assert.True(Frames.WaitFor(() => atA.Count == BtoA), $"a received {atA.Count} of {BtoA}");
    }

    private static byte[] Udp(byte[] srcMac, byte[] dstMac, IPAddress src, IPAddress dst, int sport, int dport, long sequence)
    {
        Span<byte> payload = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(payload, sequence);
        return TapFrames.Udp(new PhysicalAddress(srcMac), new PhysicalAddress(dstMac), src, dst, sport, dport, payload);
    }

    private static string RunTcpdump(params string[] args)
    {
        string? tcpdump = new[] { Environment.GetEnvironmentVariable("PATH") ?? "", "/usr/sbin:/usr/bin:/sbin:/bin" }
            .SelectMany(p => p.Split(':', StringSplitOptions.RemoveEmptyEntries))
            .Select(dir => Path.Combine(dir, "tcpdump"))
            .FirstOrDefault(File.Exists);
        if (tcpdump is null)
        {
            Assert.Fail("tcpdump is required by the capture tests but is not installed: run scripts/setup.sh (or apt-get install -y tcpdump).");
        }

        var psi = new ProcessStartInfo(tcpdump!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
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

    [GeneratedRegex(@"^\d\d:\d\d:\d\d\.\d{6} IP (?<src>[\d.]+) > (?<dst>[\d.]+): UDP, length (?<len>\d+)$")]
    private static partial Regex TcpdumpUdpLine();
}
