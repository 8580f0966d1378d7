using System.Globalization;
using Vimage.Net.Dummynet;
using Vimage.Net.Ipfw;
using static Vimage.Cli.Commands.Ipfw.IpfwException;

namespace Vimage.Cli.Commands.Ipfw;

/// <summary>ipfw pipe|queue|sched ...: dummynet's configuration and its listing as ipfw prints it (dummynet.c list_pipes).</summary>
internal static class DummynetCommand
{
    public static int Run(CommandContext context, string kind, string[] av, bool quiet)
    {
        bool queue = kind == "queue";
        if (av.Length == 0)
        {
            throw new IpfwException(EX_USAGE, "missing command");
        }

        DnTables tables = DnIo.Tables;
        switch (av[0])
        {
            case "flush":
                tables.Flush();
                if (!quiet)
                {
                    context.Out.WriteLine("Flushed all pipes.");
                }

                return 0;
            case "show" or "list":
                return Show(context, tables, queue, av.Length > 1 ? Number(av[1], kind) : 0, kind == "sched");
            case "delete":
                return Delete(context, tables, queue, av[1..].Select(a => Number(a, kind)).ToArray());
        }

        int nr = Number(av[0], kind);
        if (av.Length < 2)
        {
            throw new IpfwException(EX_USAGE, "missing command");
        }

        switch (av[1])
        {
            case "config" when kind == "sched":
                return ConfigureSched(tables, nr, av[2..]);
            case "config":
                DnPipeConfig config = DummynetParser.ParsePipe(av, 2, DnIo.SlotLimit, DnIo.ByteLimit, out int parent, out int weight);
                IpFw.Load();
                if (queue)
                {
                    if (parent == 0)
                    {
                        throw new IpfwException(EX_DATAERR, "queue needs a pipe");
                    }

                    if (!tables.ConfigureQueue(nr, parent, weight, config))
                    {
                        throw new IpfwException(EX_UNAVAILABLE, "setsockopt(IP_DUMMYNET3): Invalid argument");
                    }

                    return 0;
                }

                if (parent != 0)
                {
                    throw new IpfwException(EX_DATAERR, "unrecognised option ``pipe''");
                }

                tables.ConfigurePipe(nr, config);
                return 0;
            case "show" or "list":
                return Show(context, tables, queue, nr, kind == "sched");
            case "delete":
                return Delete(context, tables, queue, [nr]);
            default:
                throw new IpfwException(EX_USAGE, $"unrecognised option ``{av[1]}''");
        }
    }

    /// <summary>
    /// ipfw sched N config [type T] [link parameters]: sets the scheduler of pipe N (created if needed, as a sched
    /// config creates its link). fifo and wf2q+ exist; FreeBSD's other modules (rr, qfq, prio, fq_codel, fq_pie) are
    /// refused. Parsed whole before anything changes.
    /// </summary>
    private static int ConfigureSched(DnTables tables, int nr, string[] av)
    {
        DnSchedType? type = null;
        var rest = new List<string>();
        for (int i = 0; i < av.Length; i++)
        {
            if (av[i] == "type")
            {
                if (i + 1 >= av.Length)
                {
                    throw new IpfwException(EX_USAGE, "type needs argument");
                }

                string t = av[++i];
                type = t.ToUpperInvariant() switch
                {
                    "FIFO" => DnSchedType.Fifo,
                    "WF2Q+" or "WF2QP" or "WF2Q" => DnSchedType.Wf2qPlus,
                    "RR" or "QFQ" or "PRIO" or "FQ_CODEL" or "FQ_PIE" =>
                        throw new IpfwException(EX_UNAVAILABLE, $"scheduler type {t} is not supported in Vimage (fifo, wf2q+)"),
                    _ => throw new IpfwException(EX_UNAVAILABLE, "setsockopt(IP_DUMMYNET3): Invalid argument"), // no such dn_sched module
                };
                continue;
            }

            rest.Add(av[i]);
        }

        DnPipeConfig? config = rest.Count > 0 || tables.FindPipe(nr) is null
            ? DummynetParser.ParsePipe([.. rest], 0, DnIo.SlotLimit, DnIo.ByteLimit, out int parent, out _)
            : null;
        IpFw.Load();
        DnPipe pipe = config is not null ? tables.ConfigurePipe(nr, config) : tables.FindPipe(nr)!;
        if (type is { } ty)
        {
            pipe.SchedType = ty;
        }

        return 0;
    }

    private static int Number(string s, string kind) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && n <= DnIo.MaxNumber
            ? n : throw new IpfwException(EX_USAGE, $"{kind} number required");

    private static int Delete(CommandContext context, DnTables tables, bool queue, int[] numbers)
    {
        if (numbers.Length == 0)
        {
            throw new IpfwException(EX_USAGE, "missing rule specification");
        }

        int exit = 0;
        foreach (int n in numbers)
        {
            if (!(queue ? tables.DeleteQueue(n) : tables.DeletePipe(n)))
            {
                context.Err.WriteLine($"ipfw: rule {n}: setsockopt(IP_DUMMYNET_DEL): Invalid argument");
                exit = EX_UNAVAILABLE;
            }
        }

        return exit;
    }

    private static int Show(CommandContext context, DnTables tables, bool queue, int only, bool sched = false)
    {
        IEnumerable<DnPipe> items = (queue ? tables.Queues : tables.Pipes).OrderBy(p => p.Number);
        foreach (DnPipe p in items)
        {
            if (only != 0 && p.Number != only)
            {
                continue;
            }

            DnPipe link = p.Parent ?? p;
            DnPipeConfig c = link.Config;
            if (queue)
            {
                context.Out.WriteLine($"q{p.Number:D5} {Limit(p.Config)} {p.FlowCount} flows ({Buckets(p.Config)} buckets) sched {link.Number} weight {p.Weight} lmax 0 pri 0 droptail");
                MaskLine(context, p.Config);
            }
            else if (sched)
            {
                context.Out.WriteLine($"{p.Number:D5}: {Bandwidth(c.Bandwidth)} {c.DelayUs / 1000,4} ms burst 0");
                int active = tables.Queues.Count(q => q.Parent == p && q.Occupancy.Packets > 0);
                context.Out.WriteLine($" sched {p.Number} type {(p.SchedType == DnSchedType.Fifo ? "FIFO" : "WF2Q+")} flags 0x0 0 buckets {active} active");
                continue;
            }
            else
            {
                context.Out.WriteLine($"{p.Number:D5}: {Bandwidth(c.Bandwidth)} {c.DelayUs / 1000,4} ms burst 0");
                context.Out.WriteLine($"q{p.Number + 131072:D6} {Limit(c)} {p.FlowCount} flows ({Buckets(c)} buckets) sched {p.Number + 65536} weight 0 lmax 0 pri 0 droptail");
                MaskLine(context, c);
                context.Out.WriteLine($" sched {p.Number + 65536} type FIFO flags 0x0 0 buckets 1 active");
                string extras = Extras(c);
                if (extras.Length > 0)
                {
                    context.Out.WriteLine($" netem{extras}");
                }
            }

            (int qlen, long qbytes) = link.Occupancy;
            context.Out.WriteLine("BKT Prot ___Source IP/port____ ____Dest. IP/port____ Tot_pkt/bytes Pkt/Byte Drp");
            if (p.FlowCount == 0)
            {
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  0 ip           0.0.0.0/0             0.0.0.0/0     {p.TotalPackets,4} {p.TotalBytes,8} {qlen,2} {qbytes,4} {p.Drops,3}"));
            }

            int bucket = 0;
            foreach ((DnFlowKey k, DnPipe flow) in p.Flows.OrderBy(e => e.Key.SrcIp).ThenBy(e => e.Key.DstIp).ThenBy(e => e.Key.SrcPort).ThenBy(e => e.Key.DstPort))
            {
                (int fl, long fb) = flow.Occupancy;
                string src = $"{new Vimage.Net.Inet.InAddr(k.SrcIp)}/{k.SrcPort}", dst = $"{new Vimage.Net.Inet.InAddr(k.DstIp)}/{k.DstPort}";
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{bucket++,3} {k.Proto,-4} {src,21} {dst,21} {flow.TotalPackets,4} {flow.TotalBytes,8} {fl,2} {fb,4} {flow.Drops,3}"));
            }
        }

        return 0;
    }

    private static int Buckets(DnPipeConfig c) => c.Mask is null ? 1 : c.Buckets > 0 ? c.Buckets : 64;

    /// <summary>list_flow's mask line: "    mask:  0x00 0xffffffff/0x0000 -> 0x00000000/0x0000".</summary>
    private static void MaskLine(CommandContext context, DnPipeConfig c)
    {
        if (c.Mask is { } k)
        {
            context.Out.WriteLine($"    mask:  0x{k.Proto:x2} 0x{k.SrcIp:x8}/0x{k.SrcPort:x4} -> 0x{k.DstIp:x8}/0x{k.DstPort:x4}");
        }
    }

    private static string Limit(DnPipeConfig c) => c.QueueBytes > 0 ? $"{c.QueueBytes / 1024,3} KB" : $"{c.QueueSlots,3} sl.";

    /// <summary>list_pipes' bandwidth: unlimited, or %7.3f with Kbit/s, Mbit/s (Gbit/s beyond).</summary>
    public static string Bandwidth(long bw) => bw switch
    {
        0 => "unlimited",
        >= 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bw / 1e9,7:F3} Gbit/s"),
        >= 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bw / 1e6,7:F3} Mbit/s"),
        >= 1000 => string.Create(CultureInfo.InvariantCulture, $"{bw / 1e3,7:F3} Kbit/s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bw,7} bit/s"),
    };

    private static string Extras(DnPipeConfig c)
    {
        var s = new System.Text.StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        if (c.Plr > 0)
        {
            s.Append(inv, $" plr {c.Plr:0.######}");
        }

        if (c.JitterUs > 0)
        {
            s.Append(inv, $" jitter {c.JitterUs / 1000.0:0.###}ms distribution {(c.JitterDistribution == DnJitter.Normal ? "normal" : "uniform")}");
        }

        if (c.HasGilbert)
        {
            s.Append(inv, $" gilbert {c.GeP:0.######} {c.GeR:0.######} {c.GeLossBad:0.######} {c.GeLossGood:0.######}");
        }

        if (c.Dup > 0)
        {
            s.Append(inv, $" dup {c.Dup:0.######}");
        }

        if (c.Reorder > 0)
        {
            s.Append(inv, $" reorder {c.Reorder:0.######}");
        }

        if (c.Corrupt > 0)
        {
            s.Append(inv, $" corrupt {c.Corrupt:0.######}");
        }

        if (c.Seed is { } seed)
        {
            s.Append(inv, $" seed {seed}");
        }

        return s.ToString();
    }
}
