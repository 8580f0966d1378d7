using System.Globalization;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Cli.Commands;

/// <summary>
/// route(8) for IPv4 in FIB 0: add, delete, get (show), flush. Accepts FreeBSD's modifiers (-net, -host, -netmask,
/// -interface, -blackhole, -reject, -static, -fib 0, -inet) and options (-n, -q, -v, -4) and prints what it prints:
/// "add net 198.51.100.0: gateway 192.0.2.2"; failures as "route: writing to routing socket: File exists".
/// </summary>
public sealed class RouteCommand : ICommand
{
    public string Name => "route";

    public string Usage =>
        "route [-nqv] add|delete [-net|-host] destination[/len] [gateway] [-netmask mask] [-interface] [-blackhole|-reject] [-fib 0] | route [-n] get destination | route [-n] flush";

    public int Run(CommandContext context, string[] args)
    {
        bool quiet = false;
        var getopt = new Getopt("route", args, "46nqdtvj:");
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            switch (ch)
            {
                case 'n':
                case 'v':
                case '4':
                case 'd':
                    break;
                case 'q':
                    quiet = true;
                    break;
                case 'j':
                    Jail jail = JexecCommand.FindOrFail(context, getopt.Optarg!, "route");
                    using (CommandContext jailed = context.In(jail))
                    {
                        return Run(jailed, args[getopt.Optind..]);
                    }

                case '6':
                    throw Unsupported.Option("route", ch, "IPv6 is not supported in Vimage");
                default:
                    throw Unsupported.Option("route", ch, "test-only mode is not supported in Vimage");
            }
        }

        int i = getopt.Optind;
        if (i >= args.Length)
        {
            throw new UsageException("route: a command is required");
        }

        string command = args[i];
        string[] rest = args[(i + 1)..];
        using (Curvnet.Set(context.Vnet))
        {
            return command switch
            {
                "add" => Change(context, "add", rest, quiet),
                "delete" or "del" => Change(context, "delete", rest, quiet),
                "get" or "show" => Get(context, rest),
                "flush" => Flush(context, rest, quiet),
                _ => throw new UsageException($"route: {command}: unknown command"),
            };
        }
    }

    private static int Change(CommandContext context, string command, string[] args, bool quiet)
    {
        bool forceNet = false, forceHost = false, iface = false, blackhole = false, reject = false;
        string? netmask = null;
        var positional = new List<string>();
        for (int j = 0; j < args.Length; j++)
        {
            string a = args[j];
            switch (a)
            {
                case "-net":
                    forceNet = true;
                    break;
                case "-host":
                    forceHost = true;
                    break;
                case "-interface":
                case "-iface":
                    iface = true;
                    break;
                case "-blackhole":
                    blackhole = true;
                    break;
                case "-reject":
                    reject = true;
                    break;
                case "-static":
                case "-inet":
                case "-4":
                case "-nostatic":
                    break;
                case "-netmask":
                case "netmask":
                    netmask = Value(args, ref j, a);
                    break;
                case "-fib":
                {
                    string fib = Value(args, ref j, a);
                    if (fib != "0")
                    {
                        throw new CommandException($"route: fib {fib}: invalid fib number (only fib 0 exists)");
                    }

                    break;
                }

                case "-mtu":
                case "-weight":
                case "-expire":
                case "-hopcount":
                    Value(args, ref j, a);
                    break;
                default:
                    if (a.StartsWith('-') && a.Length > 1)
                    {
                        throw new UsageException($"route: {a}: unknown modifier");
                    }

                    positional.Add(a);
                    break;
            }
        }

        if (positional.Count == 0 || positional.Count > 3)
        {
            throw new UsageException($"route: {command}: a destination (and a gateway) is required");
        }

        if (positional.Count == 3)
        {
            netmask ??= positional[2]; // route add -net 10.0.0.0 gw 255.0.0.0 (old style)
        }

        (InAddr dst, int prefix, string shown) = ParseDestination(positional[0], forceNet, forceHost, netmask);
        string? gateway = positional.Count >= 2 ? positional[1] : null;
        string kind = prefix == 32 && !forceNet ? "host" : "net";
        string summary = $"{command} {kind} {shown}" + (gateway is null ? "" : $": gateway {gateway}");
        try
        {
            if (command == "delete")
            {
                Routes.Delete(dst, prefix);
            }
            else if (blackhole || reject)
            {
                Routes.AddDiscard(dst, prefix, reject);
            }
            else if (gateway is null)
            {
                throw new UsageException("route: add: a gateway (or -interface IF, -blackhole, -reject) is required");
            }
            else if (iface || !InAddr.TryParse(gateway, out _))
            {
                Ifnet ifp = Ifnets.TryFind(gateway) ?? InterfaceOfLocalAddress(gateway)
                    ?? throw new CommandException($"route: bad address: {gateway}");
                Routes.AddInterface(dst, prefix, ifp);
            }
            else
            {
                Routes.AddGateway(dst, prefix, InAddr.Parse(gateway));
            }
        }
        catch (RouteException e)
        {
            (string errno, string reason) = e.Error switch
            {
                RouteError.Exists => ("File exists", "route already in table"),
                RouteError.NetworkUnreachable => ("Network is unreachable", "Network is unreachable"),
                RouteError.NotInTable => ("No such process", "not in table"),
                _ => ("Invalid argument", "Invalid argument"),
            };
            context.Err.WriteLine($"route: writing to routing socket: {errno}");
            if (!quiet)
            {
                context.Err.WriteLine($"{summary} fib 0: {reason}");
            }

            return 1;
        }

        if (!quiet)
        {
            context.Out.WriteLine(summary);
        }

        return 0;
    }

    /// <summary>-interface also accepts a local address: the route goes out of the interface that has it.</summary>
    private static Ifnet? InterfaceOfLocalAddress(string text)
        => InAddr.TryParse(text, out InAddr a) ? InAddrs.All.FirstOrDefault(ia => ia.Address == a)?.Interface : null;

    /// <summary>
    /// FreeBSD's rules: "default" is 0/0; "a.b.c.d/len" is a net; a bare address is a host unless -net is given,
    /// in which case trailing zero octets pick the mask (10.0.0.0 → /8, 198.51.100.0 → /24).
    /// </summary>
    private static (InAddr Dst, int Prefix, string Shown) ParseDestination(string text, bool forceNet, bool forceHost, string? netmask)
    {
        if (text == "default")
        {
            return (InAddr.Any, 0, "default");
        }

        if (!InAddr.TryParsePrefix(text, out InAddr dst, out int prefix))
        {
            throw new CommandException($"route: bad address: {text}");
        }

        string shown = dst.ToString();
        bool hasLength = text.Contains('/');
        if (netmask is not null)
        {
            if (!NetFormat.TryParseNetmask(netmask, out prefix))
            {
                throw new CommandException($"route: bad netmask: {netmask}");
            }
        }
        else if (!hasLength)
        {
            prefix = forceNet ? NetFormat.NetPrefixFromZeros(dst) : 32;
        }

        if (forceHost)
        {
            prefix = 32;
        }

        return (new InAddr(dst.Value & InAddr.MaskOf(prefix)), prefix, shown);
    }

    private static int Get(CommandContext context, string[] args)
    {
        string[] targets = args.Where(a => a is not ("-net" or "-host" or "-inet" or "-4")).ToArray();
        if (targets.Length != 1)
        {
            throw new UsageException("route: get: one destination is required");
        }

        InAddr dst;
        if (targets[0] == "default")
        {
            dst = InAddr.Any;
        }
        else if (!InAddr.TryParsePrefix(targets[0], out dst, out _))
        {
            throw new CommandException($"route: bad address: {targets[0]}");
        }

        Rtentry? route = targets[0] == "default"
            ? Routes.All.FirstOrDefault(r => r.PrefixLength == 0)
            : Routes.Lookup(dst);
        if (route is null)
        {
            context.Err.WriteLine("route: route has not been found");
            return 1;
        }

        TextWriter o = context.Out;
        o.WriteLine($"   route to: {(targets[0] == "default" ? "default" : dst.ToString())}");
        o.WriteLine($"destination: {(route.PrefixLength == 0 ? "default" : route.Destination.ToString())}");
        if (!route.IsHost)
        {
            o.WriteLine($"       mask: {(route.PrefixLength == 0 ? "default" : new InAddr(route.Mask).ToString())}");
        }

        if (route.IsGateway)
        {
            o.WriteLine($"    gateway: {route.Gateway}");
        }

        o.WriteLine("        fib: 0");
        o.WriteLine($"  interface: {route.Interface.Name}");
        o.WriteLine($"      flags: <{FlagNames(route)}>");
        o.WriteLine(" recvpipe  sendpipe  ssthresh  rtt,msec    mtu        weight    expire");
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{0,8}  {0,8}  {0,8}  {0,8}  {route.Interface.Mtu,8}  {1,8}  {0,8} "));
        return 0;
    }

    /// <summary>route get's flags in RTF_* bit order (DONE marks a reply; connected routes are PINNED).</summary>
    internal static string FlagNames(Rtentry route)
    {
        var names = new List<string> { "UP" };
        if (route.IsGateway)
        {
            names.Add("GATEWAY");
        }

        if (route.IsHost)
        {
            names.Add("HOST");
        }

        if (route.IsReject)
        {
            names.Add("REJECT");
        }

        names.Add("DONE");
        bool isStatic = (route.Flags & RtFlags.RTF_STATIC) != 0;
        if (isStatic)
        {
            names.Add("STATIC");
        }

        if (route.IsBlackhole)
        {
            names.Add("BLACKHOLE");
        }

        if (!isStatic)
        {
            names.Add("PINNED");
        }

        return string.Join(',', names);
    }

    /// <summary>route flush: removes every gateway route, printing each as FreeBSD does.</summary>
    private static int Flush(CommandContext context, string[] args, bool quiet)
    {
        if (args.Any(a => a is not ("-inet" or "-4")))
        {
            throw new UsageException("route: flush takes no destination");
        }

        foreach (Rtentry route in Routes.Sorted(Routes.All).Where(r => r.IsGateway))
        {
            Routes.Delete(route.Destination, route.PrefixLength);
            if (!quiet)
            {
                context.Out.WriteLine($"{route.DestinationText,-20} {route.Gateway,-20} done");
            }
        }

        return 0;
    }

    private static string Value(string[] args, ref int j, string keyword)
    {
        if (j + 1 >= args.Length)
        {
            throw new UsageException($"route: {keyword}: missing argument");
        }

        return args[++j];
    }
}
