using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Tap;

namespace Vimage.Cli.Commands;

/// <summary>
/// ifconfig(8): lists interfaces in FreeBSD's format and configures them: create/destroy clones, up/down, mtu,
/// IPv4 addresses (inet A/len [alias], inet A netmask M, inet A -alias|delete), name, description, promisc, and
/// moving an interface into (vnet J) or out of (-vnet J) a jail. <c>-j J</c> runs the rest inside jail J.
/// Parameters are applied in order; an address change is applied after the others, as FreeBSD's ifconfig does.
/// </summary>
public sealed class IfconfigCommand : ICommand, IUsageStatus
{
    public string Name => "ifconfig";

    /// <summary>ifconfig's usage() exits 1.</summary>
    public int UsageExitCode => 1;

    /// <summary>usage() of sbin/ifconfig/ifconfig.c (FreeBSD 14), with the -C/-g/-G options Vimage registers.</summary>
    public string Usage =>
        "ifconfig [-j jail] [-f type:format] [-C] [-g groupname] [-G groupname] interface address_family\n" +
        "                [address [dest_address]] [parameters]\n" +
        "       ifconfig [-j jail] interface create\n" +
        "       ifconfig [-j jail] -a [-C] [-g groupname] [-G groupname] [-d] [-m] [-u] [-v] [address_family]\n" +
        "       ifconfig [-j jail] -l [-d] [-u] [address_family]\n" +
        "       ifconfig [-j jail] [-C] [-g groupname] [-G groupname] [-d] [-m] [-u] [-v]";

    /// <summary>FreeBSD 14 ifconfig's getopt string (-g and -G take a group name).</summary>
    public const string Optstring = "abCdDf:g:G:hj:klmnuv";

    /// <summary>The listing options: filters (-u -d -g -G), names only (-l) and -f output formats.</summary>
    internal sealed class ListOptions
    {
        public bool NamesOnly;
        public bool OnlyUp;
        public bool OnlyDown;
        public string? Group;
        public string? NoGroup;
        public string InetFormat = "default";
        public string EtherFormat = "default";

        public bool Matches(Ifnet ifp)
            => (!OnlyUp || ifp.IsUp) && (!OnlyDown || !ifp.IsUp)
               && (Group is null || IfGroups.IsMember(ifp, Group))
               && (NoGroup is null || !IfGroups.IsMember(ifp, NoGroup));
    }

    public int Run(CommandContext context, string[] args)
    {
        bool clonerList = false, all = false;
        string? jailName = null;
        var list = new ListOptions();
        var getopt = new Getopt("ifconfig", args, Optstring);
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            switch (ch)
            {
                case 'j':
                    jailName = getopt.Optarg!; // applied once every option is read, so -l -j J keeps -l
                    break;
                case 'a':
                    all = true;
                    break;
                case 'n':
                case 'v':
                case 'm':
                case 'k':
                case 'D':
                case 'b':
                case 'h':
                    break; // -v/-m/-k/-D/-b only add detail Vimage has nothing more of; -n: no module to load
                case 'l':
                    list.NamesOnly = true;
                    break;
                case 'u':
                    list.OnlyUp = true;
                    break;
                case 'd':
                    list.OnlyDown = true;
                    break;
                case 'C':
                    clonerList = true;
                    break;
                case 'g':
                    list.Group = getopt.Optarg;
                    break;
                case 'G':
                    list.NoGroup = getopt.Optarg;
                    break;
                default:
                    SetFormats(list, getopt.Optarg!);
                    break;
            }
        }

        if (all && list.NamesOnly)
        {
            throw new UsageException(""); // args_parse: -a and -l cannot be used together
        }

        string[] rest = args[getopt.Optind..];
        if (jailName is not null)
        {
            Jail jail = JexecCommand.FindOrFail(context, jailName, "ifconfig");
            using CommandContext jailed = context.In(jail);
            return Dispatch(jailed, rest, list, clonerList, all);
        }

        return Dispatch(context, rest, list, clonerList, all);
    }

    private static int Dispatch(CommandContext context, string[] rest, ListOptions list, bool clonerList, bool all)
    {
        using (Curvnet.Set(context.Vnet))
        {
            if (clonerList)
            {
                context.Out.WriteLine(string.Join(' ', Ifnets.ClonerNames));
                return 0;
            }

            bool familyOnly = rest is [var only] && only is "inet" or "ether" or "link" or "lladdr";
            if (list.NamesOnly || rest.Length == 0 || list.Group is not null || list.NoGroup is not null || (all && familyOnly))
            {
                return List(context, rest, list);
            }

            if (Ipfw.LinkShorthand.Applies(rest[1..]))
            {
                return Ipfw.LinkShorthand.Run(context, rest[0], rest[1..]); // Vimage extension: delay/loss/rate
            }

            return Configure(context, rest[0], rest[1..], list);
        }
    }

    /// <summary>-f type:format[,type:format...]: inet (default|cidr|dotted|hex) and ether (default|colon|dash|dotted).</summary>
    private static void SetFormats(ListOptions list, string spec)
    {
        foreach (string pair in spec.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = pair.IndexOf(':');
            string type = colon < 0 ? pair : pair[..colon], format = colon < 0 ? "" : pair[(colon + 1)..];
            switch (type)
            {
                case "inet":
                    list.InetFormat = format;
                    break;
                case "ether":
                    list.EtherFormat = format;
                    break;
                default:
                    break; // addr (names are never resolved) and inet6 (no IPv6) change nothing; others are ignored
            }
        }
    }

    private static int List(CommandContext context, string[] rest, ListOptions options)
    {
        string? family = null;
        if (rest.Length > 0)
        {
            family = rest is [var f] && f is "inet" or "ether" or "link" or "lladdr"
                ? (f == "inet" ? "inet" : "ether")
                : throw new UsageException("ifconfig: -a and -l take at most an address family (inet, ether)");
        }

        IEnumerable<Ifnet> interfaces = NetFormat.Interfaces()
            .Where(options.Matches)
            .Where(ifp => family != "inet" || InAddrs.On(ifp).Any())
            .Where(ifp => family != "ether" || ifp.Lladdr.Length == 6);
        if (options.NamesOnly)
        {
            context.Out.WriteLine(string.Join(' ', interfaces.Select(ifp => ifp.Name)));
            return 0;
        }

        foreach (Ifnet ifp in interfaces)
        {
            PrintStatus(context.Out, ifp, family, options);
        }

        return 0;
    }

    private static int Configure(CommandContext context, string name, string[] parameters, ListOptions list)
    {
        CheckName(name);
        if (parameters.Length > 0 && parameters[0] is "create" or "plumb")
        {
            // Everything is checked before the clone exists, so a bad line creates nothing.
            string[] rest = parameters[1..];
            TapHostConfig? tap = IsTap(name) ? IfconfigTapCreate.Extract(context, ref rest) : null;
            IfconfigPlan plan = IfconfigPlan.Parse(context, rest);
            plan.Validate(null);
            if (context.InJail && IsTap(name) && !TapLimits.JailsMayCreate)
            {
                // A TAP device appears in the host's namespace, outside the jail: the host decides.
                throw new CommandException(
                    $"ifconfig: SIOCIFCREATE2 ({name}): Operation not permitted (only the host creates TAP devices; it may allow jails with sysctl net.link.tap.jail_create=1)");
            }

            IReadOnlyList<Ifnet> created = tap is null ? Ifnets.Create(name) : [IfconfigTapCreate.Create(name, tap)];
            Ifnet first = created[0];
            if (first.Name != name)
            {
                context.Out.WriteLine(first.Name);
            }

            return plan.Apply(context, first);
        }

        if (parameters is ["-vnet", var jailName])
        {
            if (context.InJail)
            {
                throw new CommandException("ifconfig: SIOCSIFRVNET: Operation not permitted (only the host can take interfaces back)");
            }

            Jail jail = JexecCommand.FindOrFail(context, jailName, "ifconfig");
            Ifnets.Reclaim(name, jail.Vnet);
            return 0;
        }

        Ifnet ifp = Ifnets.Find(name);
        if (parameters.Length == 0)
        {
            PrintStatus(context.Out, ifp, null, list);
            return 0;
        }

        if (parameters is [var family] && family is "inet" or "ether" or "link" or "lladdr")
        {
            PrintStatus(context.Out, ifp, family == "inet" ? "inet" : "ether", list); // ifconfig IF inet: that family only
            return 0;
        }

        IfconfigPlan changes = IfconfigPlan.Parse(context, parameters);
        changes.Validate(ifp);
        return changes.Apply(context, ifp);
    }

    private static bool IsTap(string spec) => spec.StartsWith("tap", StringComparison.Ordinal) && spec[3..].All(char.IsAsciiDigit);

    /// <summary>ifconfig's main(): "interface name '%s' too long" when it does not fit IFNAMSIZ.</summary>
    internal static void CheckName(string name)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(name) >= IfconfigPlan.IfNameSize)
        {
            throw new CommandException($"ifconfig: interface name '{JailRegistry.Shown(name)}' too long");
        }
    }

    /// <summary>One interface in FreeBSD's ifconfig format (status(), af_link's ether, in_status, getifgroups, media).</summary>
    internal static void PrintStatus(TextWriter output, Ifnet ifp, string? family = null, ListOptions? options = null)
    {
        output.WriteLine(NetFormat.Invariant($"{ifp.Name}: flags={NetFormat.IfFlagsText(ifp.Flags)} metric 0 mtu {ifp.Mtu}"));
        if (ifp.Description.Length > 0)
        {
            output.WriteLine($"\tdescription: {ifp.Description}");
        }

        string group = IfGroups.DriverGroup(ifp);
        if (ifp.CapEnable != IfCap.None)
        {
            output.WriteLine($"\toptions={NetFormat.IfCapText(ifp.CapEnable)}");
        }

        if (ifp.Lladdr.Length == 6 && family is null or "ether")
        {
            output.WriteLine($"\tether {EtherText(ifp.Lladdr, options?.EtherFormat ?? "default")}");
        }

        foreach (InIfaddr ia in InAddrs.On(ifp))
        {
            if (family is "ether")
            {
                break;
            }

            string line = (options?.InetFormat ?? "default") switch
            {
                "cidr" => NetFormat.Invariant($"\tinet {ia.Address}/{ia.PrefixLength}"),
                "dotted" => $"\tinet {ia.Address} netmask {new InAddr(ia.Mask)}",
                _ => $"\tinet {ia.Address} netmask {NetFormat.HexMask(ia.Mask)}",
            };
            if ((ifp.Flags & IfFlags.IFF_BROADCAST) != 0 && ia.PrefixLength < 31)
            {
                line += $" broadcast {ia.BroadcastAddress}";
            }

            output.WriteLine(line);
        }

        // getifgroups: every group but "all".
        output.WriteLine("\tgroups: " + string.Join(' ', IfGroups.Of(ifp).Where(g => g != "all")));
        if (ifp.Fib != 0 && family is null)
        {
            output.WriteLine(NetFormat.Invariant($"\tfib: {ifp.Fib}")); // iffib.c's fib_status: only a fib other than RT_DEFAULT_FIB
        }

        if (ifp.Type == IfType.IFT_ETHER)
        {
            output.WriteLine(group == "epair" ? "\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)" : "\tmedia: Ethernet autoselect");
            output.WriteLine(ifp.IsRunning ? "\tstatus: active" : "\tstatus: no carrier");
        }
    }

    /// <summary>af_link's ether line under -f ether:colon|dash|dotted.</summary>
    private static string EtherText(byte[] mac, string format) => format switch
    {
        "dash" => NetFormat.Mac(mac).Replace(':', '-'),
        "dotted" => string.Concat(mac.Select((b, i) => (i is 2 or 4 ? "." : "") + b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))),
        _ => NetFormat.Mac(mac),
    };
}
