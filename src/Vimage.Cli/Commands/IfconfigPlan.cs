using System.Globalization;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Cli.Commands;

/// <summary>
/// One ifconfig line's parameters, parsed and checked in full before anything changes (a bad word late in the
/// line must not leave the interface half configured), then applied in order with the address change last, as
/// FreeBSD's ifconfig applies it.
/// </summary>
/// <remarks>
/// <c>vnet J</c> ends the line. FreeBSD's ifconfig sends SIOCSIFVNET at once; every later parameter is another
/// ioctl on the interface's name in the caller's vnet, where the interface no longer exists, so it fails
/// ("ioctl (SIOCGIFFLAGS): no such interface") after the move has happened, and an address (always applied last)
/// fails the same way. Nothing after the move ever applies in the caller's vnet or in the jail. Vimage keeps
/// that outcome but refuses such a line before moving anything: configure the interface inside the jail instead
/// (<c>ifconfig -j J IF inet A/24 up</c>). Parameters before <c>vnet J</c> apply here first, then the move.
/// </remarks>
internal sealed class IfconfigPlan
{
    /// <summary>IFNAMSIZ: names hold at most 15 bytes and a NUL.</summary>
    public const int IfNameSize = 16;

    /// <summary>The MTU range the drivers accept (SIOCSIFMTU refuses others with EINVAL).</summary>
    public const int MinMtu = 68;

    public const int MaxMtu = 9000;

    private readonly List<Step> _steps = [];
    private InAddr? _address;
    private int? _prefix;
    private bool _alias;
    private bool _delete;

    private enum Kind
    {
        Up,
        Down,
        Mtu,
        Name,
        Description,
        Promisc,
        NoPromisc,
        Vnet,
        Destroy,
        Group,
        NoGroup,
        Fib,
        Cap,
        Flag,
        Lladdr,
    }

    private readonly record struct Step(Kind Kind, string Text = "", int Number = 0, Jail? Jail = null, byte[]? Bytes = null);

    /// <summary>basic_cmds' setifflags words other than up, down and promisc: the flag, and whether the word sets it.</summary>
    private static readonly Dictionary<string, (IfFlags Flag, bool On)> FlagWords = new(StringComparer.Ordinal)
    {
        ["arp"] = (IfFlags.IFF_NOARP, false),
        ["-arp"] = (IfFlags.IFF_NOARP, true),
        ["debug"] = (IfFlags.IFF_DEBUG, true),
        ["-debug"] = (IfFlags.IFF_DEBUG, false),
        ["link0"] = (IfFlags.IFF_LINK0, true),
        ["-link0"] = (IfFlags.IFF_LINK0, false),
        ["link1"] = (IfFlags.IFF_LINK1, true),
        ["-link1"] = (IfFlags.IFF_LINK1, false),
        ["link2"] = (IfFlags.IFF_LINK2, true),
        ["-link2"] = (IfFlags.IFF_LINK2, false),
        ["monitor"] = (IfFlags.IFF_MONITOR, true),
        ["-monitor"] = (IfFlags.IFF_MONITOR, false),
        ["staticarp"] = (IfFlags.IFF_STATICARP, true),
        ["-staticarp"] = (IfFlags.IFF_STATICARP, false),
        ["normal"] = (IfFlags.IFF_LINK0, false),
        ["compress"] = (IfFlags.IFF_LINK0, true),
        ["noicmp"] = (IfFlags.IFF_LINK1, true),
    };

    public static IfconfigPlan Parse(CommandContext context, string[] parameters)
    {
        var plan = new IfconfigPlan();
        for (int j = 0; j < parameters.Length; j++)
        {
            string p = parameters[j];
            switch (p)
            {
                case "up":
                    plan._steps.Add(new Step(Kind.Up));
                    break;
                case "down":
                    plan._steps.Add(new Step(Kind.Down));
                    break;
                case "mtu":
                {
                    int mtu = ParseInt(Next(parameters, ref j, p), "mtu");
                    plan._steps.Add(mtu is >= MinMtu and <= MaxMtu
                        ? new Step(Kind.Mtu, Number: mtu)
                        : throw new CommandException($"ifconfig: ioctl SIOCSIFMTU (set mtu): Invalid argument (mtu {mtu} out of range [{MinMtu}, {MaxMtu}])"));
                    break;
                }

                case "lladdr":
                case "link":
                case "ether":
                    // af_link: the family word, then (unless the next word is a command) its address.
                    if (j + 1 < parameters.Length && !IsKeyword(parameters[j + 1]))
                    {
                        plan._steps.Add(new Step(Kind.Lladdr, Bytes: ParseLladdr(parameters[++j])));
                    }

                    break;
                case var flagWord when FlagWords.TryGetValue(flagWord, out var flag):
                    plan._steps.Add(new Step(Kind.Flag, flagWord, (int)flag.Flag, Bytes: flag.On ? [1] : [0]));
                    break;
                case "metric":
                    ParseInt(Next(parameters, ref j, p), "metric");
                    break;
                case "inet":
                    (plan._address, plan._prefix) = ParseAddress(Next(parameters, ref j, p));
                    break;
                case "netmask":
                {
                    string text = Next(parameters, ref j, p);
                    plan._prefix = NetFormat.TryParseNetmask(text, out int length)
                        ? length
                        : throw new CommandException($"ifconfig: {text}: bad value");
                    break;
                }

                case "broadcast":
                    Next(parameters, ref j, p);
                    break;
                case "alias":
                case "add":
                    plan._alias = true;
                    break;
                case "-alias":
                case "delete":
                case "remove":
                    plan._delete = true;
                    break;
                case "name":
                    plan._steps.Add(new Step(Kind.Name, CheckNewName(Next(parameters, ref j, p))));
                    break;
                case "description":
                case "descr":
                    plan._steps.Add(new Step(Kind.Description, Next(parameters, ref j, p)));
                    break;
                case "-description":
                case "-descr":
                    plan._steps.Add(new Step(Kind.Description, ""));
                    break;
                case "promisc":
                    plan._steps.Add(new Step(Kind.Promisc));
                    break;
                case "group":
                    plan._steps.Add(new Step(Kind.Group, CheckGroup(Next(parameters, ref j, p), "setifgroup")));
                    break;
                case "-group":
                    plan._steps.Add(new Step(Kind.NoGroup, CheckGroup(Next(parameters, ref j, p), "unsetifgroup")));
                    break;
                case "pcp":
                {
                    // setifpcp: the value is checked as ifconfig does, then SIOCSLANPCP: Vimage cannot tag frames
                    // with an 802.1Q priority, so the ioctl fails as for a driver without it.
                    string text = Next(parameters, ref j, p);
                    if (!RouteCommand.TryStrtol(text, out long pcp) || pcp < 0)
                    {
                        throw new CommandException("ifconfig: invalid value for pcp");
                    }

                    throw pcp > 7
                        ? new CommandException("ifconfig: value for pcp out of range")
                        : new CommandException("ifconfig: SIOCSLANPCP: Operation not supported");
                }

                case "-pcp":
                    throw new CommandException("ifconfig: SIOCSLANPCP: Operation not supported");
                case "fib":
                {
                    string text = Next(parameters, ref j, p);
                    plan._steps.Add(RouteCommand.TryStrtol(text, out long fib) && fib is >= 0 and <= uint.MaxValue
                        ? new Step(Kind.Fib, text, (int)Math.Min(fib, int.MaxValue))
                        : new Step(Kind.Fib, text, -1));
                    break;
                }
                case "-promisc":
                    plan._steps.Add(new Step(Kind.NoPromisc));
                    break;
                case var word when CapOf(word) is { } cap:
                    plan._steps.Add(new Step(Kind.Cap, word, (int)cap));
                    break;
                case "vnet":
                {
                    string jailName = Next(parameters, ref j, p);
                    if (context.InJail)
                    {
                        throw new CommandException("ifconfig: SIOCSIFVNET: Operation not permitted (only the host can move interfaces into jails)");
                    }

                    if (j != parameters.Length - 1)
                    {
                        throw VnetNotLast(jailName, parameters[(j + 1)..]);
                    }

                    plan._steps.Add(new Step(Kind.Vnet, jailName, Jail: JexecCommand.FindOrFail(context, jailName, "ifconfig")));
                    break;
                }

                case "linuxname":
                case "netns":
                case "queues":
                    throw new CommandException($"ifconfig: {p}: only with 'ifconfig tap create' (a Vimage extension)");
                case "-vnet":
                    throw new UsageException("ifconfig: -vnet must be the only parameter: ifconfig IF -vnet JAIL");
                case "destroy":
                case "unplumb":
                    if (j != parameters.Length - 1)
                    {
                        throw new UsageException("ifconfig: destroy must be the last parameter");
                    }

                    plan._steps.Add(new Step(Kind.Destroy));
                    break;
                default:
                    if (p.Length > 0 && char.IsAsciiDigit(p[0]) && plan._address is null)
                    {
                        (plan._address, plan._prefix) = ParseAddress(p); // the address family defaults to inet
                        break;
                    }

                    // FreeBSD takes an unknown word for an address of the family: in_getaddr's "bad value".
                    throw Unsupported(p) ?? new CommandException($"ifconfig: {p}: bad value");
            }
        }

        if (plan._address is null && !plan._delete && (plan._alias || plan._prefix is not null))
        {
            throw new UsageException("ifconfig: an address is required (inet A[/len])");
        }

        bool changesAddress = plan._address is not null || plan._delete;
        if (changesAddress && plan._steps.Count > 0 && plan._steps[^1].Kind is Kind.Vnet or Kind.Destroy)
        {
            // FreeBSD applies the address after every other parameter: after the move or the destroy, on an
            // interface that is no longer there.
            Step last = plan._steps[^1];
            throw last.Kind == Kind.Vnet
                ? VnetNotLast(last.Text, ["inet", plan._address?.ToString() ?? "delete"])
                : new UsageException("ifconfig: destroy cannot be combined with an address change");
        }

        return plan;
    }

    /// <summary>
    /// The checks that need the interface (null: one about to be created): names and addresses free, addresses
    /// present. Run before anything is applied.
    /// </summary>
    public void Validate(Ifnet? ifp)
    {
        string finalName = ifp?.Name ?? "";
        foreach (Step step in _steps)
        {
            if (step.Kind == Kind.Name)
            {
                if (Ifnets.TryFind(step.Text) is { } other && other != ifp)
                {
                    throw new CommandException("ifconfig: ioctl SIOCSIFNAME (set name): File exists");
                }

                finalName = step.Text;
            }
            else if (step.Kind == Kind.Vnet && ifp is not null && step.Jail!.Vnet != ifp.Vnet
                     && Ifnets.Of(step.Jail.Vnet).Find(finalName) is not null)
            {
                throw new CommandException($"ifconfig: SIOCSIFVNET: File exists (an interface named {finalName} is already in {step.Jail.Name})");
            }
        }

        if (ifp is not null && _steps.Exists(s => s.Kind == Kind.Lladdr && s.Bytes!.Length != ifp.Lladdr.Length))
        {
            // if_setlladdr's EINVAL for a length other than the interface's (and lo0 has none), reported by
            // ifconfig's address step.
            throw new CommandException("ifconfig: SIOCAIFADDR: Invalid argument");
        }

        IReadOnlyList<InIfaddr> mine = ifp is null ? [] : InAddrs.On(ifp).ToArray();
        if (_address is not { } address)
        {
            if (_delete && mine.Count == 0)
            {
                throw new CommandException("ifconfig: ioctl (SIOCDIFADDR): Can't assign requested address");
            }

            return;
        }

        if (_delete)
        {
            if (!mine.Any(a => a.Address == address))
            {
                throw new CommandException($"ifconfig: ioctl (SIOCDIFADDR): Can't assign requested address ({address} is not on {finalName})");
            }

            return;
        }

        // in_aifaddr_ioctl's checks, made before the old primary address is removed (a refused address must not
        // cost the interface the one it had).
        if (address.IsAny || address.IsBroadcast || address.IsMulticast)
        {
            throw new CommandException($"ifconfig: {address}: not a usable interface address");
        }

        InIfaddr? replaced = _alias ? null : mine.FirstOrDefault();
        if (InAddrs.All.FirstOrDefault(a => a.Address == address) is { } existing && existing != replaced)
        {
            throw new CommandException($"ifconfig: ioctl (SIOCAIFADDR): File exists ({address} is already configured)");
        }
    }

    /// <summary>Applies the parameters in order; the address change (if any) comes last, like FreeBSD's ifconfig.</summary>
    public int Apply(CommandContext context, Ifnet ifp)
    {
        foreach (Step step in _steps)
        {
            switch (step.Kind)
            {
                case Kind.Up:
                    ifp.SetUp(true);
                    break;
                case Kind.Down:
                    ifp.SetUp(false);
                    break;
                case Kind.Mtu:
                    ifp.SetMtu(step.Number);
                    break;
                case Kind.Name:
                    Ifnets.Rename(ifp, step.Text);
                    context.Out.WriteLine(ifp.Name);
                    break;
                case Kind.Description:
                    ifp.Description = step.Text;
                    break;
                case Kind.Promisc:
                    ifp.SetPromiscuous(true);
                    break;
                case Kind.NoPromisc:
                    ifp.SetPromiscuous(false);
                    break;
                case Kind.Vnet:
                    Ifnets.Move(ifp, step.Jail!.Vnet);
                    return 0;
                case Kind.Destroy:
                    Ifnets.Destroy(ifp.Name);
                    return 0;
                case Kind.Group:
                    IfGroups.Add(ifp, step.Text); // EEXIST is not an error (setifgroup)
                    break;
                case Kind.NoGroup:
                    IfGroups.Remove(ifp, step.Text); // ENOENT is not an error (unsetifgroup)
                    break;
                case Kind.Cap:
                    // setifcap: the bits go on or off among what the driver has (SIOCSIFCAP).
                    _ = step.Text.StartsWith('-') ? ifp.SetCapabilities(IfCap.None, (IfCap)step.Number) : ifp.SetCapabilities((IfCap)step.Number, IfCap.None);
                    break;
                case Kind.Flag:
                    ifp.SetUserFlag((IfFlags)step.Number, step.Bytes![0] != 0);
                    break;
                case Kind.Lladdr:
                    ifp.SetLladdr(step.Bytes);
                    if (ifp.IsUp)
                    {
                        foreach (InIfaddr ia in InAddrs.On(ifp).ToArray())
                        {
                            Vimage.Net.Arp.ArpLayer.Announce(ifp, ia.Address); // arp_handle_ifllchange
                        }
                    }

                    break;
                case Kind.Fib:
                    // setiffib: warn() only, the line goes on and the exit status stays 0; SIOCSIFFIB is EINVAL
                    // for a fib at or above net.fibs.
                    if (step.Number < 0)
                    {
                        context.Err.WriteLine($"ifconfig: fib {step.Text} not valid: Invalid argument");
                    }
                    else if (Fibs.SetInterfaceFib(ifp, step.Number) != 0)
                    {
                        context.Err.WriteLine("ifconfig: ioctl (SIOCSIFFIB): Invalid argument");
                    }

                    break;
            }
        }

        ApplyAddress(context, ifp);
        return 0;
    }

    private void ApplyAddress(CommandContext context, Ifnet ifp)
    {
        if (_address is not { } address)
        {
            if (_delete)
            {
                InAddrs.Remove(ifp, InAddrs.On(ifp).First().Address);
            }

            return;
        }

        if (_delete)
        {
            InAddrs.Remove(ifp, address);
            return;
        }

        if (_prefix is null)
        {
            context.Err.WriteLine("ifconfig: WARNING: setting interface address without mask is deprecated,");
            context.Err.WriteLine("default mask may not be correct.");
            _prefix = NetFormat.ClassfulPrefix(address);
        }

        if (!_alias && InAddrs.On(ifp).FirstOrDefault() is { } primary)
        {
            InAddrs.Remove(ifp, primary.Address); // without "alias" the new address replaces the first one
        }

        InAddrs.Add(ifp, address, _prefix.Value);

        // in_ifinit hands SIOCSIFADDR to the driver, and ether_ioctl/loioctl mark the interface IFF_UP: an address
        // alone makes it usable. An explicit "down" on the same line is kept (the user's last word).
        if (!ifp.IsUp && !_steps.Exists(s => s.Kind == Kind.Down))
        {
            ifp.SetUp(true);
        }
    }

    private static CommandException VnetNotLast(string jailName, string[] rest)
        => new($"ifconfig: vnet {jailName} must be the last parameter: after the move the interface is not in this vnet, so "
               + $"'{string.Join(' ', rest)}' would fail here (FreeBSD: ioctl: no such interface); configure it in the jail: ifconfig -j {jailName} ...");


    /// <summary>setifgroup/unsetifgroup's checks: no trailing digit (it would look like an interface), below IFNAMSIZ.</summary>
    private static string CheckGroup(string group, string function)
    {
        if (group.Length == 0)
        {
            throw new CommandException(function == "setifgroup" ? "ifconfig: SIOCAIFGROUP: Invalid argument" : "ifconfig: SIOCDIFGROUP: Invalid argument");
        }

        if (group.Length > 0 && char.IsAsciiDigit(group[^1]))
        {
            throw new CommandException($"ifconfig: {function}: group names may not end in a digit");
        }

        if (System.Text.Encoding.UTF8.GetByteCount(group) > IfGroups.MaxNameBytes)
        {
            throw new CommandException($"ifconfig: {function}: group name too long");
        }

        return group;
    }

    /// <summary>SIOCSIFNAME's checks on the new name: 1 to 15 bytes (copyinstr into IFNAMSIZ), printable.</summary>
    private static string CheckNewName(string name)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(name) >= IfNameSize)
        {
            throw new CommandException("ifconfig: ioctl SIOCSIFNAME (set name): File name too long");
        }

        if (name.Length == 0 || name.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new CommandException("ifconfig: ioctl SIOCSIFNAME (set name): Invalid argument");
        }

        return name;
    }

    private static (InAddr Address, int? Prefix) ParseAddress(string text)
    {
        if (!InAddr.TryParsePrefix(text, out InAddr address, out int length))
        {
            throw new CommandException($"ifconfig: {text}: bad value");
        }

        return (address, text.Contains('/') ? length : null);
    }

    /// <summary>ifconfig(8) parameters Vimage has no feature for: refused by name, exit 1, nothing applied.</summary>
    private static CommandException? Unsupported(string word)
    {
        string bare = word.TrimStart('-');
        return bare switch
        {
            "stickyarp" or "allmulti"
                or "txcsum" or "rxcsum" or "txcsum6" or "rxcsum6" or "tso" or "tso4" or "tso6" or "lro" or "vlanmtu"
                or "vlanhwtag" or "vlanhwfilter" or "vlanhwtso" or "vlanhwcsum" or "polling" or "wol" or "wol_ucast"
                or "wol_mcast" or "wol_magic" or "media" or "mediaopt" or "mode" or "instance"
                or "tunnel" or "deletetunnel" or "tunnelfib" or "vhid" or "advbase" or "advskew" or "pass"
                or "state" or "vlan" or "vlandev" or "vlanpcp" or "vlanproto" or "laggport" or "laggproto" or "addm"
                or "deletem" or "stp" or "span" or "label" or "maclabel" or "nomap" or "txrtlmt" or "hwrxtstmp" or "mextpg"
                or "inet6" or "prefixlen" or "anycast" or "eui64" or "carp" or "vxlanid" or "gif"
                => new CommandException($"ifconfig: {word}: not supported in Vimage"),
            _ => null,
        };
    }

    /// <summary>ifconfig's capability parameters (setifcap's table), with or without the leading '-'.</summary>
    private static IfCap? CapOf(string word) => word.TrimStart('-') switch
    {
        "rxcsum" => IfCap.IFCAP_RXCSUM,
        "txcsum" => IfCap.IFCAP_TXCSUM,
        "rxcsum6" => IfCap.IFCAP_RXCSUM_IPV6,
        "txcsum6" => IfCap.IFCAP_TXCSUM_IPV6,
        "tso4" => IfCap.IFCAP_TSO4,
        "tso6" => IfCap.IFCAP_TSO6,
        "tso" => IfCap.IFCAP_TSO,
        "lro" => IfCap.IFCAP_LRO,
        "vlanmtu" => IfCap.IFCAP_VLAN_MTU,
        _ => null,
    };

    /// <summary>
    /// af_link's link_getaddr: "random" (a locally administered unicast address) or hex bytes separated by ':'
    /// or '.' (link_addr); more than sa_data holds is "malformed link-level address". A length the interface does
    /// not have fails later, as SIOCSIFLLADDR does.
    /// </summary>
    private static byte[] ParseLladdr(string text)
    {
        if (text == "random")
        {
            byte[] mac = new byte[6];
            Random.Shared.NextBytes(mac);
            mac[0] = (byte)((mac[0] & 0xfc) | 0x02);
            return mac;
        }

        var bytes = new List<byte>();
        foreach (string part in text.Split(':', '.'))
        {
            if (part.Length is < 1 or > 2 || !byte.TryParse(part, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                return [.. bytes]; // link_addr stops at the first character that is neither a digit nor a separator
            }

            bytes.Add(b);
        }

        return bytes.Count > 14 ? throw new CommandException("ifconfig: malformed link-level address") : [.. bytes];
    }

    /// <summary>Is <paramref name="word"/> an ifconfig command rather than an address (cmd_lookup finds it).</summary>
    private static bool IsKeyword(string word)
        => FlagWords.ContainsKey(word) || CapOf(word) is not null || Unsupported(word) is not null || word is "up" or "down" or "mtu" or "metric" or "inet"
            or "netmask" or "broadcast" or "alias" or "add" or "-alias" or "delete" or "remove" or "name" or "description"
            or "descr" or "-description" or "-descr" or "promisc" or "-promisc" or "group" or "-group" or "pcp" or "-pcp"
            or "fib" or "vnet" or "-vnet" or "destroy" or "unplumb" or "lladdr" or "link" or "ether";

    private static string Next(string[] parameters, ref int j, string keyword)
    {
        if (j + 1 >= parameters.Length)
        {
            throw new CommandException($"ifconfig: '{keyword}' requires argument"); // cmd_lookup's errx(1)
        }

        return parameters[++j];
    }

    private static int ParseInt(string text, string what)
        => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new CommandException($"ifconfig: {what} {text}: bad value");
}
