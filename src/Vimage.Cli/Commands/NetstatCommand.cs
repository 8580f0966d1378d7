using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Arp;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Cli.Commands;

/// <summary>
/// netstat(1): -r (routing table), -i (interfaces), -s [-p ip|icmp|udp|arp] (protocol statistics, FreeBSD's text),
/// -z (zero the statistics, after showing them with -s). -n, -W, -4 and -f inet are accepted; names are never
/// resolved, so -r prints numerically either way. Without -r/-i/-s/-z: the active TCP and UDP sockets
/// (<see cref="NetstatSockets"/>; -a adds listeners and wildcard-bound sockets).
/// </summary>
public sealed class NetstatCommand : ICommand
{
    private static readonly string[] Protocols = ["tcp", "udp", "ip", "icmp", "arp"];

    private static readonly string?[] IcmpNames =
    [
        "echo reply", "#1", "#2", "destination unreachable", "source quench", "routing redirect", "#6", "#7", "echo",
        "router advertisement", "router solicitation", "time exceeded", "parameter problem", "time stamp",
        "time stamp reply", "information request", "information request reply", "address mask request",
        "address mask reply", "#19", "#20", "#21", "#22", "#23", "#24", "#25", "#26", "#27", "#28", "#29",
        "icmp traceroute", "datagram conversion error", "mobile host redirect", "IPv6 where-are-you", "IPv6 i-am-here",
        "mobile registration req", "mobile registration reply", "domain name request", "domain name reply",
        "icmp SKIP", "icmp photuris",
    ];

    public string Name => "netstat";

    public string Usage => "netstat [-an] [-p tcp|udp] | netstat -r [-nW] [-f inet] | netstat -i [-nW] | netstat -s [-s] [-z] [-p tcp|udp|ip|icmp|arp] | netstat -z";

    /// <summary>FreeBSD netstat's getopt string.</summary>
    public const string Optstring = "46AaBbc:deF:f:ghI:iLlM:mN:nOoPp:Qq:RrSTsuWw:xz";

    public int Run(CommandContext context, string[] args)
    {
        bool routes = false, interfaces = false, zero = false, aflag = false;
        int sflag = 0;
        string? protocol = null;
        var getopt = new Getopt("netstat", args, Optstring);
        for (int flag; (flag = getopt.Next()) != -1;)
        {
            switch (flag)
            {
                case 'r':
                    routes = true;
                    break;
                case 'i':
                    interfaces = true;
                    break;
                case 's':
                    sflag++;
                    break;
                case 'z':
                    zero = true;
                    break;
                case 'n':
                case 'W':
                case '4':
                    break;
                case 'a':
                    aflag = true;
                    break;
                case 'p':
                    protocol = Protocols.Contains(getopt.Optarg!) ? getopt.Optarg : throw new CommandException($"netstat: {getopt.Optarg}: unknown or uninstrumented protocol");
                    break;
                case 'f':
                    if (getopt.Optarg is not ("inet" or "link"))
                    {
                        throw new CommandException($"netstat: {getopt.Optarg}: unknown address family");
                    }

                    break;
                case '6':
                    throw Unsupported.Option("netstat", flag, "IPv6 is not supported in Vimage");
                default:
                    throw Unsupported.Option("netstat", flag, "not supported in Vimage");
            }
        }

        if (getopt.Optind < args.Length)
        {
            throw new UsageException($"netstat: {args[getopt.Optind]}: unexpected argument");
        }


        using (Curvnet.Set(context.Vnet))
        {
            if (routes)
            {
                PrintRoutes(context.Out);
                return 0;
            }

            if (interfaces)
            {
                PrintInterfaces(context.Out);
                return 0;
            }

            if (sflag > 0)
            {
                foreach (string p in protocol is null ? Protocols : [protocol])
                {
                    PrintStats(context.Out, p, sflag);
                    if (zero)
                    {
                        Zero(context.Vnet, p);
                    }
                }

                return 0;
            }

            if (zero)
            {
                foreach (string p in protocol is null ? Protocols : [protocol])
                {
                    Zero(context.Vnet, p);
                }

                return 0;
            }
        }

        if (protocol is not null && !NetstatSockets.Protocols.Contains(protocol))
        {
            return 0; // protopr: ip, icmp and arp have no sockets to list
        }

        NetstatSockets.Print(context.Out, context.Vnet, aflag, narrow: false, protocol);
        return 0;
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

    /// <summary>netstat -rn: "Routing tables", "Internet:", then one line per route.</summary>
    internal static void PrintRoutes(TextWriter o)
    {
        o.WriteLine("Routing tables");
        o.WriteLine();
        o.WriteLine("Internet:");
        o.WriteLine($"{"Destination",-18} {"Gateway",-18} {"Flags",-6} {"Netif",12} Expire");
        foreach (Rtentry r in Routes.Sorted(Routes.All))
        {
            string gateway = r.IsGateway ? r.Gateway.ToString() : NetFormat.Invariant($"link#{r.Interface.Index}");
            o.WriteLine($"{Truncate(r.DestinationText, 18),-18} {Truncate(gateway, 18),-18} {r.FlagsText,-6} {r.Interface.Name,12}");
        }
    }

    /// <summary>netstat -i: a link row per interface (with its counters) and a row per IPv4 address.</summary>
    internal static void PrintInterfaces(TextWriter o)
    {
        IReadOnlyList<Ifnet> all = NetFormat.Interfaces();
        int width = Math.Max(5, all.Count == 0 ? 0 : all.Max(i => i.Name.Length));
        o.WriteLine($"{"Name".PadRight(width)} {"Mtu",5} {"Network",-13} {"Address",-17} {"Ipkts",8} {"Ierrs",5} {"Idrop",5} {"Opkts",8} {"Oerrs",5} {"Coll",5}");
        foreach (Ifnet ifp in all)
        {
            string address = ifp.Lladdr.Length == 6 ? NetFormat.Mac(ifp.Lladdr) : ifp.Name;
            o.WriteLine(NetFormat.Invariant(
                $"{ifp.Name.PadRight(width)} {ifp.Mtu,5} {Truncate($"<Link#{ifp.Index}>", 13),-13} {Truncate(address, 17),-17} {ifp.Counter(IfCounter.IFCOUNTER_IPACKETS),8} {ifp.Counter(IfCounter.IFCOUNTER_IERRORS),5} {ifp.Counter(IfCounter.IFCOUNTER_IQDROPS),5} {ifp.Counter(IfCounter.IFCOUNTER_OPACKETS),8} {ifp.Counter(IfCounter.IFCOUNTER_OERRORS),5} {ifp.Counter(IfCounter.IFCOUNTER_COLLISIONS),5}"));
            foreach (InIfaddr ia in InAddrs.On(ifp))
            {
                o.WriteLine($"{ifp.Name.PadRight(width)} {"-",5} {Truncate(ia.Prefix, 13),-13} {ia.Address.ToString(),-17} {"-",8} {"-",5} {"-",5} {"-",8} {"-",5} {"-",5}");
            }
        }
    }

    private static string Truncate(string text, int width) => text.Length <= width ? text : text[..width];

    private static void PrintStats(TextWriter o, string protocol, int sflag)
    {
        switch (protocol)
        {
            case "ip":
                PrintIp(o, sflag);
                break;
            case "icmp":
                PrintIcmp(o, sflag);
                break;
            case "udp":
                PrintUdp(o, sflag);
                break;
            case "tcp":
                NetstatTcpStats.Print(o, Curvnet.Current ?? Vnet.Vnet0, sflag);
                break;
            default:
                PrintArp(o, sflag);
                break;
        }
    }

    /// <summary>ip_stats() of usr.bin/netstat/inet.c.</summary>
    internal static void PrintIp(TextWriter o, int sflag)
    {
        long S(IpStat f) => Ip.Fetch(f);
        var w = new StatWriter(o, sflag);
        o.WriteLine("ip:");
        w.P(S(IpStat.ips_total), "total packet{0} received");
        w.P(S(IpStat.ips_badsum), "bad header checksum{0}");
        w.P1(S(IpStat.ips_toosmall), "with size smaller than minimum");
        w.P1(S(IpStat.ips_tooshort), "with data size < data length");
        w.P1(S(IpStat.ips_toolong), "with ip length > max ip packet size");
        w.P1(S(IpStat.ips_badhlen), "with header length < data size");
        w.P1(S(IpStat.ips_badlen), "with data length < header length");
        w.P1(S(IpStat.ips_badoptions), "with bad options");
        w.P1(S(IpStat.ips_badvers), "with incorrect version number");
        w.P(S(IpStat.ips_fragments), "fragment{0} received");
        w.P(S(IpStat.ips_fragdropped), "fragment{0} dropped (dup or out of space)");
        w.P(S(IpStat.ips_fragtimeout), "fragment{0} dropped after timeout");
        w.P(S(IpStat.ips_reassembled), "packet{0} reassembled ok");
        w.P(S(IpStat.ips_delivered), "packet{0} for this host");
        w.P(S(IpStat.ips_noproto), "packet{0} for unknown/unsupported protocol");

        // "N packets forwarded (M packets fast forwarded)": one line built from two fields, as FreeBSD's two p() calls.
        long forward = S(IpStat.ips_forward), fast = S(IpStat.ips_fastforward);
        if (forward != 0 || sflag <= 1)
        {
            o.Write(NetFormat.Invariant($"\t{forward} packet{NetFormat.Plural(forward)} forwarded"));
        }

        if (fast != 0 || sflag <= 1)
        {
            o.Write(NetFormat.Invariant($" ({fast} packet{NetFormat.Plural(fast)} fast forwarded)"));
        }

        if (forward != 0 || sflag <= 1)
        {
            o.WriteLine();
        }

        w.P(S(IpStat.ips_cantforward), "packet{0} not forwardable");
        w.P(S(IpStat.ips_notmember), "packet{0} received for unknown multicast group");
        w.P(S(IpStat.ips_redirectsent), "redirect{0} sent");
        w.P(S(IpStat.ips_localout), "packet{0} sent from this host");
        w.P(S(IpStat.ips_rawout), "packet{0} sent with fabricated ip header");
        w.P(S(IpStat.ips_odropped), "output packet{0} dropped due to no bufs, etc.");
        w.P(S(IpStat.ips_noroute), "output packet{0} discarded due to no route");
        w.P(S(IpStat.ips_fragmented), "output datagram{0} fragmented");
        w.P(S(IpStat.ips_ofragments), "fragment{0} created");
        w.P(S(IpStat.ips_cantfrag), "datagram{0} that can't be fragmented");
        w.P(S(IpStat.ips_nogif), "tunneling packet{0} that can't find gif");
        w.P(S(IpStat.ips_badaddr), "datagram{0} with bad address in header");
    }

    /// <summary>icmp_stats() of usr.bin/netstat/inet.c.</summary>
    internal static void PrintIcmp(TextWriter o, int sflag)
    {
        long S(IcmpStat f) => Icmp.Fetch(f);
        var w = new StatWriter(o, sflag);
        o.WriteLine("icmp:");
        w.P(S(IcmpStat.icps_error), "call{0} to icmp_error");
        w.P(S(IcmpStat.icps_oldicmp), "error{0} not generated in response to an icmp message");
        Histogram(o, "Output histogram:", Icmp.FetchOutHist);
        w.P(S(IcmpStat.icps_badcode), "message{0} with bad code fields");
        w.P(S(IcmpStat.icps_tooshort), "message{0} less than the minimum length");
        w.P(S(IcmpStat.icps_checksum), "message{0} with bad checksum");
        w.P(S(IcmpStat.icps_badlen), "message{0} with bad length");
        w.P1(S(IcmpStat.icps_bmcastecho), "multicast echo requests ignored");
        w.P1(S(IcmpStat.icps_bmcasttstamp), "multicast timestamp requests ignored");
        Histogram(o, "Input histogram:", Icmp.FetchInHist);
        w.P(S(IcmpStat.icps_reflect), "message response{0} generated");
        w.Pes(S(IcmpStat.icps_badaddr), "invalid return address{0}");
        w.P(S(IcmpStat.icps_noroute), "no return route{0}");
    }

    private static void Histogram(TextWriter o, string title, Func<byte, long> fetch)
    {
        bool first = true;
        for (int type = 0; type <= Icmp.MaxType; type++)
        {
            long count = fetch((byte)type);
            if (count == 0)
            {
                continue;
            }

            if (first)
            {
                o.WriteLine($"\t{title}");
                first = false;
            }

            o.WriteLine(NetFormat.Invariant($"\t\t{IcmpNames[type]}: {count}"));
        }
    }

    /// <summary>udp_stats() of usr.bin/netstat/inet.c.</summary>
    internal static void PrintUdp(TextWriter o, int sflag)
    {
        long S(UdpStat f) => Udp.Fetch(f);
        var w = new StatWriter(o, sflag);
        o.WriteLine("udp:");
        w.P(S(UdpStat.udps_ipackets), "datagram{0} received");
        w.P1(S(UdpStat.udps_hdrops), "with incomplete header");
        w.P1(S(UdpStat.udps_badlen), "with bad data length field");
        w.P1(S(UdpStat.udps_badsum), "with bad checksum");
        w.P1(S(UdpStat.udps_nosum), "with no checksum");
        w.P1(S(UdpStat.udps_noport), "dropped due to no socket");
        w.P(S(UdpStat.udps_noportbcast), "broadcast/multicast datagram{0} undelivered");
        w.P1(S(UdpStat.udps_fullsock), "dropped due to full socket buffers");
        w.P1(S(UdpStat.udpps_pcbhashmiss), "not for hashed pcb");
        long delivered = S(UdpStat.udps_ipackets) - S(UdpStat.udps_hdrops) - S(UdpStat.udps_badlen) - S(UdpStat.udps_badsum)
                         - S(UdpStat.udps_noport) - S(UdpStat.udps_noportbcast) - S(UdpStat.udps_fullsock);
        w.P1(delivered, "delivered");
        w.P(S(UdpStat.udps_opackets), "datagram{0} output");
        w.P(S(UdpStat.udps_filtermcast), "time{0} multicast source filter matched");
    }

    /// <summary>arp_stats() of usr.bin/netstat/inet.c (including its "ARP entrys timed out").</summary>
    internal static void PrintArp(TextWriter o, int sflag)
    {
        long S(ArpStat f) => ArpLayer.Fetch(f);
        var w = new StatWriter(o, sflag);
        o.WriteLine("arp:");
        w.P(S(ArpStat.txrequests), "ARP request{0} sent");
        w.Pies(S(ArpStat.txreplies), "ARP repl{0} sent");
        w.P(S(ArpStat.rxrequests), "ARP request{0} received");
        w.Pies(S(ArpStat.rxreplies), "ARP repl{0} received");
        w.P(S(ArpStat.received), "ARP packet{0} received");
        w.P(S(ArpStat.dropped), "total packet{0} dropped due to no ARP entry");
        w.P(S(ArpStat.timeouts), "ARP entry{0} timed out");
        w.P(S(ArpStat.dupips), "Duplicate IP{0} seen");
    }

    /// <summary>netstat's p()/p1a()/p2() macros: "\t&lt;n&gt; &lt;text&gt;", zero lines skipped with -ss.</summary>
    private readonly struct StatWriter(TextWriter output, int sflag)
    {
        public void P(long n, string text) => Line(n, string.Format(System.Globalization.CultureInfo.InvariantCulture, text, NetFormat.Plural(n)));

        public void Pes(long n, string text) => Line(n, string.Format(System.Globalization.CultureInfo.InvariantCulture, text, NetFormat.Plurales(n)));

        public void Pies(long n, string text) => Line(n, string.Format(System.Globalization.CultureInfo.InvariantCulture, text, NetFormat.Pluralies(n)));

        public void P1(long n, string text) => Line(n, text);

        private void Line(long n, string text)
        {
            if (n != 0 || sflag <= 1)
            {
                output.WriteLine(NetFormat.Invariant($"\t{n} {text}"));
            }
        }
    }
}
