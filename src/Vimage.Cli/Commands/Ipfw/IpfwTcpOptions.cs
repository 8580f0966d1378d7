using System.Globalization;
using Vimage.Net.Ipfw;
using static Vimage.Cli.Commands.Ipfw.IpfwException;

namespace Vimage.Cli.Commands.Ipfw;

/// <summary>
/// compile_rule's TCP and IP header options (sbin/ipfw/ipfw2.c): setup, established, tcpflags, tcpoptions, tcpseq,
/// tcpack, tcpwin, iplen, ipttl, iptos, with fill_flags' "[!]name,..." lists, and print_flags / print_newports to
/// show them back.
/// </summary>
internal static class IpfwTcpOptions
{
    private const uint TH_FIN = 0x01, TH_SYN = 0x02, TH_RST = 0x04, TH_PUSH = 0x08, TH_ACK = 0x10, TH_URG = 0x20;

    /// <summary>f_tcpflags, in print order.</summary>
    private static readonly (string Name, uint Bit)[] TcpFlags =
        [("syn", TH_SYN), ("fin", TH_FIN), ("ack", TH_ACK), ("psh", TH_PUSH), ("rst", TH_RST), ("urg", TH_URG)];

    /// <summary>f_tcpopts.</summary>
    private static readonly (string Name, uint Bit)[] TcpOpts =
    [
        ("mss", IpFwTcp.OptMss), ("maxseg", IpFwTcp.OptMss), ("window", IpFwTcp.OptWindow), ("sack", IpFwTcp.OptSack),
        ("ts", IpFwTcp.OptTs), ("timestamp", IpFwTcp.OptTs), ("cc", IpFwTcp.OptCc),
    ];

    /// <summary>f_iptos (IPTOS_LOWDELAY ... IPTOS_ECN_CE, IPTOS_ECN_ECT0; the last two overlap mincost as in FreeBSD).</summary>
    private static readonly (string Name, uint Bit)[] IpTos =
        [("lowdelay", 0x10), ("throughput", 0x08), ("reliability", 0x04), ("mincost", 0x02), ("congestion", 0x03), ("ecntransport", 0x02)];

    public static bool Handles(IpFwOp op) => op is IpFwOp.Estab or IpFwOp.TcpFlags or IpFwOp.TcpOpts or IpFwOp.TcpSeq
        or IpFwOp.TcpAck or IpFwOp.TcpWin or IpFwOp.IpLen or IpFwOp.IpTtl or IpFwOp.IpTos;

    /// <summary>The instruction for option <paramref name="opt"/> (its argument at av[i], consumed); null when not one of these.</summary>
    public static IpFwCmd? Parse(string opt, string[] av, ref int i)
    {
        switch (opt)
        {
            case "established" or "estab":
                return new IpFwCmd { Op = IpFwOp.Estab };
            case "setup":
                return new IpFwCmd { Op = IpFwOp.TcpFlags, Value = TH_SYN | (TH_ACK << 8) };
            case "tcpflags" or "tcpflgs":
                return new IpFwCmd { Op = IpFwOp.TcpFlags, Value = Flags(TcpFlags, Arg(av, ref i, "missing argument for tcpflags")) };
            case "tcpoptions" or "tcpopts":
                return new IpFwCmd { Op = IpFwOp.TcpOpts, Value = Flags(TcpOpts, Arg(av, ref i, "missing argument for tcpoptions")) };
            case "iptos":
                return new IpFwCmd { Op = IpFwOp.IpTos, Value = Flags(IpTos, Arg(av, ref i, "missing argument for iptos")) };
            case "tcpseq" or "tcpack":
                return new IpFwCmd
                {
                    Op = opt == "tcpseq" ? IpFwOp.TcpSeq : IpFwOp.TcpAck,
                    Value = (uint)StrToUl(Arg(av, ref i, "tcpseq/tcpack requires argument")),
                };
            case "tcpwin":
                return Ranged(IpFwOp.TcpWin, Arg(av, ref i, "tcpwin requires length"), "invalid tcpwin len");
            case "iplen":
                return Ranged(IpFwOp.IpLen, Arg(av, ref i, "iplen requires length"), "invalid ip len");
            case "ipttl":
                return Ranged(IpFwOp.IpTtl, Arg(av, ref i, "ipttl requires TTL"), "invalid ipttl");
            default:
                return null;
        }
    }

    public static string Format(IpFwCmd c) => c.Op switch
    {
        IpFwOp.Estab => "established",
        IpFwOp.TcpFlags when c.Value == (TH_SYN | (TH_ACK << 8)) => "setup",
        IpFwOp.TcpFlags => "tcpflags " + FlagsText(TcpFlags, c.Value),
        IpFwOp.TcpOpts => "tcpoptions " + FlagsText(TcpOpts, c.Value),
        IpFwOp.IpTos => "iptos " + FlagsText(IpTos, c.Value),
        IpFwOp.TcpSeq => $"tcpseq {(int)c.Value}", // ipfw prints them with %d
        IpFwOp.TcpAck => $"tcpack {(int)c.Value}",
        IpFwOp.TcpWin => "tcpwin " + ValueText(c),
        IpFwOp.IpLen => "iplen " + ValueText(c),
        IpFwOp.IpTtl => "ipttl " + ValueText(c),
        _ => "?",
    };

    private static string Arg(string[] av, ref int i, string missing)
    {
        if (i >= av.Length)
        {
            throw new IpfwException(EX_USAGE, missing); // NEED1
        }

        return av[i++];
    }

    /// <summary>fill_flags_cmd: a comma list of names, "!" before one wants it clear; arg1 = set | clear &lt;&lt; 8.</summary>
    private static uint Flags((string Name, uint Bit)[] table, string text)
    {
        uint set = 0, clear = 0;
        foreach (string part in text.Split(','))
        {
            bool not = part.StartsWith('!');
            string name = not ? part[1..] : part;
            int k = Array.FindIndex(table, e => e.Name == name);
            if (k < 0)
            {
                throw new IpfwException(EX_DATAERR, $"invalid flag {name}");
            }

            if (not)
            {
                clear |= table[k].Bit;
            }
            else
            {
                set |= table[k].Bit;
            }
        }

        return (set & 0xff) | ((clear & 0xff) << 8);
    }

    /// <summary>print_flags: each table entry once, set ones plain and clear ones with "!", bits taken off as printed.</summary>
    private static string FlagsText((string Name, uint Bit)[] table, uint arg1)
    {
        uint set = arg1 & 0xff, clear = (arg1 >> 8) & 0xff;
        var words = new List<string>();
        foreach ((string name, uint bit) in table)
        {
            if ((set & bit) != 0)
            {
                set &= ~bit;
                words.Add(name);
            }

            if ((clear & bit) != 0)
            {
                clear &= ~bit;
                words.Add("!" + name);
            }
        }

        return string.Join(',', words);
    }

    /// <summary>A single value (strtoul, base 0) or, with "-" or ",", a list of ranges as add_ports reads them.</summary>
    private static IpFwCmd Ranged(IpFwOp op, string text, string invalid)
    {
        if (text.IndexOfAny(['-', ',']) < 0)
        {
            return new IpFwCmd { Op = op, Value = (uint)(StrToUl(text) & 0xffff) };
        }

        return new IpFwCmd { Op = op, Ports = IpfwRuleParser.Ranges(text, invalid) };
    }

    private static string ValueText(IpFwCmd c) => c.Ports is { } r ? string.Join(',', r.Select(x => x.ToString())) : c.Value.ToString(CultureInfo.InvariantCulture);

    /// <summary>strtoul(s, NULL, 0): 0x hex, leading 0 octal, else decimal; the leading digits only, none is 0.</summary>
    private static ulong StrToUl(string s)
    {
        int b = 10, k = 0;
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            b = 16;
            k = 2;
        }
        else if (s.StartsWith('0'))
        {
            b = 8;
        }

        ulong v = 0;
        for (; k < s.Length; k++)
        {
            int d = char.IsAsciiDigit(s[k]) ? s[k] - '0' : char.IsAsciiHexDigit(s[k]) ? (char.ToLowerInvariant(s[k]) - 'a' + 10) : 99;
            if (d >= b)
            {
                break;
            }

            v = Math.Min(uint.MaxValue, (v * (ulong)b) + (ulong)d); // ULONG_MAX saturates; the field keeps 32 bits
        }

        return v;
    }
}
