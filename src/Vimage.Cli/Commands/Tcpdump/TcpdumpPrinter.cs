using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Vimage.Net.Inet;

namespace Vimage.Cli.Commands.Tcpdump;

/// <summary>What tcpdump(1)'s printing options asked for (letters counted as tcpdump counts them).</summary>
internal sealed record TcpdumpFlags(int T = 0, int V = 0, bool E = false, bool Q = false, int X = 0, int BigX = 0, int A = 0);

/// <summary>
/// tcpdump 4.99's -n output for Ethernet, ARP and IPv4 with ICMP, UDP and TCP (print-ether.c, print-arp.c, print-ip.c,
/// print-icmp.c, print-udp.c, print-tcp.c): one packet per call, multi-line with -v or a dump. TCP sequence numbers are
/// relative per connection after the first segment carrying an ACK, as tcp_print's tcp_seq_hash makes them. Not
/// decoded: application protocols on well-known ports (DNS, HTTP, ...), IP options, IPv6, fragments past the first.
/// </summary>
internal sealed class TcpdumpPrinter(TcpdumpFlags flags)
{
    /// <summary>Connections whose sequence bases are remembered; the table starts over when full.</summary>
    private const int MaxConnections = 4096;

    private readonly Dictionary<(uint, uint, uint), (uint Seq, uint Ack)> _tcpSeq = [];
    private long _previous = -1, _first = -1;

    /// <summary>The packet's text without the final newline.</summary>
    public string Format(ReadOnlySpan<byte> frame, int length, long micros)
    {
        if (_first < 0)
        {
            _first = _previous = micros;
        }

        var sb = new StringBuilder(128);
        TcpdumpDump.Timestamp(sb, flags.T, micros, _previous, _first);
        _previous = micros;
        Ether(sb, frame, length);
        TcpdumpDump.Append(sb, frame, 14, flags.X, flags.BigX, flags.A);
        return sb.ToString();
    }

    private void Ether(StringBuilder sb, ReadOnlySpan<byte> frame, int length)
    {
        if (frame.Length < 14)
        {
            sb.Append("[|ether]");
            return;
        }

        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (flags.E)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{Mac(frame[6..12])} > {Mac(frame[..6])}, ");
            string? name = type switch { 0x0800 => "IPv4", 0x0806 => "ARP", 0x86dd => "IPv6", 0x8100 => "802.1Q", _ => null };
            sb.Append(flags.Q
                ? name ?? string.Create(CultureInfo.InvariantCulture, $"Unknown Ethertype (0x{type:x4})")
                : string.Create(CultureInfo.InvariantCulture, $"ethertype {name ?? "Unknown"} (0x{type:x4})"));
            sb.Append(CultureInfo.InvariantCulture, $", length {length}: ");
        }

        ReadOnlySpan<byte> p = frame[14..];
        switch (type)
        {
            case 0x0806:
                Arp(sb, p);
                break;
            case 0x0800:
                Ip(sb, p);
                break;
            default:
                if (!flags.E)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"ethertype Unknown (0x{type:x4}), length {length}: ");
                }

                break;
        }
    }

    /// <summary>arp_print for Ethernet/IPv4.</summary>
    private void Arp(StringBuilder sb, ReadOnlySpan<byte> p)
    {
        if (!flags.E)
        {
            sb.Append("ARP, ");
        }

        if (p.Length < 28)
        {
            sb.Append("[|ARP]");
            return;
        }

        if (flags.V > 0)
        {
            sb.Append("Ethernet (len 6), IPv4 (len 4), ");
        }

        ushort op = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
        InAddr sender = InAddr.Read(p[14..]), target = InAddr.Read(p[24..]);
        switch (op)
        {
            case 1:
                sb.Append(CultureInfo.InvariantCulture, $"Request who-has {target}");
                if (p.Slice(18, 6).ContainsAnyExcept((byte)0))
                {
                    sb.Append(CultureInfo.InvariantCulture, $" ({Mac(p.Slice(18, 6))})");
                }

                sb.Append(CultureInfo.InvariantCulture, $" tell {sender}");
                break;
            case 2:
                sb.Append(CultureInfo.InvariantCulture, $"Reply {sender} is-at {Mac(p.Slice(8, 6))}");
                break;
            default:
                sb.Append(CultureInfo.InvariantCulture, $"Unknown ({op})");
                break;
        }

        sb.Append(CultureInfo.InvariantCulture, $", length {p.Length}");
    }

    /// <summary>ip_print: "IP " and, with -v, the header's fields in parentheses and a new line.</summary>
    private void Ip(StringBuilder sb, ReadOnlySpan<byte> p)
    {
        if (!flags.E)
        {
            sb.Append("IP "); // ip_print: the link layer's -e line already named the protocol
        }

        if (p.Length < 20)
        {
            sb.Append("[|ip]");
            return;
        }

        int hlen = (p[0] & 0xf) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        ushort off = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
        byte proto = p[9];
        if (flags.V > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"(tos 0x{p[1]:x}");
            sb.Append((p[1] & 3) switch { 1 => ",ECT(1)", 2 => ",ECT(0)", 3 => ",CE", _ => "" });
            if (p[8] >= 1)
            {
                sb.Append(CultureInfo.InvariantCulture, $", ttl {p[8]}");
            }

            (string Name, int Bit)[] bits = [("+", 0x2000), ("DF", 0x4000), ("rsvd", 0x8000)];
            string frag = string.Join(", ", bits.Where(f => (off & f.Bit) != 0).Select(f => f.Name));
            sb.Append(CultureInfo.InvariantCulture,
                $", id {BinaryPrimitives.ReadUInt16BigEndian(p[4..])}, offset {(off & 0x1fff) * 8}, flags [{(frag.Length == 0 ? "none" : frag)}], proto {ProtoName(proto)} ({proto}), length {total}");
            if (hlen > 20)
            {
                sb.Append(", options (...)");
            }

            if (p.Length >= hlen && Cksum(p[..hlen]) is var sum && sum != 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $", bad cksum {BinaryPrimitives.ReadUInt16BigEndian(p[10..]):x} (->{ShouldBe(BinaryPrimitives.ReadUInt16BigEndian(p[10..]), sum):x})!");
            }

            sb.Append(")\n    ");
        }

        InAddr src = InAddr.Read(p[12..]), dst = InAddr.Read(p[16..]);
        int len = Math.Max(0, Math.Min(total, p.Length) - hlen);
        ReadOnlySpan<byte> l4 = p.Length > hlen ? p[hlen..Math.Max(hlen, Math.Min(total, p.Length))] : [];
        if ((off & 0x1fff) != 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{src} > {dst}: ip-proto-{proto}");
            return;
        }

        switch (proto)
        {
            case IpProto.Tcp:
                Tcp(sb, src, dst, l4, total - hlen);
                break;
            case IpProto.Udp:
                Udp(sb, src, dst, l4);
                break;
            case IpProto.Icmp:
                sb.Append(CultureInfo.InvariantCulture, $"{src} > {dst}: ");
                Icmp(sb, l4, total - hlen);
                break;
            default:
                sb.Append(CultureInfo.InvariantCulture, $"{src} > {dst}:  ip-proto-{proto} {len}");
                break;
        }
    }

    private void Icmp(StringBuilder sb, ReadOnlySpan<byte> icmp, int length)
    {
        if (icmp.Length < 8)
        {
            sb.Append("[|icmp]");
            return;
        }

        ushort id = BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]), seq = BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]);
        ReadOnlySpan<byte> inner = icmp[8..];
        string text = icmp[0] switch
        {
            IcmpType.Echo => $"ICMP echo request, id {id}, seq {seq}",
            IcmpType.EchoReply => $"ICMP echo reply, id {id}, seq {seq}",
            IcmpType.Unreach => "ICMP " + Unreachable(icmp[1], inner, BinaryPrimitives.ReadUInt16BigEndian(icmp[6..])),
            IcmpType.TimeExceeded => icmp[1] == 0 ? "ICMP time exceeded in-transit" : "ICMP ip reassembly time exceeded",
            _ => $"ICMP type-#{icmp[0]}",
        };
        sb.Append(CultureInfo.InvariantCulture, $"{text}, length {length}");
        if (flags.V > 0 && icmp[0] is IcmpType.Unreach or IcmpType.TimeExceeded && inner.Length >= 20)
        {
            // icmp_print: with -v an error's quoted datagram is printed as a packet of its own.
            sb.Append("\n\t");
            Ip(sb, inner);
        }
    }

    private static string Unreachable(byte code, ReadOnlySpan<byte> inner, ushort mtu)
    {
        if (inner.Length < 20)
        {
            return "unreachable";
        }

        InAddr dst = InAddr.Read(inner[16..]);
        int ihl = (inner[0] & 0xf) * 4;
        return code switch
        {
            0 => $"net {dst} unreachable",
            1 => $"host {dst} unreachable",
            2 => $"{dst} protocol {inner[9]} unreachable",
            3 when inner.Length >= ihl + 4 && inner[9] is IpProto.Udp or IpProto.Tcp =>
                $"{dst} {(inner[9] == IpProto.Udp ? "udp" : "tcp")} port {BinaryPrimitives.ReadUInt16BigEndian(inner[(ihl + 2)..])} unreachable",
            3 => $"{dst} port unreachable",
            4 => $"{dst} unreachable - need to frag (mtu {mtu})",
            13 => $"host {dst} unreachable - admin prohibited filter",
            _ => $"{dst} unreachable code {code}",
        };
    }

    private void Udp(StringBuilder sb, InAddr src, InAddr dst, ReadOnlySpan<byte> udp)
    {
        if (udp.Length < 8)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{src} > {dst}: [|udp]");
            return;
        }

        ushort sport = BinaryPrimitives.ReadUInt16BigEndian(udp), dport = BinaryPrimitives.ReadUInt16BigEndian(udp[2..]);
        int ulen = BinaryPrimitives.ReadUInt16BigEndian(udp[4..]);
        sb.Append(CultureInfo.InvariantCulture, $"{src}.{sport} > {dst}.{dport}: ");
        if (flags.V > 0 && !flags.Q)
        {
            ushort sum = BinaryPrimitives.ReadUInt16BigEndian(udp[6..]);
            if (sum == 0)
            {
                sb.Append("[no cksum] ");
            }
            else if (flags.V > 1 && udp.Length >= ulen)
            {
                int check = Cksum(udp[..ulen], Checksum.PseudoHeader(src, dst, IpProto.Udp, ulen));
                sb.Append(check == 0 ? "[udp sum ok] " : string.Create(CultureInfo.InvariantCulture, $"[bad udp cksum 0x{sum:x4} -> 0x{ShouldBe(sum, check):x4}!] "));
            }
        }

        sb.Append(CultureInfo.InvariantCulture, $"UDP, length {ulen - 8}");
    }

    private void Tcp(StringBuilder sb, InAddr src, InAddr dst, ReadOnlySpan<byte> tcp, int length)
    {
        if (tcp.Length < 20)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{src} > {dst}: [|tcp]");
            return;
        }

        ushort sport = BinaryPrimitives.ReadUInt16BigEndian(tcp), dport = BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]);
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]), ack = BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]);
        int hlen = (tcp[12] >> 4) * 4;
        byte fl = tcp[13];
        sb.Append(CultureInfo.InvariantCulture, $"{src}.{sport} > {dst}.{dport}: ");
        if (flags.Q)
        {
            sb.Append(CultureInfo.InvariantCulture, $"tcp {length - hlen}");
            return;
        }

        sb.Append("Flags [");
        int n = sb.Length;
        foreach ((int bit, char c) in (ReadOnlySpan<(int, char)>)[(0x01, 'F'), (0x02, 'S'), (0x04, 'R'), (0x08, 'P'), (0x10, '.'), (0x20, 'U'), (0x40, 'E'), (0x80, 'W')])
        {
            if ((fl & bit) != 0)
            {
                sb.Append(c);
            }
        }

        sb.Append(sb.Length == n ? "none]" : "]");

        // tcp_print's tcp_seq_hash: one entry per connection, keyed with the lower address (then port) first.
        uint thseq = 0, thack = 0;
        bool rev = false;
        if ((fl & 0x10) != 0)
        {
            uint a = src.Value, b = dst.Value;
            rev = a > b || (a == b && sport > dport);
            var key = rev ? (b, a, (uint)((dport << 16) | sport)) : (a, b, (uint)((sport << 16) | dport));
            if (!_tcpSeq.TryGetValue(key, out var th) || (fl & 0x02) != 0)
            {
                if (_tcpSeq.Count >= MaxConnections)
                {
                    _tcpSeq.Clear();
                }

                th = rev ? (ack - 1, seq) : (seq, ack - 1);
                _tcpSeq[key] = th;
            }
            else if (rev)
            {
                seq -= th.Ack;
                ack -= th.Seq;
            }
            else
            {
                seq -= th.Seq;
                ack -= th.Ack;
            }

            (thseq, thack) = th;
        }

        if (flags.V > 0 && tcp.Length >= length)
        {
            ushort sum = BinaryPrimitives.ReadUInt16BigEndian(tcp[16..]);
            int check = Cksum(tcp[..length], Checksum.PseudoHeader(src, dst, IpProto.Tcp, length));
            sb.Append(CultureInfo.InvariantCulture, $", cksum 0x{sum:x4}");
            sb.Append(check == 0 ? " (correct)" : string.Create(CultureInfo.InvariantCulture, $" (incorrect -> 0x{ShouldBe(sum, check):x4})"));
        }

        int data = length - hlen;
        if (flags.V > 1 || data > 0 || (fl & 0x07) != 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $", seq {seq}");
            if (data > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $":{seq + (uint)data}");
            }
        }

        if ((fl & 0x10) != 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $", ack {ack}");
        }

        sb.Append(CultureInfo.InvariantCulture, $", win {BinaryPrimitives.ReadUInt16BigEndian(tcp[14..])}");
        if ((fl & 0x20) != 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $", urg {BinaryPrimitives.ReadUInt16BigEndian(tcp[18..])}");
        }

        if (hlen > 20 && tcp.Length >= hlen)
        {
            TcpOptions(sb, tcp[20..hlen], rev ? thseq : thack);
        }

        sb.Append(CultureInfo.InvariantCulture, $", length {data}");
    }

    /// <summary>tcp_print's option loop; SACK edges relative to <paramref name="sackBase"/>.</summary>
    private static void TcpOptions(StringBuilder sb, ReadOnlySpan<byte> o, uint sackBase)
    {
        sb.Append(", options [");
        for (int i = 0; i < o.Length;)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            byte kind = o[i];
            int len = kind is 0 or 1 ? 1 : i + 1 < o.Length ? o[i + 1] : 0;
            if (len < 1 || (kind > 1 && (len < 2 || i + len > o.Length)))
            {
                sb.Append("[bad opt]");
                return;
            }

            ReadOnlySpan<byte> d = kind > 1 ? o.Slice(i + 2, len - 2) : [];
            sb.Append(kind switch
            {
                0 => "eol",
                1 => "nop",
                2 when d.Length == 2 => string.Create(CultureInfo.InvariantCulture, $"mss {BinaryPrimitives.ReadUInt16BigEndian(d)}"),
                3 when d.Length == 1 => string.Create(CultureInfo.InvariantCulture, $"wscale {d[0]}"),
                4 => "sackOK",
                5 => Sack(d, sackBase),
                8 when d.Length == 8 => string.Create(CultureInfo.InvariantCulture, $"TS val {BinaryPrimitives.ReadUInt32BigEndian(d)} ecr {BinaryPrimitives.ReadUInt32BigEndian(d[4..])}"),
                _ => string.Create(CultureInfo.InvariantCulture, $"unknown-{kind}") + (d.Length > 0 ? " 0x" + Convert.ToHexStringLower(d) : ""),
            });
            i += len;
            if (kind == 0)
            {
                break;
            }
        }

        sb.Append(']');
    }

    private static string Sack(ReadOnlySpan<byte> d, uint sackBase)
    {
        if (d.Length % 8 != 0)
        {
            return "sack invalid sack";
        }

        var sb = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"sack {d.Length / 8} "));
        for (int i = 0; i < d.Length; i += 8)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{{{BinaryPrimitives.ReadUInt32BigEndian(d[i..]) - sackBase}:{BinaryPrimitives.ReadUInt32BigEndian(d[(i + 4)..]) - sackBase}}}");
        }

        return sb.ToString();
    }

    /// <summary>in_cksum as a number: 0 when the data (checksum field included) is right.</summary>
    private static int Cksum(ReadOnlySpan<byte> data, ulong initial = 0)
    {
        // in_cksum's value as tcpdump holds it: network order read as a host integer (byte-swapped on little-endian).
        ushort sum = Checksum.Finish(Checksum.Sum(data, initial));
        return BitConverter.IsLittleEndian ? sum : BinaryPrimitives.ReverseEndianness(sum);
    }

    /// <summary>in_cksum_shouldbe: the checksum field that would have made the sum come out right.</summary>
    private static int ShouldBe(ushort sum, int computed)
    {
        int shouldbe = sum + computed;
        shouldbe = (shouldbe & 0xffff) + (shouldbe >> 16);
        shouldbe = (shouldbe & 0xffff) + (shouldbe >> 16);
        return shouldbe & 0xffff;
    }

    private static string ProtoName(byte proto) => proto switch
    {
        1 => "ICMP",
        2 => "IGMP",
        4 => "IPIP",
        6 => "TCP",
        17 => "UDP",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        _ => "unknown",
    };

    private static string Mac(ReadOnlySpan<byte> mac) =>
        string.Create(CultureInfo.InvariantCulture, $"{mac[0]:x2}:{mac[1]:x2}:{mac[2]:x2}:{mac[3]:x2}:{mac[4]:x2}:{mac[5]:x2}");
}
