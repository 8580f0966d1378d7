using System.Globalization;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Cli.Commands;

/// <summary>
/// netstat(1): -i/-I IF (interfaces, with -b bytes, -d drops, -W wide), -r (routing table, -W adds Nhop# and Mtu),
/// -o (nexthops), -rs (routing statistics), -s [-p proto] (protocol statistics, FreeBSD's text), -z (zero them),
/// -4, -F fib, -f inet|link, -n, and --libxo json|xml with the field names of FreeBSD's xo_emit calls. Names are
/// never resolved, so output is numeric with or without -n.
/// Without -r/-i/-I/-o/-s/-z: the active TCP and UDP sockets (<see cref="NetstatSockets"/>; -a adds listeners and
/// wildcard-bound sockets).
/// </summary>
public sealed partial class NetstatCommand : ICommand, IUsageStatus
{
    public string Name => "netstat";

    /// <summary>usage() of usr.bin/netstat/main.c; it exits 1.</summary>
    public string Usage =>
        "netstat [-46AaCcLnRSTWx] [-f protocol_family | -p protocol]\n" +
        "               [-j jail] [-M core] [-N system]\n" +
        "       netstat -i | -I interface [-46abdhnW] [-f address_family]\n" +
        "               [-j jail] [-M core] [-N system]\n" +
        "       netstat -w wait [-I interface] [-46d] [-j jail] [-M core] [-N system]\n" +
        "               [-q howmany]\n" +
        "       netstat -s [-46sz] [-f protocol_family | -p protocol]\n" +
        "               [-j jail] [-M core]\n" +
        "       netstat -i | -I interface -s [-46s]\n" +
        "               [-f protocol_family | -p protocol] [-j jail] [-M core] [-N system]\n" +
        "       netstat -B [-z] [-I interface] [-j jail]\n" +
        "       netstat -r [-46AnW] [-F fibnum] [-f address_family]\n" +
        "               [-j jail] [-M core] [-N system]\n" +
        "       netstat -rs [-s] [-j jail] [-M core] [-N system]\n" +
        "       netstat -g [-46W] [-f address_family] [-j jail] [-M core] [-N system]\n" +
        "       netstat -gs [-46s] [-f address_family] [-j jail] [-M core] [-N system]\n" +
        "       netstat -Q [-j jail]\n" +
        "       netstat -o [-46nW] [-F fibnum] [-f address_family] [-j jail]";

    public int UsageExitCode => 1;

    /// <summary>FreeBSD 14 netstat's getopt string.</summary>
    public const string Optstring = "46AaBbc:deF:f:ghI:ij:LlM:mN:nOoPp:Qq:RrSTsuWw:xz";

    private sealed class Options
    {
        public bool Routes;
        public bool All;
        public bool Interfaces;
        public bool Zero;
        public bool Nhops;
        public bool Bytes;
        public bool Drops;
        public bool Wide;
        public bool Human;
        public int Sflag;
        public string? Protocol;
        public string? Interface;
        public int Interval; // -w wait: sidewaysintpr
        public int Outputs; // -q howmany, plus one as main() stores it
        public string Family = "";
        public int Fib = -1;
    }

    public int Run(CommandContext context, string[] args)
    {
        (XoStyle style, bool pretty) = Xo.ExtractArgs("netstat", ref args);
        var o = new Options();
        string? jailName = null;
        var getopt = new Getopt("netstat", args, Optstring);
        for (int flag; (flag = getopt.Next()) != -1;)
        {
            switch (flag)
            {
                case 'r':
                    o.Routes = true;
                    break;
                case 'i':
                    o.Interfaces = true;
                    break;
                case 'I':
                    o.Interfaces = true;
                    o.Interface = getopt.Optarg!;
                    break;
                case 's':
                    o.Sflag++;
                    break;
                case 'z':
                    o.Zero = true;
                    break;
                case 'o':
                    o.Nhops = true;
                    break;
                case 'b':
                    o.Bytes = true;
                    break;
                case 'd':
                    o.Drops = true;
                    break;
                case 'W':
                    o.Wide = true;
                    break;
                case 'h':
                    o.Human = true; // show_stat's humanize_number for -i
                    break;
                case 'a':
                    o.All = true;
                    break;
                case 'n':
                case 'A':
                    break;
                case 'j':
                    jailName = getopt.Optarg!; // jail_attach once every option is read
                    break;
                case '4':
                    o.Family = "inet";
                    break;
                case 'F':
                    // main(): strtol; junk is EX_DATAERR here, a number outside net.fibs is caught by routepr.
                    if (!RouteCommand.TryStrtol(getopt.Optarg!, out long fib))
                    {
                        throw new CommandException($"netstat: {getopt.Optarg}: invalid fib", 65);
                    }

                    o.Fib = (int)Math.Clamp(fib, int.MinValue, int.MaxValue);
                    break;
                case 'p':
                    o.Protocol = StatProtocols.Contains(getopt.Optarg!)
                        ? getopt.Optarg
                        : throw new CommandException($"netstat: {getopt.Optarg}: unknown or uninstrumented protocol");
                    break;
                case 'f':
                    o.Family = getopt.Optarg switch
                    {
                        "inet" => "inet",
                        "link" => "link",
                        "inet6" => throw new CommandException("netstat: -f inet6: IPv6 is not supported in Vimage"),
                        "unix" or "local" or "netgraph" or "ng" or "pfkey" => throw new CommandException($"netstat: -f {getopt.Optarg}: not supported in Vimage"),
                        _ => throw new CommandException($"netstat: {getopt.Optarg}: unknown address family"),
                    };
                    break;
                case '6':
                    throw Unsupported.Option("netstat", flag, "IPv6 is not supported in Vimage");
                case 'w':
                    o.Interval = Atoi(getopt.Optarg!);
                    o.Interfaces = true; // iflag
                    break;
                case 'q':
                    o.Outputs = Atoi(getopt.Optarg!);
                    o.Outputs += o.Outputs != 0 ? 1 : 0;
                    break;
                case 'O':
                    throw Unsupported.Option("netstat", flag, "nexthop groups need multipath routes, which Vimage does not have");
                default:
                    throw Unsupported.Option("netstat", flag, "not supported in Vimage");
            }
        }

        if (getopt.Optind < args.Length)
        {
            throw new UsageException($"netstat: {args[getopt.Optind]}: unexpected argument");
        }

        if (jailName is not null)
        {
            Jail jail = JexecCommand.FindOrFail(context, jailName, "netstat");
            using CommandContext jailed = context.In(jail);
            return RunIn(jailed, o, style, pretty);
        }

        return RunIn(context, o, style, pretty);
    }

    private static int RunIn(CommandContext context, Options o, XoStyle style, bool pretty)
    {
        var xo = new Xo(context.Out, style, pretty);
        using (Curvnet.Set(context.Vnet))
        {
            int status = Dispatch(context, o, xo);
            xo.Finish();
            return status;
        }
    }

    private static int Dispatch(CommandContext context, Options o, Xo xo)
    {
        if (o.Interfaces && o.Sflag == 0 && o.Interval > 0)
        {
            xo.Open("statistics");
            int sideways = SidewaysIntpr(context, o, xo);
            xo.Close();
            return sideways;
        }

        if (o.Interfaces && o.Sflag == 0)
        {
            xo.Open("statistics");
            xo.Field("__version", "2");
            int status = PrintInterfaces(context, xo, o);
            xo.Close();
            return status;
        }

        if (o.Routes || o.Nhops)
        {
            xo.Open("statistics");
            xo.Field("__version", "2");
            if (o.Sflag > 0)
            {
                PrintRtStats(xo, o.Sflag);
            }
            else
            {
                o.Fib = CheckFib(o.Fib);
                if (o.Nhops)
                {
                    PrintNhops(xo, o);
                }
                else
                {
                    PrintRoutes(xo, o);
                }
            }

            xo.Close();
            return 0;
        }

        if (o.Sflag > 0)
        {
            xo.Open("statistics");
            xo.Field("__version", "2");
            foreach (string p in o.Protocol is null ? StatProtocols : [o.Protocol])
            {
                PrintStats(xo, p, Math.Max(o.Sflag, 1));
                if (o.Zero)
                {
                    Zero(context.Vnet, p);
                }
            }

            xo.Close();
            return 0;
        }

        if (o.Zero)
        {
            foreach (string p in o.Protocol is null ? StatProtocols : [o.Protocol])
            {
                Zero(context.Vnet, p);
            }

            return 0;
        }

        if (o.Protocol is not null && !NetstatSockets.Protocols.Contains(o.Protocol))
        {
            return 0; // protopr: ip, icmp and arp have no sockets to list
        }

        NetstatSockets.Print(context.Out, context.Vnet, o.All, narrow: false, o.Protocol);
        return 0;
    }

    /// <summary>
    /// routepr/nhops_print: -1 (no -F, or -F -1) is the caller's fib (net.my_fibnum); the FIB must exist below the
    /// vnet's net.fibs: "N: invalid fib", EX_USAGE.
    /// </summary>
    private static int CheckFib(int fib)
    {
        if (fib == -1)
        {
            fib = Fibs.Current;
        }

        if (fib < 0 || fib > Fibs.NumFibs - 1)
        {
            throw new CommandException(NetFormat.Invariant($"netstat: {fib}: invalid fib"), CommandDispatcher.ExitUsage);
        }

        return fib;
    }

    /// <summary>routepr's " (fib: N)" after the title, for any fib but 0.</summary>
    private static void FibTitle(Xo xo, int fib)
    {
        if (fib > 0)
        {
            xo.Text(NetFormat.Invariant($" (fib: {fib})"));
            xo.Field("fib", fib);
        }

        xo.Text("\n");
    }

    private static void Zero(Vnet vnet, string protocol)
    {
        string oid = protocol switch
        {
            "ip" => "net.inet.ip.stats",
            "icmp" => "net.inet.icmp.stats",
            "udp" => "net.inet.udp.stats",
            "tcp" => "net.inet.tcp.stats",
            _ => "net.link.ether.arp.stats",
        };
        if (Sysctl.Exists(oid))
        {
            Sysctl.Set(oid, "0", vnet);
        }
    }

    /// <summary>route.c's bits[]: flag letter and the flags_pretty name, in netstat's order.</summary>
    private static readonly (RtFlags Bit, char Letter, string Name)[] RouteBits =
    [
        (RtFlags.RTF_UP, 'U', "up"), (RtFlags.RTF_GATEWAY, 'G', "gateway"), (RtFlags.RTF_HOST, 'H', "host"),
        (RtFlags.RTF_REJECT, 'R', "reject"), (RtFlags.RTF_DYNAMIC, 'D', "dynamic"), (RtFlags.RTF_MODIFIED, 'M', "modified"),
        (RtFlags.RTF_DONE, 'd', "done"), (RtFlags.RTF_XRESOLVE, 'X', "xresolve"), (RtFlags.RTF_STATIC, 'S', "static"),
        (RtFlags.RTF_PROTO1, '1', "proto1"), (RtFlags.RTF_PROTO2, '2', "proto2"), (RtFlags.RTF_PROTO3, '3', "proto3"),
        (RtFlags.RTF_BLACKHOLE, 'B', "blackhole"), (RtFlags.RTF_BROADCAST, 'b', "broadcast"),
    ];

    private static RtFlags ShownFlags(Rtentry r) => r.Flags | (r.IsHost ? RtFlags.RTF_HOST : RtFlags.None);

    /// <summary>netstat -rn: "Routing tables", "Internet:", then p_rtentry_sysctl's line per route.</summary>
    internal static void PrintRoutes(TextWriter o) => PrintRoutes(new Xo(o, XoStyle.Text), new Options());

    private static void PrintRoutes(Xo xo, Options o)
    {
        xo.Open("route-information");
        xo.Text("Routing tables");
        FibTitle(xo, Math.Max(o.Fib, 0));
        xo.Open("route-table");
        IReadOnlyList<Rtentry> routes = Routes.Sorted(Routes.Table(Math.Max(o.Fib, 0)));
        if (o.Family is "" or "inet" && routes.Count > 0)
        {
            xo.OpenList("rt-family");
            xo.OpenInstance();
            xo.Text("\nInternet:\n");
            xo.Field("address-family", "Internet");
            int wdst = 18, wgw = 18, wflags = 6, wnhop = 6, wmtu = 6, wif = o.Wide ? 10 : 8;
            xo.Text(o.Wide
                ? NetFormat.Invariant($"{"Destination",-18} {"Gateway",-18} {"Flags",-6} {"Nhop#",6} {"Mtu",6} {"Netif",10} {"Expire",6}\n")
                : NetFormat.Invariant($"{"Destination",-18} {"Gateway",-18} {"Flags",-6} {"Netif",8} {"Expire",6}\n"));
            xo.OpenList("rt-entry");
            foreach (Rtentry r in routes)
            {
                xo.OpenInstance();
                string dst = r.DestinationText;
                string gw = r.IsGateway ? r.Gateway.ToString() : NetFormat.Invariant($"link#{r.Interface.Index}");
                string flags = string.Concat(RouteBits.Where(b => (ShownFlags(r) & b.Bit) != 0).Select(b => b.Letter));
                var line = new System.Text.StringBuilder();

                // p_sockaddr: with -W (or -n in FreeBSD) a long name pushes the next columns right ("protrusion").
                int protrusion = Column(line, dst, wdst, o.Wide);
                protrusion = Column(line, gw, wgw - protrusion, o.Wide);
                line.Append(flags.PadRight(Math.Max(0, wflags - protrusion))).Append(' ');
                if (o.Wide)
                {
                    line.Append(r.NhopIndex.ToString(CultureInfo.InvariantCulture).PadLeft(wnhop)).Append(' ');
                    line.Append(r.EffectiveMtu.ToString(CultureInfo.InvariantCulture).PadLeft(wmtu)).Append(' ');
                    line.Append(r.Interface.Name.PadLeft(wif));
                }
                else
                {
                    line.Append((r.Interface.Name.Length > wif ? r.Interface.Name[..wif] : r.Interface.Name).PadLeft(wif));
                }

                // p_rtentry_sysctl: " expire-time" only while the route has time left (a redirect's route).
                long expire = ExpireSeconds(r);
                if (expire > 0)
                {
                    line.Append(' ').Append(expire.ToString(CultureInfo.InvariantCulture).PadLeft(6));
                }

                xo.Text(line.Append('\n').ToString());
                xo.Field("destination", dst);
                xo.Field("gateway", gw);
                xo.Field("flags", flags);
                foreach ((RtFlags bit, _, string name) in RouteBits)
                {
                    if ((ShownFlags(r) & bit) != 0)
                    {
                        xo.LeafList("flags_pretty", name);
                    }
                }

                if (o.Wide)
                {
                    xo.Field("nhop", r.NhopIndex);
                    xo.Field("mtu", r.EffectiveMtu);
                }

                xo.Field("interface-name", r.Interface.Name);
                if (expire > 0)
                {
                    xo.Field("expire-time", expire);
                }

                xo.Close();
            }

            xo.CloseList();
            xo.Close();
            xo.CloseList();
        }

        xo.Close();
        xo.Close();
    }

    /// <summary>p_sockaddr's column: padded (and cut unless -W) to the width; returns how far a long value protrudes.</summary>
    private static int Column(System.Text.StringBuilder line, string text, int width, bool wide)
    {
        width = Math.Max(width, 0);
        if (wide)
        {
            line.Append(text.PadRight(width)).Append(' ');
            return Math.Max(0, text.Length - width);
        }

        line.Append((text.Length > width ? text[..width] : text).PadRight(width)).Append(' ');
        return 0;
    }

    /// <summary>netstat -o: nhops.c's "Nexthop data" table (Idx, IFA, Gateway, Flags, Netif, Refcnt; -W adds Type, Use, Mtu, Addrif).</summary>
    private static void PrintNhops(Xo xo, Options o)
    {
        xo.Open("route-nhop-information");
        xo.Text("Nexthop data");
        FibTitle(xo, Math.Max(o.Fib, 0));
        xo.Open("nhop-table");
        IReadOnlyList<(int Index, Rtentry Route, int Refcount)> nhops = Routes.Nhops();
        if (o.Family is "" or "inet" && nhops.Count > 0)
        {
            xo.OpenList("rt-family");
            xo.OpenInstance();
            xo.Text("\nInternet:\n");
            xo.Field("address-family", "Internet");
            const int widx = 5, wtype = 12, wdst = 18, wflags = 6, wpk = 8, wmtu = 6, wref = 6;
            int wif = o.Wide ? 10 : 8;
            xo.Text(o.Wide
                // print_nhop_header's -W format, justification quirks included (Flags right, Mtu left).
                ? NetFormat.Invariant($"{"Idx",-widx} {"Type",-wtype} {"IFA",-wdst} {"Gateway",-wdst} {"Flags",wflags} {"Use",wpk} {"Mtu",-wmtu} {"Netif".PadLeft(wif)} {"Addrif".PadLeft(wif)} {"Refcnt",wref} Prepend\n")
                : NetFormat.Invariant($"{"Idx",-widx} {"IFA",-wdst} {"Gateway",-wdst} {"Flags",-wflags} {"Netif".PadLeft(wif)}  {"Refcnt",wref}\n"));
            xo.OpenList("nh-entry");
            foreach ((int index, Rtentry r, int refs) in nhops)
            {
                xo.OpenInstance();
                string ifa = InAddrs.SourceFor(r.Interface, r.NextHop(r.Destination)).ToString();
                string gw = r.IsGateway ? r.Gateway.ToString() : $"{r.Interface.Name}/resolve";
                RtFlags kind = r.Flags & (RtFlags.RTF_GATEWAY | RtFlags.RTF_REJECT | RtFlags.RTF_BLACKHOLE | RtFlags.RTF_UP);
                string flags = string.Concat(RouteBits.Where(b => (kind & b.Bit) != 0).Select(b => b.Letter));
                var line = new System.Text.StringBuilder();
                line.Append(index.ToString(CultureInfo.InvariantCulture).PadRight(widx)).Append(' ');
                if (o.Wide)
                {
                    line.Append((r.IsGateway ? "v4/gw" : "v4/resolve").PadLeft(wtype)).Append(' ');
                }

                int protrusion = Column(line, ifa, wdst, o.Wide);
                protrusion = Column(line, gw, wdst - protrusion, o.Wide);
                line.Append(flags.PadRight(Math.Max(0, wflags - protrusion))).Append(' ');
                if (o.Wide)
                {
                    line.Append("0".PadLeft(wpk)).Append(' ');
                    line.Append(r.EffectiveMtu.ToString(CultureInfo.InvariantCulture).PadLeft(wmtu)).Append(' ');
                }

                line.Append(r.Interface.Name.PadLeft(wif));
                if (o.Wide)
                {
                    line.Append("".PadLeft(wif));
                }

                line.Append(refs.ToString(CultureInfo.InvariantCulture).PadLeft(wref)).Append(' ');
                xo.Text(line.Append('\n').ToString());
                xo.Field("index", index);
                if (o.Wide)
                {
                    xo.Field("type_str", r.IsGateway ? "v4/gw" : "v4/resolve");
                }

                xo.Field("ifa", ifa);
                xo.Field("gateway", gw);
                xo.Field("flags", flags);
                if (o.Wide)
                {
                    xo.Field("use", 0);
                    xo.Field("mtu", r.EffectiveMtu);
                }

                xo.Field("interface-name", r.Interface.Name);
                xo.Field("refcount", refs);
                xo.Close();
            }

            xo.CloseList();
            xo.Close();
            xo.CloseList();
        }

        xo.Close();
        xo.Close();
    }

    /// <summary>Seconds left before a route expires (rt_expire - time_uptime), 0 for a route that does not.</summary>
    internal static long ExpireSeconds(Rtentry r)
        => r.ExpireMs == 0 ? 0 : Math.Max(0, (r.ExpireMs - Vimage.Net.NetTimers.NowMs + 999) / 1000);

    /// <summary>netstat -rs: rt_stats()'s lines from V_rtstat (redirects make rts_dynamic).</summary>
    private static void PrintRtStats(Xo xo, int sflag)
    {
        xo.Open("routing-statistics");
        xo.Text("routing:\n");
        var w = new StatWriter(xo, sflag);
        w.P(RtStats.Fetch(RtStat.rts_badredirect), "bad-redirects", "bad routing redirect{0}");
        w.P(RtStats.Fetch(RtStat.rts_dynamic), "dynamically-created", "dynamically created route{0}");
        w.P(RtStats.Fetch(RtStat.rts_newgateway), "new-gateways", "new gateway{0} due to redirects");
        w.P(RtStats.Fetch(RtStat.rts_unreach), "unreachable-destination", "destination{0} found unreachable");
        w.P(RtStats.Fetch(RtStat.rts_wildcard), "wildcard-uses", "use{0} of a wildcard route");
        xo.Close();
    }

    /// <summary>netstat -i (intpr): a link row per interface and a row per IPv4 address, FreeBSD's columns.</summary>
    internal static void PrintInterfaces(TextWriter o) => PrintInterfaces(null, new Xo(o, XoStyle.Text), new Options());

    private static int PrintInterfaces(CommandContext? context, Xo xo, Options o)
    {
        IReadOnlyList<Ifnet> all = NetFormat.Interfaces();
        if (o.Interface is not null)
        {
            all = all.Where(i => i.Name == o.Interface).ToArray();
            if (all.Count == 0)
            {
                // intpr prints the header and no row for an unknown -I name (fill_iftot's error is for -w).
                context?.Err.Flush();
            }
        }

        bool link = o.Family is "" or "link", inet = o.Family is "" or "inet";
        int nameWidth = 5, netWidth = o.Wide ? 18 : 13, addrWidth = 17;
        if (o.Wide)
        {
            foreach (Ifnet ifp in all)
            {
                nameWidth = Math.Max(nameWidth, ifp.Name.Length + (ifp.IsUp ? 0 : 1));
            }
        }

        xo.OpenList("interface");
        var header = new System.Text.StringBuilder();
        header.Append(Cut("Name", nameWidth).PadRight(nameWidth));
        header.Append(NetFormat.Invariant($" {"Mtu",5} {Cut("Network", netWidth).PadRight(netWidth)} {"Address".PadRight(addrWidth)} {"Ipkts",8} {"Ierrs",5} {"Idrop",5}"));
        if (o.Bytes)
        {
            header.Append(NetFormat.Invariant($" {"Ibytes",10}"));
        }

        header.Append(NetFormat.Invariant($" {"Opkts",8} {"Oerrs",5}"));
        if (o.Bytes)
        {
            header.Append(NetFormat.Invariant($" {"Obytes",10}"));
        }

        header.Append(NetFormat.Invariant($" {"Coll",5}"));
        if (o.Drops)
        {
            header.Append(NetFormat.Invariant($" {"Drop",5}"));
        }

        xo.Text(header.Append('\n').ToString());
        foreach (Ifnet ifp in all)
        {
            string xname = ifp.IsUp ? ifp.Name : ifp.Name + "*";
            string shownName = (o.Wide ? xname : Cut(xname, nameWidth)).PadRight(nameWidth);
            if (link)
            {
                string address = ifp.Lladdr.Length == 6 ? NetFormat.Mac(ifp.Lladdr) : ifp.Name;
                string network = NetFormat.Invariant($"<Link#{ifp.Index}>");
                xo.OpenInstance();
                xo.Field("name", ifp.Name);
                xo.Field("flags", "0x" + ((int)ifp.Flags).ToString("x", CultureInfo.InvariantCulture));
                xo.Field("mtu", ifp.Mtu);
                xo.Field("network", network);
                xo.Field("address", address);
                var row = new Row(shownName, ifp.Mtu, Cut(network, netWidth).PadRight(netWidth), (o.Wide ? address : Cut(address, addrWidth)).PadRight(addrWidth), o.Human);
                row.Stat(xo, 8, "received-packets", ifp.Counter(IfCounter.IFCOUNTER_IPACKETS));
                row.Stat(xo, 5, "received-errors", ifp.Counter(IfCounter.IFCOUNTER_IERRORS));
                row.Stat(xo, 5, "dropped-packets", ifp.Counter(IfCounter.IFCOUNTER_IQDROPS));
                if (o.Bytes)
                {
                    row.Stat(xo, 10, "received-bytes", ifp.Counter(IfCounter.IFCOUNTER_IBYTES), bytes: true);
                }

                row.Stat(xo, 8, "sent-packets", ifp.Counter(IfCounter.IFCOUNTER_OPACKETS));
                row.Stat(xo, 5, "send-errors", ifp.Counter(IfCounter.IFCOUNTER_OERRORS));
                if (o.Bytes)
                {
                    row.Stat(xo, 10, "sent-bytes", ifp.Counter(IfCounter.IFCOUNTER_OBYTES), bytes: true);
                }

                row.Last(xo, "collisions", ifp.Counter(IfCounter.IFCOUNTER_COLLISIONS));
                if (o.Drops)
                {
                    row.Drop(xo, ifp.Counter(IfCounter.IFCOUNTER_OQDROPS));
                }

                xo.Text(row.Text);
                xo.Close();
            }

            if (!inet)
            {
                continue;
            }

            foreach (InIfaddr ia in InAddrs.On(ifp))
            {
                xo.OpenInstance();
                xo.Field("name", ifp.Name);
                xo.Field("flags", "0x" + ((int)ifp.Flags).ToString("x", CultureInfo.InvariantCulture));
                xo.Field("network", ia.Prefix);
                xo.Field("address", ia.Address.ToString());
                string net = o.Wide ? ia.Prefix : Cut(ia.Prefix, netWidth);
                string addr = o.Wide ? ia.Address.ToString() : Cut(ia.Address.ToString(), addrWidth);
                var row = new Row(shownName, 0, net.PadRight(netWidth), addr.PadRight(addrWidth), o.Human);

                // Vimage keeps no per-address packet counters (FreeBSD's ifa_ipackets/ifa_opackets): dashes.
                row.Dash(8);
                row.Dash(5);
                row.Dash(5);
                if (o.Bytes)
                {
                    row.Dash(10);
                }

                row.Dash(8);
                row.Dash(5);
                if (o.Bytes)
                {
                    row.Dash(10);
                }

                row.LastDash(5);
                if (o.Drops)
                {
                    row.DropDash();
                }

                xo.Text(row.Text);
                xo.Close();
            }
        }

        xo.CloseList();
        return 0;
    }

    private static string Cut(string text, int width) => text.Length <= width ? text : text[..width];

    /// <summary>One netstat -i line, built column by column as show_stat() prints them.</summary>
    private sealed class Row(string name, int mtu, string network, string address, bool human)
    {
        // show_stat("lu", 6, "mtu", ...): an address row's if_data carries no MTU, so it shows a dash.
        private readonly System.Text.StringBuilder _line = new(name + (mtu == 0 ? "-" : Number(mtu, human, 1024)).PadLeft(6) + " " + network + " " + address + " ");

        public string Text => _line.Append('\n').ToString();

        /// <summary>A packet, error or drop count (-h divides by 1000) or, with <paramref name="bytes"/>, a byte count (by 1024).</summary>
        public void Stat(Xo xo, int width, string key, long value, bool bytes = false)
        {
            _line.Append(Number(value, human, bytes ? 1024 : 1000).PadLeft(width)).Append(' ');
            xo.Field(key, value);
        }

        public void Last(Xo xo, string key, long value)
        {
            _line.Append(Number(value, human, 1000).PadLeft(5));
            xo.Field(key, value);
        }

        public void Drop(Xo xo, long value)
        {
            _line.Append(' ').Append(Number(value, human, 1000).PadLeft(5));
            xo.Field("dropped-packets", value);
        }

        public void Dash(int width) => _line.Append("-".PadLeft(width)).Append(' ');

        public void LastDash(int width) => _line.Append("-".PadLeft(width));

        public void DropDash() => _line.Append(' ').Append("-".PadLeft(5));

        private static string Number(long value, bool human, int divisor)
            => human ? Humanize(value, divisor) : value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// humanize_number(buf, 5, n, "", HN_AUTOSCALE, HN_NOSPACE | HN_DECIMAL [| HN_DIVISOR_1000]) as netstat -h uses it:
    /// at most three digits and a prefix, one decimal below 10 ("1.5K"), rounded.
    /// </summary>
    internal static string Humanize(long value, int divisor)
    {
        const string Prefixes = "KMGTPE";
        long quotient = value, remainder = 0;
        long cut = divisor * 95 / 100; // divisordeccut
        int scale = 0;
        while ((quotient >= 1000 || (quotient == 999 && remainder >= cut)) && scale < Prefixes.Length)
        {
            remainder = quotient % divisor;
            quotient /= divisor;
            scale++;
        }

        string prefix = scale == 0 ? "" : Prefixes[scale - 1].ToString();
        if (quotient <= 9 && remainder < cut && scale > 0)
        {
            long tenths = ((remainder * 10) + (divisor / 2)) / divisor;
            return NetFormat.Invariant($"{quotient + (tenths / 10)}.{tenths % 10}{prefix}");
        }

        return NetFormat.Invariant($"{quotient + ((remainder + (divisor / 2)) / divisor)}{prefix}");
    }
}
