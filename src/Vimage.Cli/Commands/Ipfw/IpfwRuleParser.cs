using System.Globalization;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using static Vimage.Cli.Commands.Ipfw.IpfwException;

namespace Vimage.Cli.Commands.Ipfw;

/// <summary>
/// compile_rule (sbin/ipfw/ipfw2.c) for the subset: [N] action [log [logamount L]] proto from SRC [PORTS] to DST
/// [PORTS] [in|out] [via|recv|xmit IF] [keep-state]. Builds the whole rule or throws with ipfw's message and
/// exit code, so nothing is half-applied.
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
                break;
            case "unreach":
                Need(av, i, "missing unreach code");
                if (av[i] != "host")
                {
                    throw new IpfwException(EX_DATAERR, $"invalid ICMP unreachable code ``{av[i]}''"); // subset: host only
                }

                i++;
                action = IpFwAction.UnreachHost;
                break;
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
            if (i < av.Length)
            {
                throw new IpfwException(EX_USAGE, $"unrecognised option [-1] {av[i]}");
            }

            return new IpFwRule { Number = number, Action = action, Log = log, LogAmount = logAmount };
        }

        Need(av, i, "missing protocol");
        byte proto = av[i] switch
        {
            "ip" or "all" => 0,
            "icmp" => IpProto.Icmp,
            "udp" => IpProto.Udp,
            "tcp" => IpProto.Tcp,
            _ when byte.TryParse(av[i], NumberStyles.None, CultureInfo.InvariantCulture, out byte n) => n,
            _ => throw new IpfwException(EX_DATAERR, $"invalid protocol ``{av[i]}''"),
        };
        i++;
        if (i >= av.Length || av[i] != "from")
        {
            throw new IpfwException(EX_USAGE, "missing ``from''");
        }

        i++;
        Need(av, i, "missing source address");
        IpFwAddr src = Address(av[i++], "bad source address");
        IpFwPortRange[]? srcPorts = null;
        if (i < av.Length && av[i] == "any")
        {
            i++; // "any" port: consumed, as compile_rule does
        }
        else if (i < av.Length && IsPortList(av[i]))
        {
            srcPorts = Ports(av[i++], proto, "source");
        }

        if (i >= av.Length || av[i] != "to")
        {
            throw new IpfwException(EX_USAGE, "missing ``to''");
        }

        i++;
        Need(av, i, "missing dst address");
        IpFwAddr dst = Address(av[i++], "bad destination address");
        IpFwPortRange[]? dstPorts = null;
        if (i < av.Length && av[i] == "any")
        {
            i++;
        }
        else if (i < av.Length && IsPortList(av[i]))
        {
            dstPorts = Ports(av[i++], proto, "destination");
        }

        var dir = IpFwDir.Any;
        var via = IpFwVia.None;
        string? ifname = null;
        bool keepState = false;
        while (i < av.Length)
        {
            string opt = av[i++];
            switch (opt)
            {
                case "in":
                    dir = IpFwDir.In;
                    break;
                case "out":
                    dir = IpFwDir.Out;
                    break;
                case "via" or "recv" or "xmit":
                    Need(av, i, "recv, xmit, via require interface name or address");
                    via = opt == "via" ? IpFwVia.Via : opt == "recv" ? IpFwVia.Recv : IpFwVia.Xmit;
                    ifname = av[i++];
                    break;
                case "keep-state":
                    if (keepState)
                    {
                        throw new IpfwException(EX_USAGE, "only one of keep-state and limit is allowed");
                    }

                    keepState = true;
                    if (i < av.Length && av[i].StartsWith(':'))
                    {
                        i++; // state name (":default"): one namespace here
                    }

                    break;
                case "dst-port" or "src-port":
                    Need(av, i, opt == "dst-port" ? "missing destination port" : "missing source port");
                    if (opt == "dst-port")
                    {
                        dstPorts = Ports(av[i++], proto, "destination");
                    }
                    else
                    {
                        srcPorts = Ports(av[i++], proto, "source");
                    }

                    break;
                default:
                    throw new IpfwException(EX_USAGE, $"unrecognised option [-1] {opt}");
            }
        }

        return new IpFwRule
        {
            Number = number, Action = action, Argument = arg, Log = log, LogAmount = logAmount, Protocol = proto,
            Source = src, Destination = dst, SourcePorts = srcPorts, DestinationPorts = dstPorts, Direction = dir, Via = via,
            Interface = ifname, KeepState = keepState,
        };
    }

    private static void Need(string[] av, int i, string message)
    {
        if (i >= av.Length)
        {
            throw new IpfwException(EX_USAGE, message);
        }
    }

    private static IpFwAddr Address(string text, string error)
    {
        if (text == "any")
        {
            return IpFwAddr.Any;
        }

        if (text == "me")
        {
            return IpFwAddr.Me;
        }

        int slash = text.IndexOf('/', StringComparison.Ordinal);
        string host = slash < 0 ? text : text[..slash];
        if (!InAddr.TryParse(host, out InAddr address) || host.Count(c => c == '.') != 3)
        {
            // add_src/add_dst fail, then fill_ip's lookup: a name that is not an address is an unknown host
            if (host.Length > 0 && !char.IsAsciiDigit(host[0]))
            {
                throw new IpfwException(EX_NOHOST, $"hostname ``{host}'' unknown");
            }

            throw new IpfwException(EX_USAGE, $"{error} {text}");
        }

        int len = 32;
        if (slash >= 0 && (!int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out len) || len > 32))
        {
            throw new IpfwException(EX_DATAERR, $"bad width ``{text[(slash + 1)..]}''");
        }

        return IpFwAddr.Net(address.Value, len);
    }

    private static bool IsPortList(string s) => s.Length > 0 && char.IsAsciiDigit(s[0]);

    private static IpFwPortRange[] Ports(string text, byte proto, string which)
    {
        if (!IpFwPacket.CarriesPorts(proto))
        {
            // add_ports refuses ports for a protocol without them
            throw new IpfwException(EX_USAGE, $"unrecognised option [-1] {text}");
        }

        var ranges = new List<IpFwPortRange>();
        foreach (string part in text.Split(','))
        {
            string[] ends = part.Split('-');
            if (ends.Length > 2 || !ushort.TryParse(ends[0], NumberStyles.None, CultureInfo.InvariantCulture, out ushort low))
            {
                throw new IpfwException(EX_DATAERR, $"invalid {which} port {text}");
            }

            ushort high = low;
            if (ends.Length == 2 && (!ushort.TryParse(ends[1], NumberStyles.None, CultureInfo.InvariantCulture, out high) || high < low))
            {
                throw new IpfwException(EX_DATAERR, $"invalid {which} port {text}");
            }

            ranges.Add(new IpFwPortRange(low, high));
        }

        return [.. ranges];
    }

    /// <summary>show_ipfw's body: the rule as ipfw prints it (action, log, proto, from, to, options).</summary>
    public static string Format(IpFwRule r)
    {
        var s = new System.Text.StringBuilder();
        s.Append(r.Action switch
        {
            IpFwAction.Allow => "allow",
            IpFwAction.Deny => "deny",
            IpFwAction.Reject or IpFwAction.UnreachHost => "reject",
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

        s.Append(' ').Append(r.Protocol switch { 0 => "ip", 1 => "icmp", 6 => "tcp", 17 => "udp", _ => r.Protocol.ToString(CultureInfo.InvariantCulture) });
        s.Append(" from ").Append(Addr(r.Source));
        AppendPorts(s, r.SourcePorts);
        s.Append(" to ").Append(Addr(r.Destination));
        AppendPorts(s, r.DestinationPorts);
        if (r.Direction != IpFwDir.Any)
        {
            s.Append(r.Direction == IpFwDir.In ? " in" : " out");
        }

        if (r.Via != IpFwVia.None)
        {
            s.Append(r.Via switch { IpFwVia.Recv => " recv ", IpFwVia.Xmit => " xmit ", _ => " via " }).Append(r.Interface);
        }

        if (r.KeepState)
        {
            s.Append(" keep-state :default");
        }

        return s.ToString();
    }

    private static string Addr(IpFwAddr a) => a.Kind switch
    {
        IpFwAddrKind.Any => "any",
        IpFwAddrKind.Me => "me",
        _ => a.Mask == 0xffffffff ? new InAddr(a.Address).ToString() : $"{new InAddr(a.Address)}/{a.PrefixLength}",
    };

    private static void AppendPorts(System.Text.StringBuilder s, IpFwPortRange[]? ports)
    {
        if (ports is null)
        {
            return;
        }

        s.Append(' ');
        for (int k = 0; k < ports.Length; k++)
        {
            s.Append(k == 0 ? "" : ",").Append(ports[k].ToString());
        }
    }
}
