using System.Buffers.Binary;
using System.Diagnostics;
using Vimage.Net.Bpf;

namespace Vimage.Cli.Tests;

/// <summary>
/// tcpdump's printing options against the real thing: one pcap file of Ethernet frames (ARP, ICMP echo and port
/// unreachable, UDP with a good and a bad checksum, a TCP connection with options, data, SACK, FIN and RST, odd and
/// text payloads) is printed by <c>vimage tcpdump -n -r</c> and by the system's tcpdump 4.99 with the same options;
/// the outputs must be identical.
/// </summary>
public sealed class TcpdumpPrintTests : IDisposable
{
    private static readonly byte[] MacA = [0x02, 0, 0, 0, 0x01, 0x0a], MacB = [0x02, 0, 0, 0, 0x02, 0x0b];
    private readonly string _pcap = Path.Combine(Path.GetTempPath(), "vimage-tcpdump-" + Guid.NewGuid().ToString("N")[..10] + ".pcap");

    public TcpdumpPrintTests()
    {
        using var writer = new PcapWriter(_pcap);
        long t = 1_796_218_250_573_261;
        foreach (byte[] frame in Frames())
        {
            writer.Write(frame, t);
            t += 1_234_567;
        }
    }

    public static TheoryData<string> Options() =>
    [
        "", "-e", "-v", "-vv", "-q", "-e -q", "-x", "-xx", "-X", "-XX", "-A", "-AA", "-t", "-tt", "-ttt", "-tttt", "-ttttt",
        "-e -v -X", "-c 3", "-v tcp", "icmp or arp", "-q -x udp",
    ];

    [SkippableTheory]
    [MemberData(nameof(Options))]
    public void Output_matches_the_system_tcpdump(string options)
    {
        string? tcpdump = new[] { "/usr/bin/tcpdump", "/usr/sbin/tcpdump" }.FirstOrDefault(File.Exists);
        Skip.If(tcpdump is null, "no tcpdump on this machine (scripts/setup.sh installs it)");
        string[] words = options.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var start = new ProcessStartInfo(tcpdump, ["-n", "-r", _pcap, .. words]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["TZ"] = "UTC";
        (int exit, string expected, string err) = HostProcesses.Run(start.WithStdin());
        Assert.True(exit == 0, err);
        Assert.NotEqual("", expected);

        using var cli = new CliFixture();
        CliResult ours = cli.RunIn(Vimage.Core.Vnet.Vnet0, ["tcpdump", "-n", "-r", _pcap, .. words]);
        Assert.True(ours.Exit == 0, ours.ToString());
        Assert.Equal(expected, ours.Out);
        Assert.StartsWith($"reading from file {_pcap}, link-type EN10MB (Ethernet), snapshot length 262144", ours.Err);
    }

    [Fact]
    public void Bad_files_and_snaplens_get_tcpdumps_messages()
    {
        using var cli = new CliFixture();
        CliResult missing = cli.Run("tcpdump -r /nonexistent/x.pcap");
        Assert.Equal((1, "tcpdump: /nonexistent/x.pcap: No such file or directory\n"), (missing.Exit, missing.Err));
        CliResult snap = cli.Run("tcpdump -s -5 -i lo0");
        Assert.Equal((1, "tcpdump: invalid snaplen -5 (must be >= 0 and <= 262144)\n"), (snap.Exit, snap.Err));
        string text = Path.ChangeExtension(_pcap, ".txt");
        File.WriteAllText(text, "hello\n");
        try
        {
            CliResult bad = cli.Run("tcpdump -r " + text);
            Assert.Equal((1, "tcpdump: unknown file format\n"), (bad.Exit, bad.Err));
        }
        finally
        {
            File.Delete(text);
        }
    }

    public void Dispose() => File.Delete(_pcap);

    private static IEnumerable<byte[]> Frames()
    {
        byte[] a = [192, 0, 2, 1], b = [192, 0, 2, 2];
        byte[] arp = [0, 1, 8, 0, 6, 4, 0, 1, .. MacA, .. a, 0, 0, 0, 0, 0, 0, .. b];
        yield return Ether([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], MacA, 0x0806, arp);
        byte[] reply = [0, 1, 8, 0, 6, 4, 0, 2, .. MacB, .. b, .. MacA, .. a];
        yield return Ether(MacA, MacB, 0x0806, reply);
        byte[] ping = new byte[64];
        "abcdefghijklmnopqrstuvwxyz0123456789 \r\n\t~"u8.CopyTo(ping.AsSpan(8));
        ping[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(ping.AsSpan(4), 0x1234);
        BinaryPrimitives.WriteUInt16BigEndian(ping.AsSpan(6), 7);
        Fill(ping, 2, ping);
        yield return Ether(MacB, MacA, 0x0800, Ip(a, b, 1, ping, id: 1, df: false));
        byte[] pong = (byte[])ping.Clone();
        pong[0] = 0;
        pong[2] = pong[3] = 0;
        Fill(pong, 2, pong);
        yield return Ether(MacA, MacB, 0x0800, Ip(b, a, 1, pong, id: 2, df: false, tos: 0x2));
        byte[] udp = Udp(a, b, 40000, 7777, "hello"u8.ToArray());
        yield return Ether(MacB, MacA, 0x0800, Ip(a, b, 17, udp, id: 3));
        byte[] badUdp = Udp(a, b, 40000, 7777, "odd"u8.ToArray());
        badUdp[6] ^= 0x55;
        byte[] udpPacket = Ip(a, b, 17, badUdp, id: 4);
        yield return Ether(MacB, MacA, 0x0800, udpPacket);
        byte[] unreach = [3, 3, 0, 0, 0, 0, 0, 0, .. udpPacket.AsSpan(0, 28)];
        Fill(unreach, 2, unreach);
        yield return Ether(MacA, MacB, 0x0800, Ip(b, a, 1, unreach, id: 5, df: false));

        byte[] synOpts = [2, 4, 0x05, 0xb4, 1, 3, 3, 6, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0];
        yield return Ether(MacB, MacA, 0x0800, Ip(a, b, 6, Tcp(a, b, 49152, 7000, 1000, 0, 0x02, 65535, [.. synOpts, 0, 0], []), id: 6));
        byte[] synAckOpts = [2, 4, 0x05, 0xb4, 1, 3, 3, 6, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 1];
        yield return Ether(MacA, MacB, 0x0800, Ip(b, a, 6, Tcp(b, a, 7000, 49152, 5000, 1001, 0x12, 65535, [.. synAckOpts, 0, 0], []), id: 7));
        byte[] ts = [1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 9];
        yield return Ether(MacB, MacA, 0x0800, Ip(a, b, 6, Tcp(a, b, 49152, 7000, 1001, 5001, 0x10, 1026, ts, []), id: 8));
        yield return Ether(MacB, MacA, 0x0800, Ip(a, b, 6, Tcp(a, b, 49152, 7000, 1001, 5001, 0x18, 1026, ts, "GET / HTTP/1.0\r\n\r\n"u8.ToArray()), id: 9));
        byte[] sack = [1, 1, 5, 10, 0, 0, 0x13, 0x89 + 0, 0, 0, 0x13, 0x8a + 0, 1, 1, 8, 10, 0, 0, 0, 10, 0, 0, 0, 2];
        yield return Ether(MacA, MacB, 0x0800, Ip(b, a, 6, Tcp(b, a, 7000, 49152, 5001, 1019, 0x10, 1026, sack, []), id: 10));
        byte[] bad = Tcp(b, a, 7000, 49152, 5001, 1019, 0x18, 1026, ts, [1, 2, 3]);
        bad[16] ^= 0xff;
        yield return Ether(MacA, MacB, 0x0800, Ip(b, a, 6, bad, id: 11));
        yield return Ether(MacB, MacA, 0x0800, Ip(a, b, 6, Tcp(a, b, 49152, 7000, 1019, 5004, 0x11, 1026, ts, []), id: 12));
        yield return Ether(MacA, MacB, 0x0800, Ip(b, a, 6, Tcp(b, a, 7000, 49152, 5004, 0, 0x04, 0, [], []), id: 13));
        yield return Ether(MacB, MacA, 0x0800, Ip(a, b, 99, [1, 2, 3, 4, 5], id: 14));
    }

    private static byte[] Ether(byte[] dst, byte[] src, ushort type, byte[] payload)
    {
        byte[] f = [.. dst, .. src, (byte)(type >> 8), (byte)type, .. payload];
        return f.Length >= 60 ? f : [.. f, .. new byte[60 - f.Length]];
    }

    private static byte[] Ip(byte[] src, byte[] dst, byte proto, byte[] payload, ushort id, bool df = true, byte tos = 0)
    {
        byte[] h = [0x45, tos, 0, 0, (byte)(id >> 8), (byte)id, (byte)(df ? 0x40 : 0), 0, 64, proto, 0, 0, .. src, .. dst];
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)(20 + payload.Length));
        Fill(h, 10, h);
        return [.. h, .. payload];
    }

    private static byte[] Udp(byte[] src, byte[] dst, ushort sport, ushort dport, byte[] data)
    {
        byte[] u = [(byte)(sport >> 8), (byte)sport, (byte)(dport >> 8), (byte)dport, 0, (byte)(8 + data.Length), 0, 0, .. data];
        Fill(u, 6, [.. src, .. dst, 0, 17, 0, (byte)u.Length, .. u]);
        return u;
    }

    private static byte[] Tcp(byte[] src, byte[] dst, ushort sport, ushort dport, uint seq, uint ack, byte flags, ushort win, byte[] options, byte[] data)
    {
        var t = new byte[20 + options.Length + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(8), ack);
        t[12] = (byte)((20 + options.Length) / 4 << 4);
        t[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), win);
        options.CopyTo(t, 20);
        data.CopyTo(t, 20 + options.Length);
        Fill(t, 16, [.. src, .. dst, 0, 6, (byte)(t.Length >> 8), (byte)t.Length, .. t]);
        return t;
    }

    /// <summary>Stores at <paramref name="at"/> of <paramref name="target"/> the Internet checksum of <paramref name="covered"/>.</summary>
    private static void Fill(byte[] target, int at, byte[] covered)
    {
        uint sum = 0;
        for (int i = 0; i < covered.Length; i += 2)
        {
            sum += (uint)(covered[i] << 8) + (i + 1 < covered.Length ? covered[i + 1] : 0u);
        }

        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        BinaryPrimitives.WriteUInt16BigEndian(target.AsSpan(at), (ushort)~sum);
    }
}

internal static class StartInfoExtensions
{
    /// <summary>HostProcesses.Run closes the child's stdin, so it must be redirected.</summary>
    public static ProcessStartInfo WithStdin(this ProcessStartInfo start)
    {
        start.RedirectStandardInput = true;
        return start;
    }
}
