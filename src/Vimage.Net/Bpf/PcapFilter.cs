using System.Globalization;
using static Vimage.Net.Bpf.BpfInsn;

namespace Vimage.Net.Bpf;

/// <summary>pcap_compile's failure: tcpdump prints "tcpdump: MESSAGE" and exits 1.</summary>
public sealed class PcapFilterException(string message) : Exception(message);

/// <summary>
/// pcap_compile for DLT_EN10MB, the pcap-filter(7) subset for Ethernet, ARP and IPv4: <c>host</c>, <c>net</c>
/// (<c>/len</c>, <c>mask</c>, partial networks), <c>port</c>, <c>portrange</c> with <c>src</c>/<c>dst</c> and the
/// <c>ether ip arp rarp tcp udp icmp</c> qualifiers, <c>ether host/src/dst</c>, <c>ip proto</c>, <c>ether proto</c>,
/// <c>broadcast</c>, <c>multicast</c>, <c>less</c>, <c>greater</c>, relations over <c>len</c>, constants and
/// packet bytes (<c>tcp[tcpflags] &amp; (tcp-syn|tcp-ack) != 0</c>), with <c>and or not</c> and parentheses; an id
/// without qualifiers repeats the previous primitive's (<c>port 53 or 80</c>). Compiled once (gencode's
/// short-circuit jumps, unoptimized) to classic BPF that <see cref="BpfProgram.Run"/> evaluates per packet.
/// </summary>
public sealed class PcapFilter
{
    /// <summary>tcpdump's default snapshot length, returned for an accepted packet.</summary>
    public const uint SnapLen = 262144;

    private const uint EtherTypeIp = 0x0800, EtherTypeArp = 0x0806, EtherTypeRarp = 0x8035, EtherTypeIp6 = 0x86dd;

    private readonly List<string> _tokens;
    private int _pos;
    private (string? Proto, string? Dir, string? Type) _last = (null, null, null);

    private PcapFilter(List<string> tokens) => _tokens = tokens;

    /// <summary>Compiles <paramref name="expression"/> (empty: accept everything).</summary>
    /// <exception cref="PcapFilterException">libpcap's message for the expression.</exception>
    public static BpfProgram Compile(string expression)
    {
        var parser = new PcapFilter(Tokenize(expression));
        if (parser._tokens.Count == 0)
        {
            return new BpfProgram([new BpfInsn(RET | K_, 0, 0, SnapLen)]);
        }

        Node root = parser.ParseOr();
        if (parser._pos != parser._tokens.Count)
        {
            throw Syntax();
        }

        return new BpfProgram(new Emitter().Emit(root));
    }

    private static PcapFilterException Syntax() => new("can't parse filter expression: syntax error");

    // ---- the tree: tests (code leaving a value in A, then one conditional jump) joined by and/or/not ----

    private abstract record Node;

    private sealed record Test(BpfInsn[] Code, ushort Jump, uint K) : Node;

    private sealed record And(Node L, Node R) : Node;

    private sealed record Or(Node L, Node R) : Node;

    private sealed record Not(Node N) : Node;

    private static Node Cmp(BpfInsn[] code, ushort jump, uint k) => new Test(code, (ushort)(JMP | jump | K_), k);

    private static BpfInsn Ld(ushort size, uint offset) => new((ushort)(LD | size | ABS), 0, 0, offset);

    private static BpfInsn LdInd(ushort size, uint offset) => new((ushort)(LD | size | IND), 0, 0, offset);

    private static readonly BpfInsn IpHeaderLength = new(LDX | B | MSH, 0, 0, 14); // ldxb 4*([14]&0xf)

    private static Node EtherType(uint type) => Cmp([Ld(H, 12)], JEQ, type);

    private static Node IpProto(uint proto) => new And(EtherType(EtherTypeIp), Cmp([Ld(B, 23)], JEQ, proto));

    private static Node NotFragment() => new Not(Cmp([Ld(H, 20)], JSET, 0x1fff));

    private static Node Direction(string? dir, Func<bool, Node> test) => dir switch
    {
        "src" => test(true),
        "dst" => test(false),
        "src and dst" => new And(test(true), test(false)),
        _ => new Or(test(true), test(false)),
    };

    // ---- parser: expr := term {or term}; term := factor {and factor}; factor := not factor | (expr) | relation | primitive ----

    private string? Peek(int ahead = 0) => _pos + ahead < _tokens.Count ? _tokens[_pos + ahead] : null;

    private string Next() => _pos < _tokens.Count ? _tokens[_pos++] : throw Syntax();

    private void Expect(string token)
    {
        if (Next() != token)
        {
            throw Syntax();
        }
    }

    private Node ParseOr()
    {
        Node left = ParseAnd();
        while (Peek() is "or" or "||")
        {
            _pos++;
            left = new Or(left, ParseAnd());
        }

        return left;
    }

    private Node ParseAnd()
    {
        Node left = ParseFactor();
        while (Peek() is "and" or "&&")
        {
            _pos++;
            left = new And(left, ParseFactor());
        }

        return left;
    }

    private Node ParseFactor()
    {
        string token = Peek() ?? throw Syntax();
        if (token is "not" or "!")
        {
            _pos++;
            return new Not(ParseFactor());
        }

        // A relation (len > 100, tcp[13] & 2 != 0, (ip[0] & 0xf) > 5) or, failing that, a primitive or (expr).
        int start = _pos;
        if (TryRelation() is { } relation)
        {
            return relation;
        }

        _pos = start;
        if (token == "(")
        {
            _pos++;
            Node inner = ParseOr();
            Expect(")");
            return inner;
        }

        return ParsePrimitive();
    }

    private static readonly HashSet<string> Protos = ["ether", "ip", "arp", "rarp", "tcp", "udp", "icmp", "ip6"];

    private static readonly HashSet<string> Types = ["host", "net", "port", "portrange", "proto"];

    private static readonly HashSet<string> Unsupported = ["vlan", "mpls", "pppoed", "pppoes", "geneve", "gateway", "sctp", "igmp", "icmp6", "decnet", "atalk", "llc", "wlan", "ipx", "iso", "stp", "netbeui", "inbound", "outbound", "ifname", "on", "rnr", "rulenum", "reason", "rset", "ruleset", "srnr", "subrulenum", "action"];

    private Node ParsePrimitive()
    {
        string token = Next();
        switch (token)
        {
            case "less": return Relation(Len(), ">", new Const(Number(Next())), negate: true);
            case "greater": return Relation(Len(), ">=", new Const(Number(Next())), negate: false);
            case "broadcast": return EtherAddress(false, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
            case "multicast": return Cmp([Ld(B, 0)], JSET, 1);
            case var _ when Unsupported.Contains(token):
                throw new PcapFilterException($"can't parse filter expression: '{token}' is not supported in Vimage");
        }

        string? proto = null, dir = null, type = null;
        bool qualified = false;
        _pos--;
        if (Protos.Contains(token))
        {
            proto = Next();
            qualified = true;
            if (Peek() is "broadcast" or "multicast")
            {
                string what = Next();
                return proto switch
                {
                    "ether" when what == "broadcast" => EtherAddress(false, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
                    "ether" => Cmp([Ld(B, 0)], JSET, 1),
                    "ip" when what == "multicast" => new And(EtherType(EtherTypeIp), Cmp([Ld(B, 30)], JGE, 224)),
                    _ => throw new PcapFilterException($"can't parse filter expression: only link-layer/IP {what} filters supported"),
                };
            }

            if (!(Peek() is "src" or "dst" || Peek() is { } t && Types.Contains(t)))
            {
                return ProtoAlone(proto); // "tcp", "ip", "arp"...
            }
        }

        if (Peek() is "src" or "dst")
        {
            dir = Next();
            qualified = true;
            if (Peek() is "or" or "and" && Peek(1) is "src" or "dst" && Peek(1) != dir)
            {
                dir = $"src {Next()} dst";
                _pos++;
            }
        }

        if (Peek() is { } typeToken && Types.Contains(typeToken))
        {
            type = Next();
            qualified = true;
        }

        if (!qualified)
        {
            (proto, dir, type) = _last; // a bare id repeats the previous qualifiers (port 53 or 80)
        }

        type ??= "host";
        _last = (proto, dir, type);
        string id = Next();
        return type switch
        {
            "host" => Host(proto, dir, id),
            "net" => Net(proto, dir, id),
            "port" => Port(proto, dir, PortNumber(id), PortNumber(id)),
            "portrange" => PortRange(proto, dir, id),
            _ => ProtoNumber(proto, id),
        };
    }

    private static Node ProtoAlone(string proto) => proto switch
    {
        "ip" => EtherType(EtherTypeIp),
        "arp" => EtherType(EtherTypeArp),
        "rarp" => EtherType(EtherTypeRarp),
        "ip6" => EtherType(EtherTypeIp6),
        "tcp" => IpProto(6),
        "udp" => IpProto(17),
        "icmp" => IpProto(1),
        _ => throw Syntax(), // "ether" alone
    };

    private static Node Host(string? proto, string? dir, string id)
    {
        if (proto == "ether")
        {
            byte[] mac = Mac(id);
            return Direction(dir, src => EtherAddress(src, mac));
        }

        if (!TryAddress(id, out uint address, out int parts) || parts != 4)
        {
            throw new PcapFilterException(id.Contains(':', StringComparison.Ordinal) && proto is null
                ? $"can't parse filter expression: ethernet address used in non-ether expression"
                : $"can't parse filter expression: unknown host '{id}'");
        }

        return AddressTest(proto, dir, address, uint.MaxValue, "host");
    }

    private Node Net(string? proto, string? dir, string id)
    {
        uint mask;
        uint address;
        int slash = id.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            if (!TryAddress(id[..slash], out address, out _) || !int.TryParse(id[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int len))
            {
                throw Syntax();
            }

            if (len > 32)
            {
                throw new PcapFilterException($"can't parse filter expression: mask length must be <= 32");
            }

            mask = len == 0 ? 0 : uint.MaxValue << (32 - len);
        }
        else if (Peek() == "mask")
        {
            _pos++;
            if (!TryAddress(id, out address, out _) || !TryAddress(Next(), out mask, out int maskParts) || maskParts != 4)
            {
                throw Syntax();
            }
        }
        else
        {
            // A partial network: "net 10" is 10/8, "net 192.0.2" is 192.0.2/24 (the parts given).
            if (!TryAddress(id, out address, out int parts))
            {
                throw new PcapFilterException($"can't parse filter expression: unknown network '{id}'");
            }

            mask = uint.MaxValue << (32 - 8 * parts);
            if (parts == 4)
            {
                mask = uint.MaxValue;
            }
        }

        if ((address & ~mask) != 0)
        {
            throw new PcapFilterException($"can't parse filter expression: non-network bits set in \"{id}\"");
        }

        return AddressTest(proto, dir, address, mask, "net");
    }

    /// <summary>gen_host: IPv4 source/destination (offsets 26/30), ARP/RARP sender/target protocol addresses (28/38).</summary>
    private static Node AddressTest(string? proto, string? dir, uint address, uint mask, string what)
    {
        Node Ip(uint type, uint srcOffset, uint dstOffset) => new And(EtherType(type), Direction(dir, src =>
            mask == uint.MaxValue
                ? Cmp([Ld(W, src ? srcOffset : dstOffset)], JEQ, address)
                : Cmp([Ld(W, src ? srcOffset : dstOffset), new BpfInsn(ALU | AND | K_, 0, 0, mask)], JEQ, address)));
        return proto switch
        {
            null => new Or(Ip(EtherTypeIp, 26, 30), new Or(Ip(EtherTypeArp, 28, 38), Ip(EtherTypeRarp, 28, 38))),
            "ip" => Ip(EtherTypeIp, 26, 30),
            "arp" => Ip(EtherTypeArp, 28, 38),
            "rarp" => Ip(EtherTypeRarp, 28, 38),
            _ => throw new PcapFilterException($"can't parse filter expression: '{proto}' modifier applied to {what}"),
        };
    }

    private static Node EtherAddress(bool src, byte[] mac)
    {
        uint offset = src ? 6u : 0u;
        uint low = (uint)(mac[2] << 24 | mac[3] << 16 | mac[4] << 8 | mac[5]);
        return new And(Cmp([Ld(W, offset + 2)], JEQ, low), Cmp([Ld(H, offset)], JEQ, (uint)(mac[0] << 8 | mac[1])));
    }

    private Node PortRange(string? proto, string? dir, string id)
    {
        int dash = id.IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0)
        {
            throw Syntax();
        }

        ushort lo = PortNumber(id[..dash]), hi = PortNumber(id[(dash + 1)..]);
        return Port(proto, dir, Math.Min(lo, hi), Math.Max(lo, hi));
    }

    /// <summary>gen_port/gen_portrange: IPv4, not a fragment, TCP/UDP/SCTP (or the one named), the port in range.</summary>
    private static Node Port(string? proto, string? dir, ushort lo, ushort hi)
    {
        Node Range(bool src)
        {
            BpfInsn[] load = [IpHeaderLength, LdInd(H, src ? 14u : 16u)];
            return lo == hi ? Cmp(load, JEQ, lo) : new And(Cmp(load, JGE, lo), new Not(Cmp(load, JGT, hi)));
        }

        Node protocols = proto switch
        {
            null or "ip" => new Or(Cmp([Ld(B, 23)], JEQ, 6), new Or(Cmp([Ld(B, 23)], JEQ, 17), Cmp([Ld(B, 23)], JEQ, 132))),
            "tcp" => Cmp([Ld(B, 23)], JEQ, 6),
            "udp" => Cmp([Ld(B, 23)], JEQ, 17),
            _ => throw new PcapFilterException($"can't parse filter expression: '{proto}' modifier applied to port"),
        };
        return new And(new And(EtherType(EtherTypeIp), protocols), new And(NotFragment(), Direction(dir, Range)));
    }

    private static Node ProtoNumber(string? proto, string id)
    {
        string name = id.TrimStart('\\');
        uint number = name switch
        {
            "tcp" => 6,
            "udp" => 17,
            "icmp" => 1,
            "ip" => EtherTypeIp,
            "arp" => EtherTypeArp,
            "rarp" => EtherTypeRarp,
            _ => Number(name),
        };
        return proto switch
        {
            "ether" => EtherType(number),
            null or "ip" when number <= 255 => IpProto(number),
            _ => throw new PcapFilterException($"can't parse filter expression: '{proto}' modifier applied to proto"),
        };
    }

    private static ushort PortNumber(string id)
    {
        uint n = id switch
        {
            "domain" => 53,
            "http" or "www" => 80,
            "https" => 443,
            "ssh" => 22,
            "telnet" => 23,
            "ftp" => 21,
            "smtp" => 25,
            "bootps" => 67,
            "bootpc" => 68,
            "ntp" => 123,
            _ when id.Length > 0 && char.IsAsciiDigit(id[0]) => Number(id),
            _ => throw new PcapFilterException($"can't parse filter expression: unknown port '{id}'"),
        };
        return n <= 65535 ? (ushort)n : throw new PcapFilterException($"can't parse filter expression: illegal port number {n} > 65535");
    }

    // ---- relations: arith relop arith ----

    private abstract record Arith;

    private sealed record Const(uint Value) : Arith;

    private sealed record LenValue : Arith;

    private sealed record PacketLoad(string Proto, uint Offset, ushort Size) : Arith;

    private sealed record Binary(ushort Op, Arith L, Arith R) : Arith;

    private static Arith Len() => new LenValue();

    private static readonly Dictionary<string, uint> Constants = new(StringComparer.Ordinal)
    {
        ["tcpflags"] = 13, ["icmptype"] = 0, ["icmpcode"] = 1,
        ["tcp-fin"] = 0x01, ["tcp-syn"] = 0x02, ["tcp-rst"] = 0x04, ["tcp-push"] = 0x08,
        ["tcp-ack"] = 0x10, ["tcp-urg"] = 0x20, ["tcp-ece"] = 0x40, ["tcp-cwr"] = 0x80,
        ["icmp-echoreply"] = 0, ["icmp-unreach"] = 3, ["icmp-sourcequench"] = 4, ["icmp-redirect"] = 5,
        ["icmp-echo"] = 8, ["icmp-routeradvert"] = 9, ["icmp-routersolicit"] = 10, ["icmp-timxceed"] = 11,
        ["icmp-paramprob"] = 12, ["icmp-tstamp"] = 13, ["icmp-tstampreply"] = 14, ["icmp-ireq"] = 15,
        ["icmp-ireqreply"] = 16, ["icmp-maskreq"] = 17, ["icmp-maskreply"] = 18,
    };

    private Node? TryRelation()
    {
        try
        {
            Arith left = ParseArith();
            string? op = Peek();
            if (op is not (">" or "<" or ">=" or "<=" or "=" or "==" or "!="))
            {
                return null;
            }

            _pos++;
            Arith right = ParseArith();
            return op switch
            {
                ">" => Relation(left, ">", right, false),
                ">=" => Relation(left, ">=", right, false),
                "<" => Relation(left, ">=", right, true),
                "<=" => Relation(left, ">", right, true),
                "=" or "==" => Relation(left, "==", right, false),
                _ => Relation(left, "==", right, true),
            };
        }
        catch (PcapFilterException) when (_tokens.Count > 0)
        {
            return null;
        }
    }

    /// <summary>left OP right (OP one of &gt; &gt;= ==), negated for the others; AND'ed with the protocol checks of its loads.</summary>
    private static Node Relation(Arith left, string op, Arith right, bool negate)
    {
        ushort jump = op switch { ">" => JGT, ">=" => JGE, _ => JEQ };
        var code = new List<BpfInsn>();
        Node test;
        if (right is Const c)
        {
            EmitArith(left, code, 0);
            test = Cmp([.. code], jump, c.Value);
        }
        else
        {
            EmitArith(right, code, 0);
            code.Add(new BpfInsn(ST, 0, 0, 0));
            EmitArith(left, code, 1);
            code.Add(new BpfInsn(LDX | MEM, 0, 0, 0));
            test = new Test([.. code], (ushort)(JMP | jump | X_), 0);
        }

        if (negate)
        {
            test = new Not(test);
        }

        foreach (string proto in Loads(left).Concat(Loads(right)).Distinct())
        {
            test = new And(ProtoCheck(proto), test);
        }

        return test;
    }

    private static IEnumerable<string> Loads(Arith a) => a switch
    {
        PacketLoad p => [p.Proto],
        Binary b => Loads(b.L).Concat(Loads(b.R)),
        _ => [],
    };

    private static Node ProtoCheck(string proto) => proto switch
    {
        "ip" => EtherType(EtherTypeIp),
        "arp" => EtherType(EtherTypeArp),
        "tcp" => new And(IpProto(6), NotFragment()),
        "udp" => new And(IpProto(17), NotFragment()),
        "icmp" => new And(IpProto(1), NotFragment()),
        _ => Cmp([new BpfInsn(LD | IMM, 0, 0, 1)], JEQ, 1), // ether: always
    };

    /// <summary>Code leaving the value of <paramref name="a"/> in A; scratch words from <paramref name="depth"/> up.</summary>
    private static void EmitArith(Arith a, List<BpfInsn> code, int depth)
    {
        if (depth >= MemWords)
        {
            throw new PcapFilterException("can't parse filter expression: expression too complex");
        }

        switch (a)
        {
            case Const c: code.Add(new BpfInsn(LD | IMM, 0, 0, c.Value)); break;
            case LenValue: code.Add(new BpfInsn(LD | W | LEN, 0, 0, 0)); break;
            case PacketLoad { Proto: "ether" } p: code.Add(Ld(p.Size, p.Offset)); break;
            case PacketLoad { Proto: "ip" or "arp" } p: code.Add(Ld(p.Size, 14 + p.Offset)); break;
            case PacketLoad p: code.Add(IpHeaderLength); code.Add(LdInd(p.Size, 14 + p.Offset)); break;
            case Binary { R: Const k } b:
                EmitArith(b.L, code, depth);
                code.Add(new BpfInsn((ushort)(ALU | b.Op | K_), 0, 0, k.Value));
                break;
            case Binary b:
                EmitArith(b.R, code, depth);
                code.Add(new BpfInsn(ST, 0, 0, (uint)depth));
                EmitArith(b.L, code, depth + 1);
                code.Add(new BpfInsn(LDX | MEM, 0, 0, (uint)depth));
                code.Add(new BpfInsn((ushort)(ALU | b.Op | X_), 0, 0, 0));
                break;
        }
    }

    // arith := sum {| sum}; with C precedence for & ^ | << >> + - * / %
    private Arith ParseArith() => ParseBinary(0);

    private static readonly (string Token, ushort Op)[][] Levels =
    [
        [("|", OR)], [("^", XOR)], [("&", AND)], [("<<", LSH), (">>", RSH)], [("+", ADD), ("-", SUB)], [("*", MUL), ("/", DIV), ("%", MOD)],
    ];

    private Arith ParseBinary(int level)
    {
        if (level == Levels.Length)
        {
            return ParseOperand();
        }

        Arith left = ParseBinary(level + 1);
        while (Peek() is { } t && Array.FindIndex(Levels[level], e => e.Token == t) is var i and >= 0)
        {
            _pos++;
            Arith right = ParseBinary(level + 1);
            left = left is Const a && right is Const b ? new Const(Fold(Levels[level][i].Op, a.Value, b.Value)) : new Binary(Levels[level][i].Op, left, right);
        }

        return left;
    }

    private static uint Fold(ushort op, uint a, uint b) => op switch
    {
        OR => a | b, XOR => a ^ b, AND => a & b, LSH => b < 32 ? a << (int)b : 0, RSH => b < 32 ? a >> (int)b : 0,
        ADD => a + b, SUB => a - b, MUL => a * b,
        DIV => b != 0 ? a / b : throw new PcapFilterException("can't parse filter expression: division by zero"),
        _ => b != 0 ? a % b : throw new PcapFilterException("can't parse filter expression: modulus by zero"),
    };

    private Arith ParseOperand()
    {
        string token = Next();
        if (token == "(")
        {
            Arith inner = ParseArith();
            Expect(")");
            return inner;
        }

        if (token == "len")
        {
            return Len();
        }

        if (Constants.TryGetValue(token, out uint named))
        {
            return new Const(named);
        }

        if (token is "ether" or "ip" or "arp" or "tcp" or "udp" or "icmp" && Peek() == "[")
        {
            _pos++;
            Arith offset = ParseArith();
            ushort size = B;
            if (Peek() == ":")
            {
                _pos++;
                size = Next() switch
                {
                    "1" => B,
                    "2" => H,
                    "4" => W,
                    _ => throw new PcapFilterException("can't parse filter expression: data size must be 1, 2, or 4"),
                };
            }

            Expect("]");
            return offset is Const c ? new PacketLoad(token, c.Value, size) : throw new PcapFilterException("can't parse filter expression: variable offsets are not supported in Vimage");
        }

        return char.IsAsciiDigit(token[0]) ? new Const(Number(token)) : throw Syntax();
    }

    // ---- lexical pieces ----

    private static uint Number(string text)
    {
        bool ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? uint.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint n)
            : text.Length > 1 && text[0] == '0'
                ? TryOctal(text, out n)
                : uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out n);
        return ok ? n : throw Syntax();
    }

    private static bool TryOctal(string text, out uint n)
    {
        n = 0;
        foreach (char c in text)
        {
            if (c is < '0' or > '7')
            {
                return false;
            }

            n = n * 8 + (uint)(c - '0');
        }

        return true;
    }

    /// <summary>A dotted IPv4 address or network prefix of 1-4 parts (pcap's "10", "192.0.2", "192.0.2.1").</summary>
    private static bool TryAddress(string text, out uint address, out int parts)
    {
        address = 0;
        string[] pieces = text.Split('.');
        parts = pieces.Length;
        if (parts > 4)
        {
            return false;
        }

        foreach (string piece in pieces)
        {
            if (!byte.TryParse(piece, NumberStyles.None, CultureInfo.InvariantCulture, out byte b))
            {
                return false;
            }

            address = address << 8 | b;
        }

        address <<= 8 * (4 - parts);
        return true;
    }

    private static byte[] Mac(string text)
    {
        string[] pieces = text.Split(':', '-', '.');
        var mac = new byte[6];
        if (pieces.Length != 6 || pieces.Any(p => p.Length is 0 or > 2))
        {
            throw new PcapFilterException($"can't parse filter expression: bogus ethernet address '{text}'");
        }

        for (int i = 0; i < 6; i++)
        {
            mac[i] = byte.Parse(pieces[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        }

        return mac;
    }

    private static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (char.IsAsciiLetterOrDigit(c) || c is '_' or '\\' or '.')
            {
                int start = i;
                // An id: names with dashes (tcp-syn), addresses, networks (10.0.0.0/8), MACs (aa:bb:...).
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] is '_' or '\\' or '.' or '-' or '/' or ':'))
                {
                    i++;
                }

                string word = text[start..i];
                // tcp[2:2] - the size after ':' is its own token when the word is a plain number followed by ":N".
                int colon = word.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && tokens.Count > 0 && tokens[^1] == "[" && word.Count(ch => ch == ':') == 1)
                {
                    tokens.Add(word[..colon]);
                    tokens.Add(":");
                    tokens.Add(word[(colon + 1)..]);
                }
                else
                {
                    tokens.Add(word);
                }
            }
            else
            {
                string two = i + 1 < text.Length ? text.Substring(i, 2) : "";
                if (two is "&&" or "||" or "!=" or "==" or "<=" or ">=" or "<<" or ">>")
                {
                    tokens.Add(two);
                    i += 2;
                }
                else if (c is '(' or ')' or '[' or ']' or '&' or '|' or '!' or '<' or '>' or '=' or '+' or '-' or '*' or '/' or '%' or '^' or ':')
                {
                    tokens.Add(c.ToString());
                    i++;
                }
                else
                {
                    throw new PcapFilterException($"can't parse filter expression: illegal char '{c}'");
                }
            }
        }

        return tokens;
    }

    /// <summary>gencode's backpatching: each test jumps to a true or a false label; labels resolve to forward offsets.</summary>
    private sealed class Emitter
    {
        private readonly List<(BpfInsn Insn, int True, int False)> _code = [];
        private readonly List<int> _labels = []; // label -> instruction index

        public BpfInsn[] Emit(Node root)
        {
            int accept = NewLabel(), reject = NewLabel();
            Gen(root, accept, reject);
            Place(accept);
            _code.Add((new BpfInsn(RET | K_, 0, 0, SnapLen), -1, -1));
            Place(reject);
            _code.Add((new BpfInsn(RET | K_, 0, 0, 0), -1, -1));
            var program = new BpfInsn[_code.Count];
            for (int i = 0; i < _code.Count; i++)
            {
                (BpfInsn insn, int t, int f) = _code[i];
                if (t >= 0)
                {
                    int jt = _labels[t] - (i + 1), jf = _labels[f] - (i + 1);
                    if (jt > 255 || jf > 255)
                    {
                        throw new PcapFilterException("can't parse filter expression: expression too complex");
                    }

                    insn = insn with { Jt = (byte)jt, Jf = (byte)jf };
                }

                program[i] = insn;
            }

            return program;
        }

        private int NewLabel()
        {
            _labels.Add(-1);
            return _labels.Count - 1;
        }

        private void Place(int label) => _labels[label] = _code.Count;

        private void Gen(Node node, int t, int f)
        {
            switch (node)
            {
                case Test test:
                    foreach (BpfInsn insn in test.Code)
                    {
                        _code.Add((insn, -1, -1));
                    }

                    _code.Add((new BpfInsn(test.Jump, 0, 0, test.K), t, f));
                    break;
                case And and:
                    int middle = NewLabel();
                    Gen(and.L, middle, f);
                    Place(middle);
                    Gen(and.R, t, f);
                    break;
                case Or or:
                    int next = NewLabel();
                    Gen(or.L, t, next);
                    Place(next);
                    Gen(or.R, t, f);
                    break;
                case Not not:
                    Gen(not.N, f, t);
                    break;
            }
        }
    }
}
