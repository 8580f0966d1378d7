using System.Buffers.Binary;
using System.Text;
using Vimage.Fuzz.Targets;

namespace Vimage.Fuzz;

/// <summary>
/// The hand-made seed inputs checked in under fuzz/corpus/TARGET: small valid inputs for each parser, written by
/// <c>Vimage.Fuzz seeds DIR</c> so they can be regenerated and reviewed as code.
/// </summary>
internal static class SeedCorpus
{
    private const byte Fix = FrameTarget.FixIp | FrameTarget.FixTransport;
    private static readonly byte[] PeerIp0 = [192, 0, 2, 2], Ip0 = [192, 0, 2, 1], Ip1Peer = [198, 51, 100, 2], Broadcast = [255, 255, 255, 255];

    public static void Write(string root)
    {
        Save(root, "frame", new()
        {
            ["arp-request"] = Frames((0, Ether(Bcast, 0x0806, Arp(1, PeerIp0, Ip0)))),
            ["arp-reply"] = Frames((0, Ether(FuzzStack.Mac0, 0x0806, Arp(2, PeerIp0, Ip0)))),
            ["icmp-echo"] = Frames((Fix, Ether(FuzzStack.Mac0, 0x0800, Ip(1, PeerIp0, Ip0, Icmp(8, 0, [1, 2, 3, 4]))))),
            ["udp-closed-port"] = Frames((Fix, Ether(FuzzStack.Mac0, 0x0800, Ip(17, PeerIp0, Ip0, Udp(5000, 9, "hello"u8.ToArray()))))),
            ["udp-socket"] = Frames((Fix, Ether(FuzzStack.Mac0, 0x0800, Ip(17, PeerIp0, Ip0, Udp(5000, FuzzStack.SocketPort, "echo"u8.ToArray()))))),
            ["udp-socket-broadcast"] = Frames((Fix, Ether(Bcast, 0x0800, Ip(17, PeerIp0, [192, 0, 2, 255], Udp(5000, FuzzStack.SocketPort, [1, 2]))))),
            ["udp-broadcast"] = Frames((Fix, Ether(Bcast, 0x0800, Ip(17, PeerIp0, Broadcast, Udp(5000, 9, [0]))))),
            ["ip-options"] = Frames((Fix, Ether(FuzzStack.Mac0, 0x0800, Ip(1, PeerIp0, Ip0, Icmp(8, 0, [9]),
                options: [0x07, 0x07, 0x04, 0, 0, 0, 0, 0x44, 0x0c, 0x05, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00])))),
            ["ip-lsrr-accepted"] = Frames((0x10 | Fix, Ether(FuzzStack.Mac0, 0x0800, Ip(1, PeerIp0, Ip0, Icmp(8, 0, [9]),
                options: [0x83, 0x07, 0x04, 198, 51, 100, 2, 0x00])))),
            ["broadcast-echo"] = Frames((0x20 | Fix, Ether(Bcast, 0x0800, Ip(1, PeerIp0, [192, 0, 2, 255], Icmp(8, 0, [5]))))),
            ["proxy-arp"] = Frames((0x40, Ether(Bcast, 0x0806, Arp(1, PeerIp0, [198, 51, 100, 7])))),
            ["ip-lsrr"] = Frames((Fix, Ether(FuzzStack.Mac0, 0x0800, Ip(1, PeerIp0, Ip0, Icmp(8, 0, [9]),
                options: [0x83, 0x07, 0x04, 198, 51, 100, 2, 0x00])))),
            ["forward"] = Frames((Fix, Ether(FuzzStack.Mac0, 0x0800, Ip(17, PeerIp0, Ip1Peer, Udp(1, 2, [3]))))),
            ["forward-ttl1"] = Frames((Fix, Ether(FuzzStack.Mac0, 0x0800, Ip(17, PeerIp0, Ip1Peer, Udp(1, 2, [3]), ttl: 1)))),
            ["icmp-error-in"] = Frames((Fix, Ether(FuzzStack.Mac0, 0x0800, Ip(1, PeerIp0, Ip0,
                Icmp(3, 3, [0, 0, 0, 0, .. Ip(17, Ip0, PeerIp0, Udp(7, 5000, [1]))]))))),
            ["lo0-echo"] = Frames((2 | Fix, Ip(1, [127, 0, 0, 1], [127, 0, 0, 1], Icmp(8, 0, [7])))),
            ["arp-then-echo"] = Frames(
                (0, Ether(Bcast, 0x0806, Arp(1, [192, 0, 2, 9], Ip0))),
                (Fix, Ether(FuzzStack.Mac0, 0x0800, Ip(1, [192, 0, 2, 9], Ip0, Icmp(8, 0, [1]))))),
        });

        byte[] echo = Icmp(8, 0, [.. Enumerable.Range(0, 40).Select(i => (byte)i)]);
        Save(root, "reass", new()
        {
            ["two-in-order"] = Fragments(Fragment(1, echo, 0, 24, true), Fragment(1, echo, 24, echo.Length, false)),
            ["two-reversed"] = Fragments(Fragment(2, echo, 24, echo.Length, false), Fragment(2, echo, 0, 24, true)),
            ["overlap"] = Fragments(Fragment(3, echo, 0, 24, true), Fragment(3, echo, 16, 32, true), Fragment(3, echo, 32, echo.Length, false)),
            ["udp-three"] = Fragments(Fragment(4, Udp(5000, 9, new byte[30]), 0, 16, true, 17), Fragment(4, Udp(5000, 9, new byte[30]), 16, 32, true, 17),
                Fragment(4, Udp(5000, 9, new byte[30]), 32, 38, false, 17)),
            ["incomplete"] = Fragments(Fragment(5, echo, 8, 24, true)),
        });

        Save(root, "host", new()
        {
            ["run"] = Frame("""{"argv":["ifconfig","-a"],"cwd":"/","env":{"LANG":"C"}}"""),
            ["status"] = Frame("""{"op":"status"}"""),
            ["responses"] = [.. Frame("""{"out":"lo0: flags=8049\n"}"""), .. Frame("""{"err":"x"}"""), .. Frame("""{"exit":0}""")],
            ["error"] = Frame("""{"error":"refused","exit":77}"""),
        });

        Save(root, "script", new()
        {
            ["basic"] = Encoding.UTF8.GetBytes("""
                # a scenario in the style of tests/sys/net
                vnet_init
                epair=$(vnet_mkepair)
                vnet_mkjail one ${epair}a
                ifconfig ${epair}b 192.0.2.2/24 up
                jexec one ifconfig ${epair}a 192.0.2.1/24 up
                atf_check -s exit:0 -o ignore ping -c 1 192.0.2.1
                atf_check -s exit:1 -e match:err route get err 1
                atf_check -o inline:"a b\n" echo a b
                atf_check -o not-match:^x -e empty sysctl "net.inet.ip.ttl"
                ping -c 3 192.0.2.1 &
                wait
                sleep 0.1
                vnet_cleanup

                """),
            ["quotes"] = Encoding.UTF8.GetBytes("x=$(echo 'a b' \"c $epair\")\necho \\$x ${x} $x\n"),
        });

        Save(root, "pcap", new()
        {
            ["little-endian-us"] = Pcap(0xa1b2c3d4, false, Ether(FuzzStack.Mac0, 0x0800, Ip(1, PeerIp0, Ip0, Icmp(8, 0, [1]))), Ether(Bcast, 0x0806, Arp(1, PeerIp0, Ip0))),
            ["big-endian-ns"] = Pcap(0xa1b23c4d, true, Ether(FuzzStack.Mac0, 0x0800, Ip(17, PeerIp0, Ip0, Udp(1, 2, [3])))),
        });

        Save(root, "sysctl", new()
        {
            ["writes"] = Encoding.UTF8.GetBytes("fuzz.int=5\nfuzz.uint=0x10\nfuzz.long=-7\nfuzz.u64=18446744073709551615\nfuzz.bool=true\nfuzz.string=abc\n"),
            ["reads"] = Encoding.UTF8.GetBytes("net.inet.ip.ttl\nnet.inet.icmp\nkern\n"),
            ["loader-conf"] = Encoding.UTF8.GetBytes("# loader.conf\nnet.inet.ip.maxfrags=\"100\" # comment\nfuzz.int=3; fuzz.bool=0\n"),
        });
    }

    private static byte[] Bcast => [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    private static void Save(string root, string target, Dictionary<string, byte[]> seeds)
    {
        string dir = Path.Combine(root, target);
        Directory.CreateDirectory(dir);
        foreach (var (name, data) in seeds)
        {
            File.WriteAllBytes(Path.Combine(dir, name), data);
        }
    }

    private static byte[] Frames(params (byte Control, byte[] Frame)[] frames) => Records.Join(frames.Select(f => (new[] { f.Control }, f.Frame)));

    private static byte[] Fragments(params byte[][] packets) => Records.Join(packets.Select(p => (Array.Empty<byte>(), p)));

    private static byte[] Ether(byte[] dst, ushort type, byte[] payload)
    {
        byte[] f = new byte[14 + payload.Length];
        dst.CopyTo(f, 0);
        FuzzStack.PeerMac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), type);
        payload.CopyTo(f, 14);
        return f;
    }

    private static byte[] Arp(ushort op, byte[] sender, byte[] target)
    {
        byte[] a = new byte[28];
        a[1] = 1;
        a[2] = 0x08;
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a.AsSpan(6), op);
        FuzzStack.PeerMac.CopyTo(a, 8);
        sender.CopyTo(a, 14);
        if (op == 2)
        {
            FuzzStack.Mac0.CopyTo(a, 18);
        }

        target.CopyTo(a, 24);
        return a;
    }

    private static byte[] Ip(byte protocol, byte[] src, byte[] dst, byte[] payload, byte ttl = 64, byte[]? options = null,
        ushort id = 1, ushort fragment = 0, bool fixTransport = true)
    {
        options ??= [];
        int hlen = 20 + options.Length;
        byte[] p = new byte[hlen + payload.Length];
        p[0] = (byte)(0x40 | (hlen / 4));
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(2), (ushort)p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(6), fragment);
        p[8] = ttl;
        p[9] = protocol;
        src.CopyTo(p, 12);
        dst.CopyTo(p, 16);
        options.CopyTo(p, 20);
        payload.CopyTo(p, hlen);
        if (fixTransport)
        {
            FuzzStack.FixTransportChecksum(p);
        }

        FuzzStack.FixIpChecksum(p);
        return p;
    }

    private static byte[] Icmp(byte type, byte code, byte[] data) => [type, code, 0, 0, 0, 1, 0, 1, .. data];

    private static byte[] Udp(ushort sport, ushort dport, byte[] data)
    {
        byte[] u = new byte[8 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(u, sport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        data.CopyTo(u, 8);
        return u;
    }

    /// <summary>Bytes [from, to) of a whole transport message (its checksum already set) as one IPv4 fragment.</summary>
    private static byte[] Fragment(ushort id, byte[] message, int from, int to, bool more, byte protocol = 1)
    {
        byte[] whole = Ip(protocol, PeerIp0, Ip0, message);
        ushort field = (ushort)((from / 8) | (more ? 0x2000 : 0));
        return Ip(protocol, PeerIp0, Ip0, whole[(20 + from)..(20 + to)], id: id, fragment: field, fixTransport: false);
    }

    private static byte[] Frame(string json) => [.. new byte[] { 0, 0, 0, (byte)Encoding.UTF8.GetByteCount(json) }, .. Encoding.UTF8.GetBytes(json)];

    private static byte[] Pcap(uint magic, bool bigEndian, params byte[][] frames)
    {
        var output = new List<byte>();
        void U32(uint v)
        {
            byte[] b = new byte[4];
            if (bigEndian)
            {
                BinaryPrimitives.WriteUInt32BigEndian(b, v);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            }

            output.AddRange(b);
        }

        U32(magic);
        U32(bigEndian ? 0x00020004u : 0x00040002u); // version 2.4: two 16-bit fields
        U32(0);
        U32(0);
        U32(65535);
        U32(1);
        uint t = 1_700_000_000;
        foreach (byte[] frame in frames)
        {
            U32(t++);
            U32(500);
            U32((uint)frame.Length);
            U32((uint)frame.Length);
            output.AddRange(frame);
        }

        return [.. output];
    }
}
