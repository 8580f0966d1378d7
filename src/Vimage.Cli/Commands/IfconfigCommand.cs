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
public sealed class IfconfigCommand : ICommand
{
    public string Name => "ifconfig";

    public string Usage =>
        "ifconfig [-j jail] [-a] [-l] [-u] [-d] [-C] [interface [create | destroy] [up | down] [mtu N] [inet A[/len] [netmask M] [alias | -alias | delete]] "
        + "[name NEW] [description TEXT | -description] [promisc | -promisc] [vnet J | -vnet J] ...]";

    /// <summary>FreeBSD 14 ifconfig's getopt string.</summary>
    public const string Optstring = "abCdDf:gG:hj:klmnuv";

    public int Run(CommandContext context, string[] args)
    {
        bool listNames = false, onlyUp = false, onlyDown = false, clonerList = false;
        var getopt = new Getopt("ifconfig", args, Optstring);
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            switch (ch)
            {
                case 'j':
                    // FreeBSD 14: run the rest of the command inside the jail.
                    Jail jail = JexecCommand.FindOrFail(context, getopt.Optarg!, "ifconfig");
                    using (CommandContext jailed = context.In(jail))
                    {
                        return Run(jailed, args[getopt.Optind..]);
                    }

                case 'a':
                case 'n':
                case 'v':
                case 'm':
                case 'k':
                case 'D':
                case 'b':
                    break; // -a is the default listing; -v/-m/-k/-D/-b only add detail Vimage has nothing more of
                case 'l':
                    listNames = true;
                    break;
                case 'u':
                    onlyUp = true;
                    break;
                case 'd':
                    onlyDown = true;
                    break;
                case 'C':
                    clonerList = true;
                    break;
                case 'g':
                case 'G':
                    throw Unsupported.Option("ifconfig", ch, "interface groups are not supported in Vimage");
                case 'f':
                    throw Unsupported.Option("ifconfig", ch, "output format selection is not supported in Vimage");
                default:
                    throw Unsupported.Option("ifconfig", ch, "not supported in Vimage");
            }
        }

        int i = getopt.Optind;
        string[] rest = args[i..];
        using (Curvnet.Set(context.Vnet))
        {
            if (clonerList)
            {
                context.Out.WriteLine(string.Join(' ', Ifnets.ClonerNames));
                return 0;
            }

            if (listNames || rest.Length == 0)
            {
                return List(context, rest, listNames, onlyUp, onlyDown);
            }

            if (Ipfw.LinkShorthand.Applies(rest[1..]))
            {
                return Ipfw.LinkShorthand.Run(context, rest[0], rest[1..]); // Vimage extension: delay/loss/rate
            }

            return Configure(context, rest[0], rest[1..]);
        }
    }

    private static int List(CommandContext context, string[] rest, bool namesOnly, bool onlyUp, bool onlyDown)
    {
        bool inetOnly = false;
        if (rest.Length > 0)
        {
            if (namesOnly && rest is ["inet"])
            {
                inetOnly = true;
            }
            else if (!(namesOnly && rest is ["ether"]))
            {
                throw new UsageException("ifconfig: -l takes at most an address family (inet, ether)");
            }
        }

        IEnumerable<Ifnet> interfaces = NetFormat.Interfaces()
            .Where(ifp => (!onlyUp || ifp.IsUp) && (!onlyDown || !ifp.IsUp))
            .Where(ifp => !inetOnly || InAddrs.On(ifp).Any())
            .Where(ifp => !(namesOnly && rest is ["ether"]) || ifp.Lladdr.Length == 6);
        if (namesOnly)
        {
            context.Out.WriteLine(string.Join(' ', interfaces.Select(ifp => ifp.Name)));
            return 0;
        }

        foreach (Ifnet ifp in interfaces)
        {
            PrintStatus(context.Out, ifp);
        }

        return 0;
    }

    private static int Configure(CommandContext context, string name, string[] parameters)
    {
        CheckName(name);
        if (parameters.Length > 0 && parameters[0] is "create" or "plumb")
        {
            // Everything is checked before the clone exists, so a bad line creates nothing.
            IfconfigPlan plan = IfconfigPlan.Parse(context, parameters[1..]);
            plan.Validate(null);
            if (context.InJail && IsTap(name) && !TapLimits.JailsMayCreate)
            {
                // A TAP device appears in the host's namespace, outside the jail: the host decides.
                throw new CommandException(
                    $"ifconfig: SIOCIFCREATE2 ({name}): Operation not permitted (only the host creates TAP devices; it may allow jails with sysctl net.link.tap.jail_create=1)");
            }

            IReadOnlyList<Ifnet> created = Ifnets.Create(name);
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
            PrintStatus(context.Out, ifp);
            return 0;
        }

        if (parameters is [var family] && family is "inet" or "ether" or "link" or "lladdr")
        {
            PrintStatus(context.Out, ifp, family == "inet" ? "inet" : "ether"); // ifconfig IF inet: that family only
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

    /// <summary>One interface in FreeBSD's ifconfig format.</summary>
    internal static void PrintStatus(TextWriter output, Ifnet ifp, string? family = null)
    {
        output.WriteLine(NetFormat.Invariant($"{ifp.Name}: flags={NetFormat.IfFlagsText(ifp.Flags)} metric 0 mtu {ifp.Mtu}"));
        if (ifp.Description.Length > 0)
        {
            output.WriteLine($"\tdescription: {ifp.Description}");
        }

        string group = ifp.Cloner?.Name ?? ifp.Driver.DriverName;
        if (ifp.Type == IfType.IFT_LOOP)
        {
            output.WriteLine("\toptions=680003<RXCSUM,TXCSUM,LINKSTATE,RXCSUM_IPV6,TXCSUM_IPV6>");
        }
        else if (group == "epair")
        {
            output.WriteLine("\toptions=8<VLAN_MTU>");
        }

        if (ifp.Lladdr.Length == 6 && family is null or "ether")
        {
            output.WriteLine($"\tether {NetFormat.Mac(ifp.Lladdr)}");
        }

        foreach (InIfaddr ia in InAddrs.On(ifp))
        {
            if (family is "ether")
            {
                break;
            }

            string line = $"\tinet {ia.Address} netmask {NetFormat.HexMask(ia.Mask)}";
            if ((ifp.Flags & IfFlags.IFF_BROADCAST) != 0 && ia.PrefixLength < 31)
            {
                line += $" broadcast {ia.BroadcastAddress}";
            }

            output.WriteLine(line);
        }

        output.WriteLine($"\tgroups: {group}");
        if (ifp.Type == IfType.IFT_ETHER)
        {
            output.WriteLine(group == "epair" ? "\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)" : "\tmedia: Ethernet autoselect");
            output.WriteLine(ifp.IsRunning ? "\tstatus: active" : "\tstatus: no carrier");
        }
    }
}
