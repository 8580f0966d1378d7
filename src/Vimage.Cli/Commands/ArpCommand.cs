using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Arp;
using Vimage.Net.Inet;

namespace Vimage.Cli.Commands;

/// <summary>
/// arp(8) as usr.sbin/arp/arp.c: -a lists the vnet's table (own addresses included, as permanent entries), HOST
/// shows one entry ("-- no entry", exit 1), -s/-S HOST MAC [temp] [reject|blackhole] [pub [only]] adds one (-S
/// deletes the old first, printing "deleted"), -d HOST or -d -a deletes, -i IF limits -a and -d -a to one
/// interface; --libxo json|xml with arp.c's field names. Names are never resolved ("?"). Usage errors exit 1 as
/// arp's usage() does.
/// </summary>
public sealed class ArpCommand : ICommand
{
    private const string UsageText =
        "usage: arp [-n] [-i interface] hostname\n" +
        "       arp [-n] [-i interface] -a\n" +
        "       arp -d hostname [pub]\n" +
        "       arp -d [-i interface] -a\n" +
        "       arp -s hostname ether_addr [temp] [reject | blackhole] [pub [only]]\n" +
        "       arp -S hostname ether_addr [temp] [reject | blackhole] [pub [only]]\n" +
        "       arp -f filename";

    private enum Func
    {
        None,
        Get,
        Set,
        Replace,
        Delete,
        FileSet,
    }

    public string Name => "arp";

    public string Usage => UsageText["usage: ".Length..];

    /// <summary>arp's usage(): the seven lines on stderr, exit 1 (not EX_USAGE).</summary>
    private static CommandException UsageError(string? message = null)
        => new((message is null ? "" : message + "\n") + UsageText, 1);

    public int Run(CommandContext context, string[] args)
    {
        (XoStyle style, bool pretty) = Xo.ExtractArgs("arp", ref args);
        bool all = false;
        var func = Func.None;
        string? ifname = null;
        var getopt = new Getopt("arp", args, "andfsSi:");
        try
        {
            for (int ch; (ch = getopt.Next()) != -1;)
            {
                switch (ch)
                {
                    case 'a':
                        all = true;
                        break;
                    case 'n':
                        break;
                    case 'd':
                        func = SetFunc(func, Func.Delete);
                        break;
                    case 's':
                        func = SetFunc(func, Func.Set);
                        break;
                    case 'S':
                        func = SetFunc(func, Func.Replace);
                        break;
                    case 'f':
                        func = SetFunc(func, Func.FileSet);
                        break;
                    default:
                        ifname = getopt.Optarg;
                        break;
                }
            }
        }
        catch (UsageException e)
        {
            throw UsageError(e.Message);
        }

        string[] operands = getopt.Operands;
        if (func == Func.None)
        {
            func = Func.Get;
        }

        using (Curvnet.Set(context.Vnet))
        {
            Ifnet? only = null;
            if (ifname is not null)
            {
                if (func != Func.Get && !(func == Func.Delete && all))
                {
                    throw new CommandException("arp: -i not applicable to this operation");
                }

                only = Ifnets.TryFind(ifname) ?? throw new CommandException($"arp: interface {ifname} does not exist");
            }

            var xo = new Xo(context.Out, style, pretty);
            switch (func)
            {
                case Func.Get when all:
                {
                    if (operands.Length != 0)
                    {
                        throw UsageError();
                    }

                    var list = xo;
                    list.Field("__version", "1");
                    list.Open("arp");
                    list.OpenList("arp-cache");
                    foreach (Entry e in Entries(only))
                    {
                        Print(list, e);
                    }

                    list.CloseList();
                    list.Close();
                    list.Finish();
                    return 0;
                }

                case Func.Get:
                    return operands.Length == 1 ? Get(context, style, pretty, operands[0], only, ifname) : throw UsageError();
                case Func.Set:
                case Func.Replace:
                    if (operands.Length is < 2 or > 6)
                    {
                        throw UsageError();
                    }

                    if (func == Func.Replace)
                    {
                        // arp -S: delete() first, quietly when there is nothing to delete.
                        Delete(context, operands[0], quietWhenMissing: true);
                    }

                    return Set(context, operands);
                case Func.Delete when all:
                    return operands.Length == 0 ? DeleteAll(context, only) : throw UsageError();
                case Func.Delete:
                    return operands.Length == 1 ? Delete(context, operands[0], quietWhenMissing: false) : throw UsageError();
                default:
                    if (operands.Length != 1)
                    {
                        throw UsageError();
                    }

                    throw new CommandException($"arp: cannot open {operands[0]}: reading entries from a file is not supported in Vimage");
            }
        }
    }

    /// <summary>SETFUNC: a second function letter is a usage error.</summary>
    private static Func SetFunc(Func current, Func next) => current == Func.None ? next : throw UsageError();

    /// <summary>What arp prints for one entry: an ARP table entry, or an address of our own (permanent, no timer).</summary>
    private sealed record Entry(Ifnet Interface, InAddr Address, byte[]? Mac, bool Permanent, long ExpiresAtMs, bool Published);

    private static Entry[] Entries(Ifnet? only)
    {
        var entries = new List<Entry>();
        foreach (InIfaddr ia in InAddrs.All)
        {
            if (ia.Interface.Type == IfType.IFT_ETHER && ia.Interface.Lladdr.Length == 6)
            {
                entries.Add(new Entry(ia.Interface, ia.Address, ia.Interface.Lladdr, true, 0, false));
            }
        }

        foreach (LlEntry e in ArpLayer.Table.Entries)
        {
            bool resolved = e.State is LlState.Reachable or LlState.Static;
            entries.Add(new Entry(e.Interface, e.Address, resolved ? e.Mac : null, e.IsPermanent, e.ExpiresAtMs, e.Published));
        }

        return entries.Where(e => only is null || e.Interface == only)
            .OrderBy(e => e.Interface.Index).ThenBy(e => e.Address.Value).ToArray();
    }

    /// <summary>print_entry() of usr.sbin/arp/arp.c (names never resolved: "?").</summary>
    private static void Print(Xo xo, Entry e)
    {
        xo.OpenInstance();
        var line = new System.Text.StringBuilder();
        line.Append("? (").Append(e.Address).Append(") at ");
        xo.Field("hostname", "?");
        xo.Field("ip-address", e.Address.ToString());
        if (e.Mac is null)
        {
            line.Append("(incomplete)");
            xo.Field("incomplete", "true");
        }
        else
        {
            line.Append(NetFormat.Mac(e.Mac));
            xo.Field("mac-address", NetFormat.Mac(e.Mac));
        }

        line.Append(" on ").Append(e.Interface.Name);
        xo.Field("interface", e.Interface.Name);
        if (e.Permanent)
        {
            line.Append(" permanent");
            xo.Field("permanent", "true");
        }
        else
        {
            // rmx_expire - now in whole seconds, as the kernel keeps la_expire in seconds of uptime: a fresh
            // entry shows the full max_age (1200), not 1199.
            long seconds = (e.ExpiresAtMs / 1000) - (NetTimers.NowMs / 1000);
            if (seconds > 0)
            {
                line.Append(NetFormat.Invariant($" expires in {seconds} seconds"));
                xo.Field("expires", seconds);
            }
            else
            {
                line.Append(" expired");
                xo.Field("expired", "true");
            }
        }

        if (e.Published)
        {
            line.Append(" published");
            xo.Field("published", "true");
        }

        if (e.Interface.Type == IfType.IFT_ETHER)
        {
            line.Append(" [ethernet]");
            xo.Field("type", "ethernet");
        }

        xo.Text(line.Append('\n').ToString());
        xo.Close();
    }

    /// <summary>get(): the entries for one host, or "host (addr) -- no entry [on IF]", exit 1.</summary>
    private static int Get(CommandContext context, XoStyle style, bool pretty, string host, Ifnet? only, string? ifname)
    {
        InAddr address = ParseHost(host);
        var xo = new Xo(context.Out, style, pretty);
        xo.Field("__version", "1");
        xo.Open("arp");
        xo.OpenList("arp-cache");
        Entry[] found = Entries(only).Where(e => e.Address == address).ToArray();
        foreach (Entry e in found)
        {
            Print(xo, e);
        }

        if (found.Length == 0)
        {
            xo.Text($"{host} ({address}) -- no entry" + (ifname is null ? "" : $" on {ifname}") + "\n");
        }

        xo.CloseList();
        xo.Close();
        xo.Finish();
        return found.Length == 0 ? 1 : 0;
    }

    /// <summary>set(): the keywords after the address, then the interface from the route to the host.</summary>
    private static int Set(CommandContext context, string[] operands)
    {
        string host = operands[0], eaddr = operands[1];
        InAddr address = ParseHost(host);
        bool temp = false, pub = false, blackhole = false, reject = false;
        for (int i = 2; i < operands.Length; i++)
        {
            switch (operands[i])
            {
                case "temp":
                    temp = true;
                    break;
                case "pub":
                    pub = true;
                    if (i + 1 < operands.Length && operands[i + 1] == "only")
                    {
                        i++; // pre-FreeBSD 8 "only": accepted, means nothing more
                    }

                    break;
                case "blackhole":
                    blackhole = !reject ? true : throw new CommandException("arp: Choose one of blackhole or reject, not both.");
                    break;
                case "reject":
                    reject = !blackhole ? true : throw new CommandException("arp: Choose one of blackhole or reject, not both.");
                    break;
                default:
                    throw UsageError($"arp: Invalid parameter '{operands[i]}'");
            }
        }

        // The route to the host must be a connected (non-gateway) route on an Ethernet interface.
        Rtentry? route = Routes.Lookup(address);
        Ifnet? ifp = route is { IsGateway: false, IsBlackhole: false, IsReject: false } && route.Interface.Type == IfType.IFT_ETHER ? route.Interface : null;
        byte[] mac;
        if (pub && eaddr == "auto")
        {
            // get_ether_addr: the address of an up, broadcast-capable interface on the host's subnet.
            InIfaddr? ia = InAddrs.All.FirstOrDefault(a => a.Contains(address) && a.Interface.IsUp && a.Interface.Type == IfType.IFT_ETHER);
            if (ia is null)
            {
                context.Err.WriteLine($"arp: no interface found for {address}");
                return 1;
            }

            mac = ia.Interface.Lladdr;
            context.Out.WriteLine($"using interface {ia.Interface.Name} for proxy with address {NetFormat.Mac(mac)}");
        }
        else if (!NetFormat.TryParseMac(eaddr, out mac))
        {
            context.Err.WriteLine($"arp: invalid Ethernet address '{eaddr}'");
            return 1;
        }

        if (ifp is null)
        {
            context.Err.WriteLine($"arp: cannot intuit interface index and type for {host}");
            return 1;
        }

        // blackhole/reject are sent as RTF_* flags that FreeBSD's lltable (lla_rt_output) does not keep.
        ArpLayer.Add(ifp, address, mac, temp, pub);
        return 0;
    }

    /// <summary>delete(): "host (addr) deleted"; with -S a missing entry is no error and prints nothing.</summary>
    private static int Delete(CommandContext context, string host, bool quietWhenMissing)
    {
        InAddr address = ParseHost(host);
        if (!ArpLayer.Delete(address))
        {
            if (quietWhenMissing)
            {
                return 0;
            }

            context.Err.WriteLine($"arp: delete: cannot locate {host}");
            return 1;
        }

        context.Out.WriteLine($"{host} ({address}) deleted");
        return 0;
    }

    /// <summary>search(0, nuke_entry): every entry (of -i IF) but the pinned ones (our own addresses).</summary>
    private static int DeleteAll(CommandContext context, Ifnet? only)
    {
        foreach (LlEntry e in ArpLayer.Table.Entries.Where(e => only is null || e.Interface == only))
        {
            if (ArpLayer.Delete(e.Address))
            {
                context.Out.WriteLine($"{e.Address} ({e.Address}) deleted");
            }
        }

        return 0;
    }

    /// <summary>getaddr(): inet_addr, else a name lookup, which Vimage does not do (hstrerror's message).</summary>
    private static InAddr ParseHost(string host)
        => InAddr.TryParse(host, out InAddr address) ? address : throw new CommandException($"arp: {host}: Unknown host");
}
