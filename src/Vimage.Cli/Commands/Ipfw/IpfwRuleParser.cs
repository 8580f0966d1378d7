using System.Globalization;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using static Vimage.Cli.Commands.Ipfw.IpfwException;

namespace Vimage.Cli.Commands.Ipfw;

/// <summary>
/// compile_rule (sbin/ipfw/ipfw2.c) for the subset: [N] action [log [logamount L]] proto from SRC [PORTS] to DST
/// [PORTS] [options], where each of proto, SRC, DST and every option may be negated (<c>not</c>) or an or-block
/// (<c>{ a or b }</c>); addresses are any, me, table(N[,V]), or a comma list of a.b.c.d[/len|:mask]. Builds the
/// whole rule (an instruction list with F_NOT/F_OR, as the kernel runs it) or throws with ipfw's message and exit
/// code, so nothing is half-applied.
/// </summary>
public static class IpfwRuleParser
{
    public static IpFwRule Parse(string[] av)
    {
        int i = 0;
        int number = 0;
        if (i < av.Length && av[i].Length > 0 && char.IsAsciiDigit(av[i][0]))
        {
            if (!int.TryParse(av[i], NumberStyles.None, CultureInfo.InvariantCulture, out number) || number > IpFwChain.DefaultRule)
            {
                throw new IpfwException(EX_DATAERR, $"invalid rule number: {av[i]}");
            }

            if (number == IpFwChain.DefaultRule)
            {
                throw new IpfwException(EX_DATAERR, "Unable to add rule 65535: the default rule is fixed");
            }

            i++;
        }

        Need(av, i, "missing action");
        IpFwAction action;
        int arg = 0;
        string word = av[i++];
        switch (word)
        {
            case "allow" or "accept" or "pass" or "permit":
                action = IpFwAction.Allow;
                break;
            case "deny" or "drop":
                action = IpFwAction.Deny;
                break;
            case "reject":
                action = IpFwAction.Reject;
                arg = IcmpCode.UnreachHost; // "reject" is "unreach host"
                break;
            case "unreach":
                Need(av, i, "missing unreach code");
                action = IpFwAction.Reject;
                arg = UnreachCode(av[i++]);
                break;
            case "reset" or "abort":
                throw new IpfwException(EX_USAGE, $"{word}: TCP resets are not supported in Vimage yet");
            case "count":
                action = IpFwAction.Count;
                break;
            case "check-state":
                action = IpFwAction.CheckState;
                break;
            case "pipe" or "queue" or "skipto":
                action = word == "pipe" ? IpFwAction.Pipe : word == "queue" ? IpFwAction.Queue : IpFwAction.Skipto;
                Need(av, i, "missing argument");
                if (!int.TryParse(av[i], NumberStyles.None, CultureInfo.InvariantCulture, out arg) || arg < 1 || arg > 65535)
                {
                    throw new IpfwException(EX_DATAERR, $"illegal argument for {word}");
                }

                if (action == IpFwAction.Skipto && number != 0 && arg <= number)
                {
                    throw new IpfwException(EX_DATAERR, $"skipto: rule {arg} must be greater than {number}"); // ipfw_chk never jumps back
                }

                i++;
                break;
            default:
                throw new IpfwException(EX_DATAERR, $"invalid action {word}");
        }

        bool log = false;
        int logAmount = 0;
        if (i < av.Length && av[i] == "log")
        {
            log = true;
            i++;
            if (i < av.Length && av[i] == "logamount")
            {
                Need(av, i + 1, "logamount requires argument");
                if (!int.TryParse(av[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out logAmount))
                {
                    throw new IpfwException(EX_DATAERR, $"logamount must be positive");
                }

                i += 2;
            }
        }

        if (action == IpFwAction.CheckState)
        {
            if (i < av.Length && av[i].StartsWith(':'))
            {
                i++; // state name: one namespace here
            }

            if (i < av.Length)
            {
                throw new IpfwException(EX_USAGE, $"unrecognised option [-1] {av[i]}");
            }

            return new IpFwRule { Number = number, Action = action, Log = log, LogAmount = logAmount, Cmds = [] };
        }

        var body = new List<IpFwCmd>();
        Need(av, i, "missing protocol");
        int protoStart = body.Count;
        Block(av, ref i, body, ProtoCmd, IpFwOp.Proto);
        byte proto = body.Count == protoStart + 1 && !body[protoStart].Not ? (byte)body[protoStart].Value : (byte)0;
        if (i >= av.Length || av[i] != "from")
        {
            throw new IpfwException(EX_USAGE, "missing ``from''");
        }

        i++;
        Need(av, i, "missing source address");
        Block(av, ref i, body, w => AddressCmd(w, source: true, "bad source address"), IpFwOp.SrcAny);
        PortsAfterAddress(av, ref i, body, proto, source: true);
        if (i >= av.Length || av[i] != "to")
        {
            throw new IpfwException(EX_USAGE, "missing ``to''");
        }

        i++;
        Need(av, i, "missing dst address");
        Block(av, ref i, body, w => AddressCmd(w, source: false, "bad destination address"), IpFwOp.DstAny);
        PortsAfterAddress(av, ref i, body, proto, source: false);

        bool keepState = false;
        while (i < av.Length)
        {
            if (av[i] is "keep-state" or "record-state")
            {
                if (keepState)
                {
                    throw new IpfwException(EX_USAGE, "only one of keep-state and limit is allowed");
                }

                keepState = true;
                i++;
                if (i < av.Length && av[i].StartsWith(':'))
                {
                    i++; // state name (":default"): one namespace here
                }

                continue;
            }

            Block(av, ref i, body, null, IpFwOp.SrcAny, options: (av, proto));
        }

        return new IpFwRule
        {
            Number = number, Action = action, Argument = arg, Log = log, LogAmount = logAmount, Protocol = proto,
            KeepState = keepState, Cmds = [.. body],
        };
    }

    /// <summary>
    /// One item or an or-block of items (compile_rule's OR_START / OR_BLOCK / CLOSE_PAR): <c>[not] item</c>, or
    /// <c>{ [not] item or [not] item ... }</c> ("(" and ")" too; the opening brace may be glued to the first word).
    /// A glued <c>{a,b,c}</c> is an address list (a Vimage leniency for the common spelling).
    /// </summary>
    private static void Block(string[] av, ref int i, List<IpFwCmd> body, Func<string, IpFwCmd?>? item, IpFwOp anyOp,
        (string[] Av, byte Proto)? options = null)
    {
        string first = av[i];
        bool open = false;
        if (first.Length > 1 && first[0] == '{' && first[^1] == '}' && item is not null)
        {
            av[i] = first[1..^1]; // {a,b}: a list, not a block
        }
        else if (first is "{" or "(")
        {
            open = true;
            i++;
        }
        else if (first.Length > 1 && first[0] is '{' or '(')
        {
            open = true;
            av[i] = first[1..];
        }

        int blockStart = body.Count;
        while (true)
        {
            if (i >= av.Length)
            {
                throw new IpfwException(EX_USAGE, open ? "missing \")\"" : "missing argument");
            }

            bool not = false;
            while (i < av.Length && av[i] is "not" or "!")
            {
                not = !not;
                i++;
            }

            Need(av, i, "missing argument");
            if (av[i].Length > 1 && av[i][0] == '!')
            {
                not = !not;
                av[i] = av[i][1..];
            }

            IpFwCmd? cmd = item is not null ? item(av[i++]) : Option(options!.Value.Av, ref i, options.Value.Proto);
            if (cmd is not null)
            {
                body.Add(cmd.WithFlags(cmd.Not ^ not, or: false)); // "out" is O_IN with F_NOT already
            }
            else if (not || open)
            {
                // "any"/"ip" where an instruction is needed: negated or inside a block
                body.Add(new IpFwCmd { Op = anyOp, Not = not });
            }

            if (!open)
            {
                return;
            }

            if (i < av.Length && av[i] == "or")
            {
                if (body.Count == blockStart)
                {
                    throw new IpfwException(EX_DATAERR, "invalid OR block");
                }

                body[^1] = body[^1].WithFlags(body[^1].Not, or: true);
                i++;
                continue;
            }

            if (i < av.Length && av[i] is "}" or ")")
            {
                i++;
                return;
            }

            throw new IpfwException(EX_USAGE, "missing \")\"");
        }
    }

    private static IpFwCmd? ProtoCmd(string w) => w switch
    {
        "ip" or "all" => null,
        "icmp" => new IpFwCmd { Op = IpFwOp.Proto, Value = IpProto.Icmp },
        "udp" => new IpFwCmd { Op = IpFwOp.Proto, Value = IpProto.Udp },
        "tcp" => new IpFwCmd { Op = IpFwOp.Proto, Value = IpProto.Tcp },
        _ when byte.TryParse(w, NumberStyles.None, CultureInfo.InvariantCulture, out byte n) => n == 0 ? null : new IpFwCmd { Op = IpFwOp.Proto, Value = n },
        _ => throw new IpfwException(EX_DATAERR, $"invalid protocol ``{w}''"),
    };

    /// <summary>An option of compile_rule's second loop; null for none (consumed).</summary>
    private static IpFwCmd? Option(string[] av, ref int i, byte proto)
    {
        string opt = av[i++];
        switch (opt)
        {
            case "in":
                return new IpFwCmd { Op = IpFwOp.In };
            case "out":
                return new IpFwCmd { Op = IpFwOp.In, Not = true };
            case "via" or "recv" or "xmit":
                Need(av, i, "recv, xmit, via require interface name or address");
                return new IpFwCmd { Op = opt == "via" ? IpFwOp.Via : opt == "recv" ? IpFwOp.Recv : IpFwOp.Xmit, Interface = av[i++] };
            case "src-port" or "dst-port":
                Need(av, i, opt == "dst-port" ? "missing destination port" : "missing source port");
                return new IpFwCmd { Op = opt == "dst-port" ? IpFwOp.DstPort : IpFwOp.SrcPort, Ports = Ports(av[i++], proto, opt == "dst-port" ? "destination" : "source") };
            case "src-ip" or "dst-ip":
                Need(av, i, "missing argument");
                return AddressCmd(av[i++], opt == "src-ip", opt == "src-ip" ? "bad source address" : "bad destination address")
                    ?? new IpFwCmd { Op = opt == "src-ip" ? IpFwOp.SrcAny : IpFwOp.DstAny };
            case "proto":
                Need(av, i, "missing protocol");
                return ProtoCmd(av[i++]) ?? new IpFwCmd { Op = IpFwOp.Proto };
            case "icmptypes" or "icmptype":
                Need(av, i, "missing argument");
                return new IpFwCmd { Op = IpFwOp.IcmpTypes, Value = IcmpTypes(av[i++]) };
            default:
                return IpfwTcpOptions.Parse(opt, av, ref i) ?? throw new IpfwException(EX_USAGE, $"unrecognised option [-1] {opt}");
        }
    }

    /// <summary>fill_icmptypes: a comma list of types 0..31.</summary>
    private static uint IcmpTypes(string text)
    {
        uint bits = 0;
        foreach (string t in text.Split(','))
        {
            if (!int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out int type) || type > 31)
            {
                throw new IpfwException(EX_DATAERR, $"ICMP type out of range {t}");
            }

            bits |= 1u << type;
        }

        return bits;
    }

    /// <summary>After an address: "any" (no port test) or a port list, as compile_rule reads them.</summary>
    private static void PortsAfterAddress(string[] av, ref int i, List<IpFwCmd> body, byte proto, bool source)
    {
        if (i < av.Length && av[i] == "any")
        {
            i++;
        }
        else if (i < av.Length && IsPortList(av[i]))
        {
            body.Add(new IpFwCmd { Op = source ? IpFwOp.SrcPort : IpFwOp.DstPort, Ports = Ports(av[i++], proto, source ? "source" : "destination") });
        }
    }

    private static void Need(string[] av, int i, string message)
    {
        if (i >= av.Length)
        {
            throw new IpfwException(EX_USAGE, message);
        }
    }

    /// <summary>
    /// fill_ip: any, me, table(N[,value]), or a comma list of a.b.c.d[/len|:mask]. Null for "any" (no instruction).
    /// </summary>
    private static IpFwCmd? AddressCmd(string text, bool source, string error)
    {
        switch (text)
        {
            case "any":
                return null;
            case "me":
                return new IpFwCmd { Op = source ? IpFwOp.SrcMe : IpFwOp.DstMe };
        }

        if (text.StartsWith("table(", StringComparison.Ordinal) && text.EndsWith(')'))
        {
            string[] parts = text[6..^1].Split(',');
            if (parts.Length > 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int table) || table >= IpFwTables.Max)
            {
                throw new IpfwException(EX_DATAERR, $"Invalid table name: {text[6..^1]}");
            }

            ushort? value = null;
            if (parts.Length == 2)
            {
                value = ushort.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out ushort v)
                    ? v : throw new IpfwException(EX_DATAERR, $"Invalid table value: {parts[1]}");
            }

            return new IpFwCmd
            {
                Op = source ? IpFwOp.SrcTable : IpFwOp.DstTable, Value = (uint)table,
                Ports = value is { } tv ? [new IpFwPortRange(tv, tv)] : null,
            };
        }

        string[] items = text.Split(',');
        var addresses = new uint[items.Length];
        var masks = new uint[items.Length];
        for (int k = 0; k < items.Length; k++)
        {
            (addresses[k], masks[k]) = OneAddress(items[k], text, error);
        }

        return IpFwCmd.MaskList(source, addresses, masks);
    }

    private static (uint Address, uint Mask) OneAddress(string item, string text, string error)
    {
        int cut = item.IndexOfAny(['/', ':']);
        string host = cut < 0 ? item : item[..cut];
        if (!InAddr.TryParse(host, out InAddr address) || host.Count(c => c == '.') != 3)
        {
            // fill_ip: a name that is not an address is looked up, and an unknown host is fatal
            if (host.Length > 0 && !char.IsAsciiDigit(host[0]))
            {
                throw new IpfwException(EX_NOHOST, $"hostname ``{host}'' unknown");
            }

            throw new IpfwException(EX_USAGE, $"{error} {text}");
        }

        if (cut < 0)
        {
            return (address.Value, 0xffffffff);
        }

        string rest = item[(cut + 1)..];
        if (item[cut] == ':')
        {
            if (!InAddr.TryParse(rest, out InAddr mask) || rest.Count(c => c == '.') != 3)
            {
                throw new IpfwException(EX_DATAERR, $"bad netmask ``{rest}''");
            }

            return (address.Value, mask.Value);
        }

        if (!int.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out int len) || len > 32)
        {
            throw new IpfwException(EX_DATAERR, $"bad width ``{rest}''");
        }

        return (address.Value, IpFwTable.MaskOf(len));
    }

    private static bool IsPortList(string s) => s.Length > 0 && char.IsAsciiDigit(s[0]);

    private static IpFwPortRange[] Ports(string text, byte proto, string which)
    {
        if (!IpFwPacket.CarriesPorts(proto))
        {
            // add_ports refuses ports for a protocol without them
            throw new IpfwException(EX_USAGE, $"unrecognised option [-1] {text}");
        }

        return Ranges(text, $"invalid {which} port");
    }

    /// <summary>A comma list of N or N-M (add_ports without names); anything else is "<paramref name="error"/> text".</summary>
    internal static IpFwPortRange[] Ranges(string text, string error)
    {
        var ranges = new List<IpFwPortRange>();
        foreach (string part in text.Split(','))
        {
            string[] ends = part.Split('-');
            if (ends.Length > 2 || !ushort.TryParse(ends[0], NumberStyles.None, CultureInfo.InvariantCulture, out ushort low))
            {
                throw new IpfwException(EX_DATAERR, $"{error} {text}");
            }

            ushort high = low;
            if (ends.Length == 2 && (!ushort.TryParse(ends[1], NumberStyles.None, CultureInfo.InvariantCulture, out high) || high < low))
            {
                throw new IpfwException(EX_DATAERR, $"{error} {text}");
            }

            ranges.Add(new IpFwPortRange(low, high));
        }

        return [.. ranges];
    }

    /// <summary>show_static_rule's body: action, log, proto, from, to, options, with "not" and "{ a or b }".</summary>
    public static string Format(IpFwRule r)
    {
        var s = new System.Text.StringBuilder();
        s.Append(r.Action switch
        {
            IpFwAction.Allow => "allow",
            IpFwAction.Deny => "deny",
            IpFwAction.Reject when r.Argument == IcmpCode.UnreachHost => "reject",
            IpFwAction.Reject => "unreach " + UnreachName(r.Argument),
            IpFwAction.Count => "count",
            IpFwAction.CheckState => "check-state :default",
            IpFwAction.Pipe => $"pipe {r.Argument}",
            IpFwAction.Queue => $"queue {r.Argument}",
            _ => $"skipto {r.Argument}",
        });
        if (r.Log)
        {
            s.Append(r.LogAmount != 0 ? $" log logamount {r.LogAmount}" : " log");
        }

        if (r.Action == IpFwAction.CheckState)
        {
            return s.ToString();
        }

        IpFwCmd[] body = r.Body;
        s.Append(' ').Append(Section(body, c => c.Op == IpFwOp.Proto) ?? "ip");
        s.Append(" from ").Append(Section(body, c => c.Op is IpFwOp.SrcMask or IpFwOp.SrcMe or IpFwOp.SrcTable or IpFwOp.SrcAny) ?? "any");
        PortsOf(s, body, IpFwOp.SrcPort);
        s.Append(" to ").Append(Section(body, c => c.Op is IpFwOp.DstMask or IpFwOp.DstMe or IpFwOp.DstTable or IpFwOp.DstAny) ?? "any");
        PortsOf(s, body, IpFwOp.DstPort);
        if (Section(body, c => c.Op is IpFwOp.In or IpFwOp.Via or IpFwOp.Recv or IpFwOp.Xmit or IpFwOp.IcmpTypes || IpfwTcpOptions.Handles(c.Op)) is { } options)
        {
            s.Append(' ').Append(options);
        }

        if (r.KeepState)
        {
            s.Append(" keep-state :default");
        }

        return s.ToString();
    }

    /// <summary>The instructions selected by <paramref name="pick"/>, in order, blocks as "{ a or b }"; null when none.</summary>
    private static string? Section(IpFwCmd[] body, Func<IpFwCmd, bool> pick)
    {
        var words = new List<string>();
        bool inBlock = false;
        foreach (IpFwCmd c in body)
        {
            if (!pick(c))
            {
                continue;
            }

            if (c.Or && !inBlock)
            {
                words.Add("{");
                inBlock = true;
            }

            if (c.Not && c.Op != IpFwOp.In)
            {
                words.Add("not");
            }

            words.Add(Item(c));
            if (c.Or)
            {
                words.Add("or");
            }
            else if (inBlock)
            {
                words.Add("}");
                inBlock = false;
            }
        }

        return words.Count == 0 ? null : string.Join(' ', words);
    }

    private static string Item(IpFwCmd c) => c.Op switch
    {
        IpFwOp.Proto => c.Value switch { 0 => "ip", 1 => "icmp", 6 => "tcp", 17 => "udp", _ => c.Value.ToString(CultureInfo.InvariantCulture) },
        IpFwOp.SrcAny or IpFwOp.DstAny => "any",
        IpFwOp.SrcMe or IpFwOp.DstMe => "me",
        IpFwOp.SrcTable or IpFwOp.DstTable => c.Ports is { } v ? $"table({c.Value},{v[0].Low})" : $"table({c.Value})",
        IpFwOp.SrcMask or IpFwOp.DstMask => MaskList(c),
        IpFwOp.In => c.Not ? "out" : "in",
        IpFwOp.Via => $"via {c.Interface}",
        IpFwOp.Recv => $"recv {c.Interface}",
        IpFwOp.Xmit => $"xmit {c.Interface}",
        IpFwOp.IcmpTypes => "icmptypes " + string.Join(',', Enumerable.Range(0, 32).Where(t => (c.Value & (1u << t)) != 0)),
        _ => IpfwTcpOptions.Format(c),
    };

    private static string MaskList(IpFwCmd c)
    {
        var parts = new string[c.Addresses!.Length];
        for (int k = 0; k < parts.Length; k++)
        {
            uint mask = c.Masks![k];
            int len = System.Numerics.BitOperations.PopCount(mask);
            string a = new InAddr(c.Addresses[k]).ToString();
            parts[k] = mask == 0xffffffff ? a : IpFwTable.MaskOf(len) == mask ? $"{a}/{len}" : $"{a}:{new InAddr(mask)}";
        }

        return string.Join(',', parts);
    }

    private static void PortsOf(System.Text.StringBuilder s, IpFwCmd[] body, IpFwOp op)
    {
        foreach (IpFwCmd c in body)
        {
            if (c.Op == op)
            {
                s.Append(c.Not ? " not " : " ");
                for (int k = 0; k < c.Ports!.Length; k++)
                {
                    s.Append(k == 0 ? "" : ",").Append(c.Ports[k].ToString());
                }
            }
        }
    }

    /// <summary>icmpcodes of ipfw2.c, for unreach CODE.</summary>
    private static readonly string[] UnreachCodes =
    [
        "net", "host", "protocol", "port", "needfrag", "srcfail", "net-unknown", "host-unknown", "isolated",
        "net-prohib", "host-prohib", "tosnet", "toshost", "filter-prohib", "host-precedence", "precedence-cutoff",
    ];

    private static string UnreachName(int code) => code < UnreachCodes.Length ? UnreachCodes[code] : code.ToString(CultureInfo.InvariantCulture);

    /// <summary>get_reject_code: a name, or a number (strtoul: leading digits, garbage is 0); above 255 is an error.</summary>
    private static int UnreachCode(string s)
    {
        int named = Array.IndexOf(UnreachCodes, s);
        if (named >= 0)
        {
            return named;
        }

        int digits = 0;
        while (digits < s.Length && char.IsAsciiDigit(s[digits]))
        {
            digits++;
        }

        if (!long.TryParse(s.AsSpan(0, digits), NumberStyles.None, CultureInfo.InvariantCulture, out long v))
        {
            v = 0;
        }

        return v > 255 ? throw new IpfwException(EX_DATAERR, $"unknown ICMP unreachable code ``{s}''") : (int)v;
    }
}
