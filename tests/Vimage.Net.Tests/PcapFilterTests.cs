using System.Buffers.Binary;
using Vimage.Net.Bpf;

namespace Vimage.Net.Tests;

/// <summary>
/// pcap-filter expressions compiled by <see cref="PcapFilter"/> and run by <see cref="BpfProgram"/> against known
/// frames, each expression cross-checked with Linux tcpdump (libpcap) reading the same frames from a pcap file.
/// </summary>
public class PcapFilterTests
{
    private static readonly byte[] MacA = [0x02, 0, 0, 0, 0, 0x01], MacB = [0x02, 0, 0, 0, 0, 0x02];
    private static readonly byte[] MacX = [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee], Bcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    /// <summary>Frame i of this list is written with timestamp i seconds: tcpdump -tt prints which ones matched.</summary>
    internal static readonly byte[][] Frames =
    [
        Ether(Bcast, MacA, 0x0806, Arp(1, MacA, "192.0.2.1", new byte[6], "192.0.2.2")),                  // 0 ARP request
        Ether(MacA, MacB, 0x0806, Arp(2, MacB, "192.0.2.2", MacA, "192.0.2.1")),                          // 1 ARP reply
        Ether(MacB, MacA, 0x0800, Ip("192.0.2.1", "192.0.2.2", 1, Icmp(8))),                             // 2 echo request
        Ether(MacA, MacB, 0x0800, Ip("192.0.2.2", "192.0.2.1", 1, Icmp(0))),                             // 3 echo reply
        Ether(MacB, MacA, 0x0800, Ip("10.1.2.3", "192.0.2.2", 17, Udp(5353, 53, 32))),                   // 4 DNS query
        Ether(MacA, MacB, 0x0800, Ip("192.0.2.2", "10.1.2.3", 17, Udp(53, 5353, 80))),                   // 5 DNS answer
        Ether(MacB, MacA, 0x0800, Ip("192.0.2.1", "198.51.100.7", 6, Tcp(40000, 80, 0x02, 0))),           // 6 SYN
        Ether(MacA, MacB, 0x0800, Ip("198.51.100.7", "192.0.2.1", 6, Tcp(80, 40000, 0x12, 0))),           // 7 SYN|ACK
        Ether(MacB, MacA, 0x0800, Ip("192.0.2.1", "198.51.100.7", 6, Tcp(40000, 80, 0x10, 1000))),        // 8 ACK + data
        Ether(MacB, MacA, 0x0800, Ip("192.0.2.1", "198.51.100.7", 6, Tcp(40000, 80, 0x10, 8), fragment: 100)), // 9 fragment
        Ether(MacA, MacB, 0x0800, Ip("192.0.2.9", "192.0.2.1", 6, Tcp(8080, 22, 0x04, 0), options: 4)),  // 10 options, RST
        Ether(MacB, MacA, 0x86dd, new byte[40]),                                                          // 11 IPv6
        Ether([0x01, 0x00, 0x5e, 0, 0, 1], MacA, 0x0800, Ip("192.0.2.1", "224.0.0.1", 17, Udp(5000, 5000, 4))), // 12 multicast
        Ether(MacB, MacX, 0x0800, Ip("172.16.5.5", "172.16.9.9", 17, Udp(1000, 2000, 0))),                // 13 other MAC
        Ether(MacB, MacA, 0x0800, Ip("192.0.2.1", "192.0.2.2", 1, Icmp(3))),                             // 14 unreachable
    ];

    public static TheoryData<string> Expressions() =>
    [
        "ip", "arp", "icmp", "udp", "tcp", "ip6",
        "host 192.0.2.1", "src host 192.0.2.1", "dst host 192.0.2.1", "host 192.0.2.2 and icmp", "arp host 192.0.2.2",
        "ip host 192.0.2.2", "src or dst host 192.0.2.2", "src and dst net 192.0.2.0/24",
        "net 192.0.2.0/24", "net 192.0.2", "src net 10.0.0.0 mask 255.0.0.0", "dst net 172.16", "net 198.51.100.0/25",
        "port 53", "udp port 53", "tcp port 80", "src port 80", "dst port 22", "portrange 1-1000", "tcp portrange 8000-8100",
        "udp dst portrange 1-100", "port 53 or 80", "tcp port 80 or 22", "not port 53 and not arp", "(tcp or udp) and not host 192.0.2.1",
        "! (icmp || arp) && ip", "ether host 02:aa:bb:cc:dd:ee", "ether src 02:aa:bb:cc:dd:ee", "ether dst ff:ff:ff:ff:ff:ff",
        "broadcast", "ether broadcast", "multicast", "ether multicast", "ip multicast", "ip proto 17", "ip proto \\tcp", "ether proto 0x0806",
        "ether proto \\ip", "less 64", "greater 500", "len > 100", "len <= 60", "len - 14 >= 100",
        "tcp[tcpflags] & (tcp-syn|tcp-ack) != 0", "tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0", "tcp[13] & 4 != 0",
        "icmp[icmptype] == icmp-echo", "icmp[icmptype] != icmp-echo and icmp[icmptype] != icmp-echoreply", "icmp[0] = 0",
        "ip[0] & 0xf > 5", "ip[2:2] > 100", "udp[2:2] = 53", "ether[12:2] = 0x806", "ip[8] == 64", "udp and ip[16] >= 224",
        "tcp[2:2] + 0 == 80", "(ip[2:2] - ((ip[0] & 0xf) << 2)) > 100", "ip[9] * 2 = 34", "tcp[0:2] > tcp[2:2]",
    ];

    [Theory]
    [MemberData(nameof(Expressions))]
    public void Filter_keeps_what_Linux_tcpdump_keeps(string expression)
    {
        BpfProgram program = PcapFilter.Compile(expression);
        int[] ours = [.. Enumerable.Range(0, Frames.Length).Where(i => program.Matches(Frames[i]))];
        Assert.Equal(TcpdumpKeeps(expression), ours);
    }

    [Fact]
    public void Known_frames_match_as_pcap_filter_describes()
    {
        Assert.Equal([2, 3, 14], Keep("icmp"));
        Assert.Equal([4, 5], Keep("udp port 53"));
        Assert.Equal([6, 7, 8], Keep("tcp port 80")); // frame 9 is a later fragment: no ports to read
        Assert.Equal([6], Keep("tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0"));
        Assert.Equal([10], Keep("tcp dst port 22")); // a 24-byte IP header: ports are found after the options
        Assert.Equal([0, 1, 2, 3, 4, 5, 14], Keep("host 192.0.2.2 or arp"));
        Assert.Equal(Enumerable.Range(0, Frames.Length), Keep(""));
    }

    [Theory]
    [InlineData("host", "can't parse filter expression: syntax error")]
    [InlineData("tcp port", "can't parse filter expression: syntax error")]
    [InlineData("port 70000", "can't parse filter expression: illegal port number 70000 > 65535")]
    [InlineData("host nosuchhost", "can't parse filter expression: unknown host 'nosuchhost'")]
    [InlineData("tcp host 192.0.2.1", "can't parse filter expression: 'tcp' modifier applied to host")]
    [InlineData("ip and (tcp", "can't parse filter expression: syntax error")]
    [InlineData("net 192.0.2.1/24", "can't parse filter expression: non-network bits set in \"192.0.2.1/24\"")]
    [InlineData("vlan 10", "can't parse filter expression: 'vlan' is not supported in Vimage")]
    [InlineData("tcp[13:3] = 1", "can't parse filter expression: syntax error")]
    [InlineData("udp $ 5", "can't parse filter expression: illegal char '$'")]
    public void Bad_expressions_fail_with_libpcaps_message(string expression, string message)
    {
        var e = Assert.Throws<PcapFilterException>(() => PcapFilter.Compile(expression));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Running_a_filter_allocates_nothing()
    {
        BpfProgram program = PcapFilter.Compile("(tcp[tcpflags] & (tcp-syn|tcp-ack) != 0 or udp port 53) and net 192.0.2.0/24");
        int kept = 0;
        foreach (byte[] frame in Frames)
        {
            kept += program.Matches(frame) ? 1 : 0; // warm up
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 100; round++)
        {
            foreach (byte[] frame in Frames)
            {
                kept += program.Matches(frame) ? 1 : 0;
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(101 * 5, kept); // DNS both ways, SYN, SYN|ACK, ACK; not the fragment nor the RST
        Assert.Equal([4, 5, 6, 7, 8], Keep("(tcp[tcpflags] & (tcp-syn|tcp-ack) != 0 or udp port 53) and net 192.0.2.0/24"));
    }

    [Fact]
    public void Truncated_frames_and_bad_programs_are_rejected_not_read_past()
    {
        BpfProgram program = PcapFilter.Compile("tcp port 80");
        Assert.False(program.Matches(Frames[6].AsSpan(0, 30))); // cut inside the IP header
        Assert.Equal(0u, BpfProgram.Run([new BpfInsn(BpfInsn.LD | BpfInsn.W | BpfInsn.ABS, 0, 0, uint.MaxValue - 1)], Frames[0], 60));
        Assert.Equal(0u, BpfProgram.Run([new BpfInsn(BpfInsn.LD | BpfInsn.IMM, 0, 0, 1), new BpfInsn(BpfInsn.ALU | BpfInsn.DIV | BpfInsn.K_, 0, 0, 0),
            new BpfInsn(BpfInsn.RET | BpfInsn.A_, 0, 0, 0)], Frames[0], 60));
        Assert.Equal(0u, BpfProgram.Run([new BpfInsn(0xffff, 0, 0, 0)], Frames[0], 60));
    }

    private static int[] Keep(string expression)
    {
        BpfProgram program = PcapFilter.Compile(expression);
        return [.. Enumerable.Range(0, Frames.Length).Where(i => program.Matches(Frames[i]))];
    }

    /// <summary>The frame indexes Linux tcpdump -r prints for <paramref name="expression"/>.</summary>
    private static int[] TcpdumpKeeps(string expression)
    {
        string file = Path.Combine(Path.GetTempPath(), $"vimage-filter-{Environment.ProcessId}-{Guid.NewGuid():N}.pcap");
        try
        {
            using (var writer = new PcapWriter(file))
            {
                for (int i = 0; i < Frames.Length; i++)
                {
                    writer.Write(Frames[i], i * 1_000_000L);
                }
            }

            return [.. PcapTests.RunTcpdump("-n", "-tt", "-r", file, expression).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => char.IsAsciiDigit(l[0]))
                .Select(l => int.Parse(l[..l.IndexOf('.', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture))];
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static byte[] Ether(byte[] dst, byte[] src, ushort type, byte[] payload)
    {
        var f = new byte[Math.Max(60, 14 + payload.Length)];
        dst.CopyTo(f, 0);
        src.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), type);
        payload.CopyTo(f, 14);
        return f;
    }

    private static byte[] Addr(string a) => System.Net.IPAddress.Parse(a).GetAddressBytes();

    private static byte[] Arp(ushort op, byte[] sha, string spa, byte[] tha, string tpa)
    {
        var p = new byte[28];
        BinaryPrimitives.WriteUInt16BigEndian(p, 1);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), 0x0800);
        p[4] = 6;
        p[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), op);
        sha.CopyTo(p, 8);
        Addr(spa).CopyTo(p, 14);
        tha.CopyTo(p, 18);
        Addr(tpa).CopyTo(p, 24);
        return p;
    }

    private static byte[] Ip(string src, string dst, byte proto, byte[] l4, int fragment = 0, int options = 0)
    {
        int hlen = 20 + options;
        var p = new byte[hlen + l4.Length];
        p[0] = (byte)(0x40 | hlen / 4);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), (ushort)fragment);
        p[8] = 64;
        p[9] = proto;
        Addr(src).CopyTo(p, 12);
        Addr(dst).CopyTo(p, 16);
        for (int i = 20; i < hlen; i++)
        {
            p[i] = 1; // NOP options
        }

        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum(p.AsSpan(0, hlen)));
        l4.CopyTo(p, hlen);
        return p;
    }

    private static ushort Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i < header.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        }

        while (sum > 0xffff)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    private static byte[] Icmp(byte type) => [type, 0, 0, 0, 0, 1, 0, 1];

    private static byte[] Udp(ushort sport, ushort dport, int data)
    {
        var p = new byte[8 + data];
        BinaryPrimitives.WriteUInt16BigEndian(p, sport);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), (ushort)p.Length);
        return p;
    }

    private static byte[] Tcp(ushort sport, ushort dport, byte flags, int data)
    {
        var p = new byte[20 + data];
        BinaryPrimitives.WriteUInt16BigEndian(p, sport);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), dport);
        p[12] = 0x50;
        p[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(14), 65535);
        return p;
    }
}
