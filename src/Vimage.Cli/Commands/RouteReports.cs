using System.Globalization;
using System.Text;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Cli.Commands;

/// <summary>route get, route flush and route monitor: what route(8) prints for each.</summary>
public sealed partial class RouteCommand
{
    /// <summary>route.c's routeflags for printb(), by bit value.</summary>
    private static readonly (RtFlags Bit, string Name)[] RouteFlagNames =
    [
        (RtFlags.RTF_UP, "UP"), (RtFlags.RTF_GATEWAY, "GATEWAY"), (RtFlags.RTF_HOST, "HOST"), (RtFlags.RTF_REJECT, "REJECT"),
        (RtFlags.RTF_DYNAMIC, "DYNAMIC"), (RtFlags.RTF_MODIFIED, "MODIFIED"), (RtFlags.RTF_DONE, "DONE"),
        (RtFlags.RTF_XRESOLVE, "XRESOLVE"), (RtFlags.RTF_LLINFO, "LLINFO"), (RtFlags.RTF_STATIC, "STATIC"),
        (RtFlags.RTF_BLACKHOLE, "BLACKHOLE"), (RtFlags.RTF_PROTO2, "PROTO2"), (RtFlags.RTF_PROTO1, "PROTO1"),
        (RtFlags.RTF_PROTO3, "PROTO3"), (RtFlags.RTF_FIXEDMTU, "FIXEDMTU"), (RtFlags.RTF_PINNED, "PINNED"),
        (RtFlags.RTF_LOCAL, "LOCAL"), (RtFlags.RTF_BROADCAST, "BROADCAST"), (RtFlags.RTF_MULTICAST, "MULTICAST"),
        (RtFlags.RTF_STICKY, "STICKY"),
    ];

    /// <summary>route.c's metricnames (printb order: highest bit first).</summary>
    private static readonly (int Bit, string Name)[] MetricNames =
    [
        (0x100, "weight"), (0x80, "rttvar"), (0x40, "rtt"), (0x20, "ssthresh"), (0x10, "sendpipe"), (0x8, "recvpipe"),
        (0x4, "expire"), (0x2, "hopcount"), (0x1, "mtu"),
    ];

    /// <summary>The flags of a route as route(8) reports them: its own, plus HOST for a host route.</summary>
    private static RtFlags ReportedFlags(Rtentry route) => route.Flags | (route.IsHost ? RtFlags.RTF_HOST : RtFlags.None);

    /// <summary>route.c's printb() for RTF_* bits: "&lt;UP,GATEWAY,DONE,STATIC&gt;", nothing for 0.</summary>
    internal static string PrintRouteFlags(RtFlags flags)
    {
        var names = new List<string>();
        foreach ((RtFlags bit, string name) in RouteFlagNames)
        {
            if ((flags & bit) != 0)
            {
                names.Add(name);
            }
        }

        return names.Count == 0 ? "" : "<" + string.Join(',', names) + ">";
    }

    private static string PrintMetrics(int bits)
    {
        var names = MetricNames.Where(m => (bits & m.Bit) != 0).Select(m => m.Name).ToList();
        return names.Count == 0 ? "" : "<" + string.Join(',', names) + ">";
    }

    /// <summary>route get's flags line: the route's flags with DONE (print_getmsg adds RTF_UP|RTF_DONE).</summary>
    internal static string FlagNames(Rtentry route) => PrintRouteFlags(ReportedFlags(route) | RtFlags.RTF_UP | RtFlags.RTF_DONE)[1..^1];

    /// <summary>route get|show [-net|-host] destination [-fib N]: print_getmsg's lines.</summary>
    private static int Get(CommandContext context, string[] args)
    {
        string? target = null;
        List<int>? fibs = null;
        for (int j = 1; j < args.Length; j++)
        {
            string a = args[j];
            switch (a)
            {
                case "-net" or "-host" or "-inet" or "-4":
                    break;
                case "-fib":
                    fibs = ParseFibs(Value(args, ref j));
                    break;
                case "-6" or "-inet6":
                    throw new CommandException("route: -inet6: IPv6 is not supported in Vimage");
                default:
                    if (a.Length > 1 && a[0] == '-')
                    {
                        throw BadKeyword(a[1..]);
                    }

                    if (target is not null)
                    {
                        break; // a gateway or mask after the destination is ignored by get
                    }

                    target = a;
                    break;
            }
        }

        if (target is null)
        {
            throw new UsageException("route: destination parameter required");
        }

        InAddr dst;
        bool isDefault = target == "default";
        if (isDefault)
        {
            dst = InAddr.Any;
        }
        else if (!InAddr.TryParsePrefix(target, out dst, out _))
        {
            throw new CommandException($"route: bad address: {target.Split('/')[0]}");
        }

        int status = 0;
        foreach (int fib in fibs ?? [Fibs.Current])
        {
            Rtentry? route = isDefault ? Routes.Table(fib).FirstOrDefault(r => r.PrefixLength == 0) : Routes.Lookup(fib, dst);
            if (route is null)
            {
                context.Err.WriteLine("route: route has not been found");
                status = 1;
                continue;
            }

            PrintGetmsg(context.Out, dst, route);
        }

        return status;
    }

    /// <summary>print_getmsg for an RTM_GET answer.</summary>
    private static void PrintGetmsg(TextWriter o, InAddr dst, Rtentry route)
    {
        o.WriteLine($"   route to: {RouteName(dst)}");
        o.WriteLine($"destination: {RouteName(route.Destination)}");
        if (!route.IsHost)
        {
            o.WriteLine($"       mask: {RouteName(new InAddr(route.Mask))}");
        }

        if (route.IsGateway)
        {
            o.WriteLine($"    gateway: {route.Gateway}");
        }

        o.WriteLine(NetFormat.Invariant($"        fib: {route.Fib}"));
        o.WriteLine($"  interface: {route.Interface.Name}");
        o.WriteLine($"      flags: <{FlagNames(route)}>");
        o.WriteLine(" recvpipe  sendpipe  ssthresh  rtt,msec    mtu        weight    expire");
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{0,8}  {0,8}  {0,8}  {0,8}  {route.EffectiveMtu,8}  {route.Weight,8}  {NetstatCommand.ExpireSeconds(route),8} "));
    }

    /// <summary>route.c's routename() for AF_INET: "default" for 0.0.0.0, else dotted (names are never looked up).</summary>
    private static string RouteName(InAddr a) => a.Value == 0 ? "default" : a.ToString();

    /// <summary>route.c's netname() for AF_INET: trailing zero octets dropped ("198.51.100", "10"), 0 is "default".</summary>
    internal static string NetName(InAddr a)
    {
        uint v = a.Value;
        if (v == 0)
        {
            return "default";
        }

        uint b1 = v >> 24, b2 = (v >> 16) & 0xff, b3 = (v >> 8) & 0xff, b4 = v & 0xff;
        if ((v & 0xffffff) == 0)
        {
            return NetFormat.Invariant($"{b1}");
        }

        if ((v & 0xffff) == 0)
        {
            return NetFormat.Invariant($"{b1}.{b2}");
        }

        return (v & 0xff) == 0 ? NetFormat.Invariant($"{b1}.{b2}.{b3}") : NetFormat.Invariant($"{b1}.{b2}.{b3}.{b4}");
    }

    /// <summary>route flush [-inet|-4] [-fib N]: flushroutes_fib deletes every gateway route, printing each.</summary>
    private static int Flush(CommandContext context, string[] args, Flags flags)
    {
        List<int>? fibs = null;
        for (int j = 1; j < args.Length; j++)
        {
            string a = args[j];
            if (a.Length < 2 || a[0] != '-')
            {
                throw BadKeyword(a);
            }

            switch (a[1..])
            {
                case "inet" or "4":
                    break;
                case "inet6" or "6":
                    throw new CommandException("route: -inet6: IPv6 is not supported in Vimage");
                case "link":
                    throw new CommandException("route: -link: link-layer routes are not supported in Vimage");
                case "fib":
                    if (j + 1 >= args.Length)
                    {
                        throw BadKeyword(a);
                    }

                    fibs = ParseFibs(args[++j]);
                    break;
                default:
                    throw BadKeyword(a);
            }
        }

        foreach (int fib in fibs ?? [Fibs.Current])
        {
            FlushFib(context, flags, fib);
        }

        return 0;
    }

    /// <summary>flushroutes_fib: every gateway route of <paramref name="fib"/> goes, each printed.</summary>
    private static void FlushFib(CommandContext context, Flags flags, int fib)
    {
        if (flags.Verbose)
        {
            context.Out.WriteLine("Examining routing table from sysctl");
        }

        foreach (Rtentry route in Routes.Sorted(Routes.Table(fib)).Where(r => r.IsGateway))
        {
            if (flags.DebugOnly)
            {
                continue;
            }

            if (!flags.TestOnly)
            {
                try
                {
                    Routes.Delete(route.Destination, route.PrefixLength, null, fib);
                }
                catch (RouteException)
                {
                    continue; // gone meanwhile
                }
            }

            if (!flags.Quiet)
            {
                string name = route.IsHost ? RouteName(route.Destination) : NetName(route.Destination);
                context.Out.WriteLine(NetFormat.Invariant($"{Clip(name),-20} {Clip(route.Gateway.ToString()),-20} -fib {fib,-3} done"));
            }
        }
    }

    private static string Clip(string s) => s.Length <= 20 ? s : s[..20];

    /// <summary>
    /// route monitor [-fib N]: every routing message of this vnet, as monitor() prints them ("got message of size N
    /// on DATE" then print_rtmsg), until the command is interrupted.
    /// </summary>
    private static int Monitor(CommandContext context, string[] args)
    {
        int fib = -1; // RT_ALL_FIBS: without -fib the monitor hears every fib
        for (int j = 1; j < args.Length; j++)
        {
            if (args[j] == "-fib" && j + 1 < args.Length)
            {
                fib = ParseFibs(args[++j])[0]; // monitor: SO_SETFIB on the routing socket, the first fib of the list
            }
            else
            {
                throw BadKeyword(args[j]);
            }
        }

        using RtListener listener = RtSock.Listen();
        context.Out.Flush();
        var reader = listener.Reader;
        while (true)
        {
            RtMessage message;
            try
            {
                ValueTask<bool> more = reader.WaitToReadAsync(context.Cancel);
                if (!(more.IsCompleted ? more.Result : more.AsTask().GetAwaiter().GetResult()))
                {
                    return 0;
                }
            }
            catch (OperationCanceledException)
            {
                return context.JailRemoved ? 137 : 130;
            }

            while (reader.TryRead(out message))
            {
                // rtsock: a route message reaches a socket of its fib only; interface messages reach every socket.
                if (fib < 0 || message.Route is not { } route || route.Fib == fib)
                {
                    context.Out.Write(FormatRtMessage(message, DateTime.Now));
                }
            }

            context.Out.Flush();
        }
    }

    /// <summary>route.c's msgtypes[]: each message type's name as print_rtmsg starts its line.</summary>
    private static string MsgTypeName(RtmType type) => type switch
    {
        RtmType.RTM_ADD => "RTM_ADD: Add Route",
        RtmType.RTM_DELETE => "RTM_DELETE: Delete Route",
        RtmType.RTM_CHANGE => "RTM_CHANGE: Change Metrics or flags",
        RtmType.RTM_GET => "RTM_GET: Report Metrics",
        RtmType.RTM_REDIRECT => "RTM_REDIRECT: Told to use different route",
        RtmType.RTM_NEWADDR => "RTM_NEWADDR: address being added to iface",
        RtmType.RTM_DELADDR => "RTM_DELADDR: address being removed from iface",
        RtmType.RTM_IFINFO => "RTM_IFINFO: iface status change",
        RtmType.RTM_IFANNOUNCE => "RTM_IFANNOUNCE: iface arrival/departure",
        _ => NetFormat.Invariant($"unknown type {(int)type}"),
    };

    /// <summary>route.c's ifnetflags for printb() on RTM_IFINFO, by bit value.</summary>
    private static readonly (IfFlags Bit, string Name)[] IfnetFlagNames =
    [
        (IfFlags.IFF_UP, "UP"), (IfFlags.IFF_BROADCAST, "BROADCAST"), (IfFlags.IFF_LOOPBACK, "LOOPBACK"),
        (IfFlags.IFF_POINTOPOINT, "PTP"), (IfFlags.IFF_RUNNING, "RUNNING"), (IfFlags.IFF_NOARP, "NOARP"),
        (IfFlags.IFF_PROMISC, "PPROMISC"), (IfFlags.IFF_SIMPLEX, "SIMPLEX"), (IfFlags.IFF_MULTICAST, "MULTICAST"),
    ];

    /// <summary>Sizes of the structures a message's length adds up (amd64): headers and SA_SIZE()d sockaddrs.</summary>
    private const int RtMsghdr = 152, IfMsghdr = 168, IfaMsghdr = 20, IfAnnounceMsghdr = 24, SockaddrIn = 16, SockaddrDl = 56;

    /// <summary>monitor()'s "\ngot message of size N on CTIME" and print_rtmsg() for one routing message.</summary>
    internal static string FormatRtMessage(RtMessage message, DateTime now)
    {
        (int size, string body) = message.Type switch
        {
            RtmType.RTM_IFINFO => IfInfoBody(message),
            RtmType.RTM_NEWADDR or RtmType.RTM_DELADDR => AddrBody(message),
            RtmType.RTM_IFANNOUNCE => (IfAnnounceMsghdr, NetFormat.Invariant(
                $"if# {message.Interface!.Index}, what: {(message.What == IfanWhat.IFAN_ARRIVAL ? "arrival" : "departure")}\n")),
            _ => RouteBody(message),
        };
        return NetFormat.Invariant($"\ngot message of size {size} on {Ctime(now)}\n{MsgTypeName(message.Type)}: len {size}, {body}");
    }

    /// <summary>print_rtmsg's default case: rt_msghdr's pid, seq, errno and flags, then pmsg_common.</summary>
    private static (int Size, string Body) RouteBody(RtMessage message)
    {
        var rt = (Rtentry)message.Route!;
        bool redirect = message.Type == RtmType.RTM_REDIRECT;
        bool linkGateway = !rt.IsGateway && !rt.IsBlackhole && !rt.IsReject;
        int size = RtMsghdr + SockaddrIn + (linkGateway ? SockaddrDl : SockaddrIn) + (rt.IsHost ? 0 : SockaddrIn) + (redirect ? SockaddrIn : 0);
        var text = new StringBuilder();
        RtFlags flags = (redirect ? rt.Flags : ReportedFlags(rt)) | RtFlags.RTF_DONE;
        text.Append(CultureInfo.InvariantCulture, $"pid: 0, seq 0, errno 0, flags:{PrintRouteFlags(flags)}\n");
        text.Append(CultureInfo.InvariantCulture, $"locks: {PrintMetrics(rt.Locks)} inits: \n");
        text.Append(redirect ? "sockaddrs: <DST,GATEWAY,AUTHOR>\n" : rt.IsHost ? "sockaddrs: <DST,GATEWAY>\n" : "sockaddrs: <DST,GATEWAY,NETMASK>\n");
        text.Append(' ').Append(RouteName(rt.Destination));
        text.Append(' ').Append(linkGateway ? NetFormat.Invariant($"link#{rt.Interface.Index}") : rt.Gateway.ToString());
        if (!rt.IsHost)
        {
            text.Append(' ').Append(RouteName(new InAddr(rt.Mask)));
        }

        if (redirect)
        {
            text.Append(' ').Append(InAddr.From(message.Address));
        }

        return (size, text.Append('\n').ToString());
    }

    /// <summary>RTM_IFINFO: "if# N, link: up|down, flags:&lt;...&gt;" and no sockaddrs (rt_ifmsg sends none).</summary>
    private static (int Size, string Body) IfInfoBody(RtMessage message)
    {
        Ifnet ifp = message.Interface!;
        string link = (message.IfFlags & IfFlags.IFF_UP) != 0 && (message.IfFlags & IfFlags.IFF_RUNNING) != 0 ? "up" : "down";
        var names = IfnetFlagNames.Where(f => (message.IfFlags & f.Bit) != 0).Select(f => f.Name).ToList();
        string flags = names.Count == 0 ? "" : "<" + string.Join(',', names) + ">";
        return (IfMsghdr, NetFormat.Invariant($"if# {ifp.Index}, link: {link}, flags:{flags}\n"));
    }

    /// <summary>
    /// RTM_NEWADDR/RTM_DELADDR (rtsock_addrmsg): "metric 0, flags:&lt;UP&gt;" (IFA_ROUTE) then the sockaddrs
    /// NETMASK, IFP (the interface's link address, link_ntoa), IFA and BRD on a broadcast interface.
    /// </summary>
    private static (int Size, string Body) AddrBody(RtMessage message)
    {
        Ifnet ifp = message.Interface!;
        bool brd = message.Broadcast.Family != SaFamily.AF_UNSPEC;
        int size = IfaMsghdr + SockaddrIn + SockaddrDl + SockaddrIn + (brd ? SockaddrIn : 0);
        var text = new StringBuilder("metric 0, flags:<UP>\n");
        text.Append(brd ? "sockaddrs: <NETMASK,IFP,IFA,BRD>\n" : "sockaddrs: <NETMASK,IFP,IFA>\n");
        text.Append(' ').Append(new InAddr(InAddr.MaskOf(message.PrefixLength)));
        text.Append(' ').Append(LinkNtoa(ifp));
        text.Append(' ').Append(InAddr.From(message.Address));
        if (brd)
        {
            text.Append(' ').Append(InAddr.From(message.Broadcast));
        }

        return (size, text.Append('\n').ToString());
    }

    /// <summary>link_ntoa(3): the name, then ':' and the address bytes in hex without leading zeros, dot-separated.</summary>
    internal static string LinkNtoa(Ifnet ifp)
    {
        if (ifp.Lladdr.Length == 0)
        {
            return ifp.Name;
        }

        return ifp.Name + ":" + string.Join('.', ifp.Lladdr.Select(b => b.ToString("x", CultureInfo.InvariantCulture)));
    }

    /// <summary>ctime(3) without its newline: "Wed Dec  2 03:37:21 2026".</summary>
    internal static string Ctime(DateTime t)
        => t.ToString("ddd MMM ", CultureInfo.InvariantCulture) + t.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2)
           + t.ToString(" HH:mm:ss yyyy", CultureInfo.InvariantCulture);
}
