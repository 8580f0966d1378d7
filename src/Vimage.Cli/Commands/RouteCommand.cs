using System.Globalization;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Cli.Commands;

/// <summary>
/// route(8) for IPv4: add, change, delete, get (show), flush, monitor, with route.c's modifiers (newroute's keyword
/// table) and messages. Options are main()'s getopt "46nqdtvj:"; -j J applies every other option in J.
/// </summary>
public sealed partial class RouteCommand : ICommand
{
    public string Name => "route";

    public string Usage => "route [-j jail] [-46dnqtv] command [[modifiers] args]";

    /// <summary>route's usage(): "route: bad keyword: X" (when X is given) then the usage line, exit 64.</summary>
    private static UsageException BadKeyword(string? keyword)
        => new(keyword is null ? "" : $"route: bad keyword: {keyword}");

    private sealed class Flags
    {
        public bool Quiet;
        public bool Verbose;
        public bool TestOnly;
        public bool DebugOnly;
    }

    /// <summary>route.c's usage() is errx(EX_USAGE, "usage: ..."): the line carries the "route: " prefix.</summary>
    public int Run(CommandContext context, string[] args)
    {
        try
        {
            return RunOptions(context, args);
        }
        catch (UsageException e)
        {
            string warning = e.Message.Length > 0 ? e.Message + "\n" : "";
            throw new CommandException(warning + "route: usage: " + Usage, CommandDispatcher.ExitUsage);
        }
    }

    private int RunOptions(CommandContext context, string[] args)
    {
        var flags = new Flags();
        string? jailName = null;
        var getopt = new Getopt("route", args, "46nqdtvj:");
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            switch (ch)
            {
                case 'n':
                case '4':
                    break;
                case 'q':
                    flags.Quiet = true;
                    break;
                case 'v':
                    flags.Verbose = true;
                    break;
                case 't':
                    flags.TestOnly = true;
                    break;
                case 'd':
                    flags.DebugOnly = true;
                    break;
                case 'j':
                    jailName = getopt.Optarg!;
                    break;
                default:
                    throw Unsupported.Option("route", ch, "IPv6 is not supported in Vimage");
            }
        }

        string[] rest = args[getopt.Optind..];
        if (jailName is not null)
        {
            // route -j J: the jail is entered once every option is parsed, so -q/-t/-v given before or after -j
            // all apply inside it (route.c parses all options, then jail_attach()).
            Jail jail = JexecCommand.FindOrFail(context, jailName, "route");
            using CommandContext jailed = context.In(jail);
            return Dispatch(jailed, rest, flags);
        }

        return Dispatch(context, rest, flags);
    }

    private static int Dispatch(CommandContext context, string[] rest, Flags flags)
    {
        if (rest.Length == 0)
        {
            throw BadKeyword(null);
        }

        string command = rest[0];
        using (Curvnet.Set(context.Vnet))
        {
            return command switch
            {
                "add" or "change" or "delete" or "del" => Change(context, command == "del" ? "delete" : command, rest, flags),
                "get" or "show" => Get(context, rest),
                "flush" => Flush(context, rest, flags),
                "monitor" => Monitor(context, rest),
                _ => throw BadKeyword(command),
            };
        }
    }

    /// <summary>The FIB numbers fiboptlist_csv accepts: below the vnet's net.fibs.</summary>
    private static int NumFibs() => Fibs.NumFibs;

    /// <summary>fiboptlist_csv: "N", "N,M", "N-M", "all", "default"; any FIB outside net.fibs is "invalid fib number".</summary>
    internal static List<int> ParseFibs(string text)
    {
        int numfibs = NumFibs();
        var fibs = new List<int>();
        if (text == "all")
        {
            fibs.AddRange(Enumerable.Range(0, numfibs));
            return fibs;
        }

        if (text == "default")
        {
            fibs.Add(Fibs.Current); // defaultfib: net.my_fibnum
            return fibs;
        }

        foreach (string token in text.Split(','))
        {
            int dash = token.IndexOf('-', 1 < token.Length ? 1 : 0);
            if (!token.StartsWith('-') && dash > 0)
            {
                if (!TryFib(token[..dash], numfibs, out int lo) || !TryFib(token[(dash + 1)..], numfibs, out int hi) || lo >= hi)
                {
                    throw new CommandException($"route: invalid fib number: {text}", CommandDispatcher.ExitUsage);
                }

                fibs.AddRange(Enumerable.Range(lo, hi - lo + 1));
            }
            else if (TryFib(token, numfibs, out int fib))
            {
                fibs.Add(fib);
            }
            else
            {
                throw new CommandException($"route: invalid fib number: {text}", CommandDispatcher.ExitUsage);
            }
        }

        return fibs;
    }

    private static bool TryFib(string text, int numfibs, out int fib)
        => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out fib) && fib < numfibs;

    private static string Value(string[] args, ref int j)
    {
        if (j + 1 >= args.Length)
        {
            throw BadKeyword(null);
        }

        return args[++j];
    }

    /// <summary>
    /// newroute(): modifiers are "-keyword" (route.c's keyword table); the first plain word is the destination, the
    /// second the gateway, the third a netmask. Everything is checked before the table is touched.
    /// </summary>
    private static int Change(CommandContext context, string command, string[] args, Flags flags)
    {
        bool forceNet = false, forceHost = false, iface = false, blackhole = false, reject = false, locking = false, lockRest = false;
        string? dest = null, gateway = null, netmask = null, ifpName = null;
        int prefixLength = -1;
        var attrs = new RouteAttrs();
        List<int>? fibs = null;
        for (int j = 1; j < args.Length; j++)
        {
            string a = args[j];
            if (a.Length > 1 && a[0] == '-')
            {
                string key = a[1..];
                switch (key)
                {
                    case "4":
                    case "inet":
                        break;
                    case "6":
                    case "inet6":
                        throw new CommandException("route: -inet6: IPv6 is not supported in Vimage");
                    case "link":
                        throw new CommandException("route: -link: link-layer routes are not supported in Vimage");
                    case "iface":
                    case "interface":
                        iface = true;
                        break;
                    case "nostatic":
                        attrs = attrs with { NoStatic = true };
                        break;
                    case "static":
                        attrs = attrs with { NoStatic = false };
                        break;
                    case "llinfo":
                        attrs = attrs with { Set = attrs.Set | RtFlags.RTF_LLINFO };
                        break;
                    case "lock":
                        locking = true;
                        break;
                    case "lockrest":
                        lockRest = true;
                        break;
                    case "host":
                        forceHost = true;
                        forceNet = false;
                        break;
                    case "net":
                        forceNet = true;
                        forceHost = false;
                        break;
                    case "reject":
                        reject = true;
                        break;
                    case "blackhole":
                        blackhole = true;
                        break;
                    case "proto1":
                        attrs = attrs with { Set = attrs.Set | RtFlags.RTF_PROTO1 };
                        break;
                    case "proto2":
                        attrs = attrs with { Set = attrs.Set | RtFlags.RTF_PROTO2 };
                        break;
                    case "xresolve":
                        attrs = attrs with { Set = attrs.Set | RtFlags.RTF_XRESOLVE };
                        break;
                    case "sticky":
                        attrs = attrs with { Set = attrs.Set | RtFlags.RTF_STICKY };
                        break;
                    case "nostick":
                        attrs = attrs with { Set = attrs.Set & ~RtFlags.RTF_STICKY };
                        break;
                    case "proxy":
                        throw new CommandException("route: -proxy: proxy ARP routes are not supported in Vimage (use arp -s ... pub)");
                    case "fib":
                        fibs = ParseFibs(Value(args, ref j));
                        break;
                    case "ifa":
                        Value(args, ref j);
                        break;
                    case "ifp":
                        ifpName = Value(args, ref j);
                        break;
                    case "genmask":
                        Value(args, ref j);
                        break;
                    case "gateway":
                        gateway = Value(args, ref j);
                        break;
                    case "dst":
                        dest = Value(args, ref j);
                        break;
                    case "netmask":
                    case "mask":
                        netmask = Value(args, ref j);
                        forceNet = true;
                        forceHost = false;
                        break;
                    case "prefixlen":
                    {
                        string text = Value(args, ref j);
                        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out prefixLength) || prefixLength > 32)
                        {
                            throw new CommandException($"route: {text}: bad value", CommandDispatcher.ExitUsage);
                        }

                        forceNet = prefixLength < 32;
                        forceHost = prefixLength == 32;
                        break;
                    }

                    case "mtu":
                    case "hopcount":
                    case "expire":
                    case "recvpipe":
                    case "sendpipe":
                    case "ssthresh":
                    case "rtt":
                    case "rttvar":
                    case "weight":
                    {
                        (int bit, long value) = Metric(key, Value(args, ref j));
                        if (lockRest || locking)
                        {
                            attrs = attrs with { Locks = attrs.Locks | bit };
                        }

                        locking = false;
                        if (key == "mtu")
                        {
                            attrs = attrs with { Mtu = (int)Math.Clamp(value, 0, int.MaxValue) };
                        }
                        else if (key == "weight")
                        {
                            attrs = attrs with { Weight = (int)Math.Clamp(value, 0, 16777215) };
                        }

                        break;
                    }

                    default:
                        throw BadKeyword(key);
                }
            }
            else if (dest is null)
            {
                dest = a;
            }
            else if (gateway is null)
            {
                gateway = a;
            }
            else
            {
                netmask = a;
            }
        }

        if (dest is null)
        {
            throw new UsageException("route: destination parameter required");
        }

        (InAddr dst, int prefix, bool isHost, string shown) = ParseDestination(dest, forceNet, forceHost, netmask, prefixLength);
        string summary = $"{command} {(isHost ? "host" : "net")} {shown}" + (gateway is null ? "" : $": gateway {gateway}");
        if (flags.TestOnly || flags.DebugOnly)
        {
            // -t writes the message to /dev/null, -d does not send it: nothing changes, the report is as if it had.
            if (!flags.Quiet)
            {
                context.Out.WriteLine(summary);
            }

            return 0;
        }

        // newroute: one routing message per fib of the -fib list (the caller's fib without one), then one line
        // for the fibs that took it ("fib 0,1" only when the list had several) and one per fib that did not.
        fibs ??= [Fibs.Current];
        var failed = new List<(int Fib, RouteError Error)>();
        foreach (int fib in fibs)
        {
            RouteError? error = ChangeOne(context, command, dst, prefix, gateway, iface, blackhole, reject, ifpName, attrs with { Fib = fib });
            if (error is { } e)
            {
                failed.Add((fib, e));
            }
        }

        if (!flags.Quiet)
        {
            int[] done = fibs.Where(f => !failed.Exists(x => x.Fib == f)).ToArray();
            if (done.Length > 0)
            {
                context.Out.WriteLine(fibs.Count > 1 ? $"{summary} fib {string.Join(',', done)}" : summary);
            }

            foreach ((int fib, RouteError error) in failed)
            {
                string reason = error switch
                {
                    RouteError.Exists => "route already in table",
                    RouteError.NotInTable => "not in table",
                    _ => Strerror(error),
                };
                context.Out.WriteLine($"{summary} fib {fib}: {reason}");
            }
        }

        return failed.Count > 0 ? 1 : 0;
    }

    /// <summary>rtmsg_fib for one fib: null when the table took it, else the error (warned as rtmsg does).</summary>
    private static RouteError? ChangeOne(CommandContext context, string command, InAddr dst, int prefix, string? gateway, bool iface,
        bool blackhole, bool reject, string? ifpName, RouteAttrs attrs)
    {
        try
        {
            if (command == "delete")
            {
                Routes.Delete(dst, prefix, gateway is not null && InAddr.TryParse(gateway, out InAddr via) && !iface ? via : null, attrs.Fib);
            }
            else
            {
                Rtentry route = Build(dst, prefix, gateway, iface, blackhole, reject, ifpName, attrs);
                if (command == "change")
                {
                    Routes.Change(route);
                }
                else
                {
                    Routes.Add(route);
                }
            }

            return null;
        }
        catch (RouteException e)
        {
            // rtmsg(): EEXIST is left to newroute, ESRCH is "route has not been found", others are warn()ed.
            switch (e.Error)
            {
                case RouteError.Exists:
                    break;
                case RouteError.NotInTable:
                    context.Err.WriteLine("route: route has not been found");
                    break;
                default:
                    context.Err.WriteLine($"route: writing to routing socket: {Strerror(e.Error)}");
                    break;
            }

            return e.Error;
        }
    }

    private static string Strerror(RouteError error) => error switch
    {
        RouteError.Exists => "File exists",
        RouteError.NotInTable => "No such process",
        RouteError.NetworkUnreachable => "Network is unreachable",
        _ => "Invalid argument",
    };

    /// <summary>set_metric(): the RTV_* bit of a metric keyword and its value (strtol base 0; a bad one is err(EX_USAGE)).</summary>
    private static (int Bit, long Value) Metric(string key, string text)
    {
        int bit = key switch
        {
            "mtu" => 0x1,
            "hopcount" => 0x2,
            "expire" => 0x4,
            "recvpipe" => 0x8,
            "sendpipe" => 0x10,
            "ssthresh" => 0x20,
            "rtt" => 0x40,
            "rttvar" => 0x80,
            _ => 0x100,
        };
        if (!TryStrtol(text, out long value))
        {
            throw new CommandException($"route: {text}: Invalid argument", CommandDispatcher.ExitUsage);
        }

        return (bit, value);
    }

    /// <summary>strtol(s, &amp;end, 0) that must consume the whole string: decimal, 0x hex or 0 octal, optional sign.</summary>
    internal static bool TryStrtol(string text, out long value)
    {
        value = 0;
        ReadOnlySpan<char> s = text.AsSpan().TrimStart();
        bool negative = false;
        if (s.Length > 0 && (s[0] == '+' || s[0] == '-'))
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        bool ok;
        if (s.Length > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        {
            ok = long.TryParse(s[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
        }
        else if (s.Length > 1 && s[0] == '0')
        {
            ok = true;
            foreach (char c in s)
            {
                ok &= c is >= '0' and <= '7';
                value = ok ? (value * 8) + (c - '0') : 0;
            }
        }
        else
        {
            ok = long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        }

        value = negative ? -value : value;
        return ok;
    }

    /// <summary>The route an add/change asks for, checked before anything changes.</summary>
    private static Rtentry Build(InAddr dst, int prefix, string? gateway, bool iface, bool blackhole, bool reject, string? ifpName, RouteAttrs attrs)
    {
        Ifnet? ifp = ifpName is null ? null : Ifnets.TryFind(ifpName) ?? throw new CommandException($"route: {ifpName}: bad value");
        if (blackhole || reject)
        {
            return Routes.DiscardRoute(dst, prefix, reject && !blackhole, attrs);
        }

        if (gateway is null)
        {
            if (ifp is not null)
            {
                return Routes.InterfaceRoute(dst, prefix, ifp, attrs);
            }

            throw new UsageException("route: gateway parameter required");
        }

        if (iface || !InAddr.TryParse(gateway, out InAddr gw))
        {
            Ifnet target = Ifnets.TryFind(gateway) ?? InterfaceOfLocalAddress(gateway) ?? ifp
                           ?? throw new CommandException($"route: bad address: {gateway}");
            return Routes.InterfaceRoute(dst, prefix, target, attrs);
        }

        Rtentry route = Routes.GatewayRoute(dst, prefix, gw, attrs);
        return ifp is null ? route : route with { Interface = ifp };
    }

    /// <summary>inet_network() for "a[.b[.c[.d]]]" before a '/': decimal parts, left-aligned (10 → 10.0.0.0).</summary>
    private static bool TryNetwork(string text, out uint net)
    {
        net = 0;
        string[] parts = text.Split('.');
        if (parts.Length is < 1 or > 4)
        {
            return false;
        }

        for (int i = 0; i < parts.Length; i++)
        {
            if (!byte.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out byte b))
            {
                return false;
            }

            net |= (uint)b << (24 - (8 * i));
        }

        return true;
    }

    /// <summary>-interface also accepts a local address: the route goes out of the interface that has it.</summary>
    private static Ifnet? InterfaceOfLocalAddress(string text)
        => InAddr.TryParse(text, out InAddr a) ? InAddrs.All.FirstOrDefault(ia => ia.Address == a)?.Interface : null;

    /// <summary>
    /// getaddr(RTAX_DST): "default" is 0/0; "a.b.c.d/len" is a net (the printed name stops at the '/'); a bare
    /// address is a net when its host part (classful inet_lnaof) is zero, else a host; -net picks the mask from
    /// trailing zero octets (inet_makenetandmask), -netmask or -prefixlen give it.
    /// </summary>
    private static (InAddr Dst, int Prefix, bool IsHost, string Shown) ParseDestination(string text, bool forceNet, bool forceHost,
        string? netmask, int prefixLength)
    {
        if (text == "default")
        {
            return (InAddr.Any, 0, false, "default");
        }

        int slash = text.IndexOf('/');
        string shown = slash < 0 ? text : text[..slash];
        InAddr dst;
        int prefix;
        if (slash >= 0 && TryNetwork(shown, out uint net) && int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) && prefix <= 32)
        {
            dst = new InAddr(net); // "10/8", "192.168.64/20": inet_network, the given parts left-aligned
        }
        else if (!InAddr.TryParsePrefix(text, out dst, out prefix))
        {
            throw new CommandException($"route: bad address: {shown}");
        }

        bool isHost;
        if (netmask is not null)
        {
            if (!NetFormat.TryParseNetmask(netmask, out prefix))
            {
                throw new CommandException($"route: bad address: {netmask}");
            }

            isHost = false;
        }
        else if (prefixLength >= 0)
        {
            prefix = prefixLength;
            isHost = prefix == 32;
        }
        else if (slash >= 0)
        {
            isHost = false;
        }
        else if (forceNet)
        {
            prefix = NetFormat.NetPrefixFromZeros(dst);
            isHost = false;
        }
        else
        {
            int classful = NetFormat.ClassfulPrefix(dst);
            isHost = forceHost || classful == 32 || (dst.Value & ~InAddr.MaskOf(classful)) != 0;
            prefix = isHost ? 32 : classful;
        }

        if (forceHost)
        {
            prefix = 32;
            isHost = true;
        }

        if (forceNet && prefix == 32 && netmask is null && prefixLength < 0 && slash < 0)
        {
            isHost = false;
        }

        return (new InAddr(dst.Value & InAddr.MaskOf(prefix)), prefix, isHost, shown);
    }
}
