using System.Globalization;
using System.Text;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;
using Vimage.Net.Udp;

namespace Vimage.Cli.Commands;

/// <summary>
/// sockstat(1) for the IPv4 sockets of the current vnet (usr.bin/sockstat/sockstat.c: display, displaysock,
/// printaddr). Vimage sockets belong to no process, so USER, COMMAND, PID and FD print as "?" as sockstat does for
/// sockets no file refers to. -4 (the only family), -c connected (foreign port set), -l listening (foreign port
/// unset; both by default), -n, -q (no header), -s (CONN STATE), -w (wide address columns), -p ports (a,b-c), -P
/// protocols (tcp,udp). Rows: TCP then UDP, sorted by local then foreign end.
/// </summary>
public sealed class SockstatCommand : ICommand
{
    public string Name => "sockstat";

    public string Usage => "sockstat [-46cLlnqSsUuw] [-j jid] [-p ports] [-P protocols]";

    /// <summary>FreeBSD 14 sockstat's getopt string.</summary>
    public const string Optstring = "46ACcfIij:Llnp:P:qSsUuvw";

    public int Run(CommandContext context, string[] args)
    {
        bool connected = false, listening = false, quiet = false, state = false, wide = false;
        bool tcp = true, udp = true;
        List<(int Lo, int Hi)>? ports = null;
        var getopt = new Getopt("sockstat", args, Optstring);
        for (int flag; (flag = getopt.Next()) != -1;)
        {
            switch (flag)
            {
                case '4':
                case 'n':
                    break;
                case 'c':
                    connected = true;
                    break;
                case 'l':
                    listening = true;
                    break;
                case 'q':
                    quiet = true;
                    break;
                case 's':
                    state = true;
                    break;
                case 'w':
                    wide = true;
                    break;
                case 'p':
                    ports = ParsePorts(getopt.Optarg!);
                    break;
                case 'P':
                    (tcp, udp) = ParseProtocols(getopt.Optarg!);
                    break;
                case '6':
                    throw Unsupported.Option("sockstat", flag, "IPv6 is not supported in Vimage");
                case 'u':
                    throw Unsupported.Option("sockstat", flag, "Vimage has no Unix domain sockets");
                default:
                    throw Unsupported.Option("sockstat", flag, "not supported in Vimage");
            }
        }

        if (getopt.Optind < args.Length)
        {
            throw new UsageException($"sockstat: {args[getopt.Optind]}: unexpected argument");
        }

        if (!connected && !listening)
        {
            connected = listening = true;
        }

        int col = wide ? 46 : 22;
        if (!quiet)
        {
            string header = string.Format(CultureInfo.InvariantCulture, "{0,-8} {1,-10} {2,-5} {3,-2} {4,-6} {5} {6}", "USER", "COMMAND", "PID", "FD", "PROTO",
                "LOCAL ADDRESS".PadRight(col - 1), "FOREIGN ADDRESS".PadRight(col - 1));
            context.Out.WriteLine(state ? header + " " + "CONN STATE".PadRight(12) : header);
        }

        var rows = new List<(PcbEnds Ends, string Proto, string? State)>();
        if (tcp)
        {
            XTcpcb[] list = Tcp.PcbList(context.Vnet);
            foreach (XTcpcb t in list)
            {
                rows.Add((t.Ends, "tcp4", TcpFsm.Name(t.State)));
            }
        }

        if (udp)
        {
            foreach (XInpcb u in Udp.PcbList(context.Vnet))
            {
                rows.Add((u.Ends, "udp4", null));
            }
        }

        rows.Sort((x, y) => x.Proto != y.Proto ? string.CompareOrdinal(x.Proto, y.Proto)
            : x.Ends.Local != y.Ends.Local ? x.Ends.Local.CompareTo(y.Ends.Local)
            : x.Ends.LocalPort != y.Ends.LocalPort ? x.Ends.LocalPort.CompareTo(y.Ends.LocalPort)
            : x.Ends.Foreign != y.Ends.Foreign ? x.Ends.Foreign.CompareTo(y.Ends.Foreign)
            : x.Ends.ForeignPort.CompareTo(y.Ends.ForeignPort));
        foreach ((PcbEnds e, string proto, string? st) in rows)
        {
            bool isConnected = e.ForeignPort != 0;
            if ((isConnected && !connected) || (!isConnected && !listening) || !MatchesPorts(ports, e))
            {
                continue;
            }

            // display(): "?" for the owner, then displaysock() from column 29: proto, addresses at 36 and 36 + 22.
            var line = new StringBuilder("?        ?          ?     ?  ");
            line.Append(proto);
            Pad(line, 36);
            line.Append(NetstatSockets.Address(e.Local, e.LocalPort, ':'));
            Pad(line, 36 + col);
            line.Append(NetstatSockets.Address(e.Foreign, e.ForeignPort, ':'));
            if (state && st is not null)
            {
                Pad(line, 36 + (2 * col));
                line.Append(st);
            }

            context.Out.WriteLine(line.ToString());
        }

        return 0;
    }

    private static void Pad(StringBuilder line, int column)
    {
        while (line.Length < column)
        {
            line.Append(' ');
        }
    }

    private static bool MatchesPorts(List<(int Lo, int Hi)>? ports, PcbEnds e)
    {
        if (ports is null)
        {
            return true;
        }

        foreach ((int lo, int hi) in ports)
        {
            if ((e.LocalPort >= lo && e.LocalPort <= hi) || (e.ForeignPort >= lo && e.ForeignPort <= hi))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>parse_ports: "22,80,6000-6010"; a bad one is sockstat's "syntax error in port range".</summary>
    private static List<(int, int)> ParsePorts(string text)
    {
        var list = new List<(int, int)>();
        foreach (string part in text.Split(','))
        {
            string[] range = part.Split('-');
            if (range.Length is < 1 or > 2 || !ushort.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out ushort lo))
            {
                throw new CommandException($"sockstat: syntax error in port range: {part}");
            }

            ushort hi = lo;
            if (range.Length == 2 && (!ushort.TryParse(range[1], NumberStyles.None, CultureInfo.InvariantCulture, out hi) || hi < lo))
            {
                throw new CommandException($"sockstat: syntax error in port range: {part}");
            }

            list.Add((lo, hi));
        }

        return list;
    }

    /// <summary>parse_protos: a comma-separated list of protocol names.</summary>
    private static (bool Tcp, bool Udp) ParseProtocols(string text)
    {
        bool tcp = false, udp = false;
        foreach (string p in text.Split(','))
        {
            switch (p)
            {
                case "tcp":
                    tcp = true;
                    break;
                case "udp":
                    udp = true;
                    break;
                default:
                    throw new CommandException($"sockstat: unrecognized protocol: {p}");
            }
        }

        return (tcp, udp);
    }
}
