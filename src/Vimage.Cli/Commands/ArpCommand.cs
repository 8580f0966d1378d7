using System.Globalization;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Arp;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Cli.Commands;

/// <summary>
/// arp(8): -a lists the vnet's ARP table (own addresses included, as permanent entries), HOST shows one entry
/// ("-- no entry", exit 1, when there is none), -s HOST MAC adds a static entry on the interface of the connected
/// route, -d HOST deletes one (-d -a: all). -n and -i IF are accepted; names are never resolved ("?").
/// </summary>
public sealed class ArpCommand : ICommand
{
    public string Name => "arp";

    public string Usage => "arp [-n] [-i interface] hostname | arp [-n] [-i interface] -a | arp -d hostname | arp -d [-i interface] -a | arp -s hostname ether_addr [temp] [pub]";

    public int Run(CommandContext context, string[] args)
    {
        bool all = false, delete = false, set = false;
        string? ifname = null;
        var getopt = new Getopt("arp", args, "andfsSi:");
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
                    delete = true;
                    break;
                case 's':
                case 'S':
                    set = true;
                    break;
                case 'i':
                    ifname = getopt.Optarg;
                    break;
                default:
                    throw Unsupported.Option("arp", ch, "reading entries from a file is not supported in Vimage");
            }
        }

        var operands = new List<string>(getopt.Operands);
        using (Curvnet.Set(context.Vnet))
        {
            Ifnet? only = ifname is null ? null : Ifnets.TryFind(ifname) ?? throw new CommandException($"arp: interface {ifname} does not exist");
            if (set)
            {
                return delete || all ? throw new UsageException("arp: -s cannot be combined with -a or -d") : Set(operands, only);
            }

            if (delete)
            {
                if (all)
                {
                    return operands.Count == 0 ? DeleteAll(context, only) : throw new UsageException("arp: -d -a takes no hostname");
                }

                return operands is [var host] ? Delete(context, host) : throw new UsageException("arp: -d: one hostname is required");
            }

            if (all)
            {
                if (operands.Count != 0)
                {
                    throw new UsageException("arp: -a takes no hostname");
                }

                foreach (Entry e in Entries(only))
                {
                    context.Out.WriteLine(Format(e));
                }

                return 0;
            }

            if (operands is not [var target])
            {
                throw new UsageException("arp: a hostname or -a is required");
            }

            InAddr address = ParseHost(target);
            Entry[] found = Entries(only).Where(e => e.Address == address).ToArray();
            if (found.Length == 0)
            {
                context.Out.WriteLine($"{target} ({address}) -- no entry" + (ifname is null ? "" : $" on {ifname}"));
                return 1;
            }

            foreach (Entry e in found)
            {
                context.Out.WriteLine(Format(e));
            }

            return 0;
        }
    }

    /// <summary>What arp prints for one entry: an ARP table entry, or an address of our own (permanent, no timer).</summary>
    private sealed record Entry(Ifnet Interface, InAddr Address, byte[]? Mac, bool Permanent, long ExpiresAtMs);

    private static IEnumerable<Entry> Entries(Ifnet? only)
    {
        var entries = new List<Entry>();
        foreach (InIfaddr ia in InAddrs.All)
        {
            if (ia.Interface.Type == IfType.IFT_ETHER && ia.Interface.Lladdr.Length == 6)
            {
                entries.Add(new Entry(ia.Interface, ia.Address, ia.Interface.Lladdr, true, 0));
            }
        }

        foreach (LlEntry e in ArpLayer.Table.Entries)
        {
            bool resolved = e.State is LlState.Reachable or LlState.Static;
            entries.Add(new Entry(e.Interface, e.Address, resolved ? e.Mac : null, e.IsPermanent, e.ExpiresAtMs));
        }

        return entries.Where(e => only is null || e.Interface == only)
            .OrderBy(e => e.Interface.Index).ThenBy(e => e.Address.Value).ToArray();
    }

    /// <summary>print_entry() of usr.sbin/arp/arp.c with -n.</summary>
    private static string Format(Entry e)
    {
        string line = $"? ({e.Address}) at {(e.Mac is null ? "(incomplete)" : NetFormat.Mac(e.Mac))} on {e.Interface.Name}";
        if (e.Permanent)
        {
            line += " permanent";
        }
        else
        {
            long seconds = (e.ExpiresAtMs - NetTimers.NowMs) / 1000;
            line += seconds > 0 ? string.Create(CultureInfo.InvariantCulture, $" expires in {seconds} seconds") : " expired";
        }

        return e.Interface.Type == IfType.IFT_ETHER ? line + " [ethernet]" : line;
    }

    private static int Set(List<string> operands, Ifnet? only)
    {
        if (operands.Count < 2)
        {
            throw new UsageException("arp: -s: a hostname and an Ethernet address are required");
        }

        foreach (string word in operands.Skip(2))
        {
            if (word is not ("temp" or "pub" or "only" or "permanent"))
            {
                throw new UsageException($"arp: {word}: unknown keyword");
            }
        }

        string host = operands[0];
        InAddr address = ParseHost(host);
        if (!NetFormat.TryParseMac(operands[1], out byte[] mac))
        {
            throw new CommandException($"arp: invalid Ethernet address '{operands[1]}'");
        }

        Ifnet ifp = only ?? (Routes.Lookup(address) is { IsGateway: false, IsBlackhole: false, IsReject: false } route && route.Interface.Type == IfType.IFT_ETHER
            ? route.Interface
            : throw new CommandException($"arp: cannot intuit interface index and type for {host}"));
        ArpLayer.AddStatic(ifp, address, mac);
        return 0;
    }

    private static int Delete(CommandContext context, string host)
    {
        InAddr address = ParseHost(host);
        if (!ArpLayer.Delete(address))
        {
            throw new CommandException($"arp: delete: cannot locate {host}");
        }

        context.Out.WriteLine($"{host} ({address}) deleted");
        return 0;
    }

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

    private static InAddr ParseHost(string host)
        => InAddr.TryParse(host, out InAddr address) ? address : throw new CommandException($"arp: {host}: Name does not resolve");
}
