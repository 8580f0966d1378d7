using System.Globalization;
using Vimage.Core;

namespace Vimage.Net.Iflib;

/// <summary>
/// The dev.&lt;driver&gt;.&lt;unit&gt;.iflib tree with iflib's names: the override_* knobs (writing one reconfigures the
/// queues at once — a deliberate departure from iflib, which reads them only at attach), rx_budget and
/// tx_abdicate (live), and per-queue txqN/rxqN statistics including the mp_ring counters and ring_state, plus
/// per-queue packets, bytes and drops, which iflib lacks. iflib_add_device_sysctl_pre/post add these OIDs per
/// device; here one <see cref="SysctlNodeHandler"/> per driver answers for all its units from the shared tables
/// below (the per-instance part is the context itself), so thousands of interfaces cost no OIDs until listed.
/// </summary>
internal static class IflibSysctl
{
    private static readonly Dictionary<string, DriverNode> Drivers = new(StringComparer.Ordinal);

    private delegate SysctlOid MakeLeaf(string name, IflibContext ctx);

    private delegate SysctlOid MakeQueueLeaf<TQueue>(string name, TQueue queue);

    private static readonly (string Name, MakeLeaf Make)[] DeviceLeaves =
    [
        ("%desc", (n, ctx) => Sysctl.MakeProc(n, SysctlFlags.RD, "interface served by this device", () => ctx.Ifnet?.Name ?? "")),
        ("iflib.override_ntxqs", (n, ctx) => Sysctl.MakeProc(n, SysctlFlags.RW, "# of txqs to use, 0 => use default #",
            () => ctx.Config.TxQueues, v => Apply(ctx, ctx.Config with { TxQueues = v, RxQueues = ctx.OverrideQsEnable ? ctx.Config.RxQueues : v }))),
        ("iflib.override_nrxqs", (n, ctx) => Sysctl.MakeProc(n, SysctlFlags.RW, "# of rxqs to use, 0 => use default #",
            () => ctx.Config.RxQueues, v => Apply(ctx, ctx.Config with { RxQueues = v, TxQueues = ctx.OverrideQsEnable ? ctx.Config.TxQueues : v }))),
        ("iflib.override_qs_enable", (n, ctx) => Sysctl.MakeProc(n, SysctlFlags.RW, "permit #txq != #rxq",
            () => ctx.OverrideQsEnable ? 1 : 0, v => ctx.OverrideQsEnable = v != 0, 0, 1)),
        ("iflib.override_ntxds", (n, ctx) => Sysctl.MakeProc(n, SysctlFlags.RW, "# of tx descriptors to use",
            () => ctx.Config.TxDescriptors, v => Apply(ctx, ctx.Config with { TxDescriptors = v }))),
        ("iflib.override_nrxds", (n, ctx) => Sysctl.MakeProc(n, SysctlFlags.RW, "# of rx descriptors to use",
            () => ctx.Config.RxDescriptors, v => Apply(ctx, ctx.Config with { RxDescriptors = v }))),
        ("iflib.rx_budget", (n, ctx) => Sysctl.MakeProc(n, SysctlFlags.RW, "set the rx budget", () => ctx.RxBudget, v => ctx.RxBudget = v, 0, 65535)),
        ("iflib.tx_abdicate", (n, ctx) => Sysctl.MakeProc(n, SysctlFlags.RW, "cause tx to abdicate instead of running to completion",
            () => ctx.TxAbdicate ? 1 : 0, v => ctx.TxAbdicate = v != 0, 0, 1)),
        ("iflib.core_offset", (n, ctx) => Sysctl.MakeProc(n, SysctlFlags.RD, "offset to start using cores at", () => ctx.CoreOffset)),
        ("iflib.separate_txrx", (n, ctx) => Sysctl.MakeProc(n, SysctlFlags.RD, "use separate cores for TX and RX", () => ctx.SeparateTxRx ? 1 : 0)),
    ];

    private static readonly (string Name, MakeQueueLeaf<IflibTxQueue> Make)[] TxLeaves =
    [
        ("cpu", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "cpu this queue is bound to", () => q.CompletionTask.Cpu)),
        ("ring_state", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "soft ring state", () => q.Ring.StateString)),
        ("r_enqueues", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "# of enqueues to the mp_ring for this queue", () => q.Ring.Enqueues)),
        ("r_drops", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "# of drops in the mp_ring for this queue", () => q.Ring.Drops)),
        ("r_starts", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "# of normal consumer starts in mp_ring for this queue", () => q.Ring.Starts)),
        ("r_stalls", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "# of consumer stalls in the mp_ring for this queue", () => q.Ring.Stalls)),
        ("r_restarts", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "# of consumer restarts in the mp_ring for this queue", () => q.Ring.Restarts)),
        ("r_abdications", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "# of consumer abdications in the mp_ring for this queue", () => q.Ring.Abdications)),
        ("packets", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "packets sent on this queue", () => q.Packets)),
        ("bytes", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "bytes sent on this queue", () => q.Bytes)),
        ("drops", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "packets dropped on this queue", () => q.Drops)),
    ];

    private static readonly (string Name, MakeQueueLeaf<IflibRxQueue> Make)[] RxLeaves =
    [
        ("cpu", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "cpu this queue is bound to", () => q.Task.Cpu)),
        ("in_use", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "descriptors holding received packets", () => q.Ring.InUse)),
        ("packets", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "packets received on this queue", () => q.Packets)),
        ("bytes", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "bytes received on this queue", () => q.Bytes)),
        ("drops", (n, q) => Sysctl.MakeProc(n, SysctlFlags.RD, "packets dropped on this queue", () => q.Drops)),
    ];

    public static string Root(IflibContext ctx) => $"dev.{ctx.DriverName}.{ctx.Unit}";

    /// <summary>Makes the device's subtree visible (its driver's node is hung on first use).</summary>
    public static void Register(IflibContext ctx)
    {
        DriverNode node;
        lock (Drivers)
        {
            if (!Drivers.TryGetValue(ctx.DriverName, out DriverNode? found))
            {
                found = new DriverNode($"dev.{ctx.DriverName}");
                Sysctl.AddNodeHandler(found);
                Drivers.Add(ctx.DriverName, found);
            }

            node = found;
        }

        node.Add(ctx);
    }

    public static void Unregister(IflibContext ctx)
    {
        DriverNode? node;
        lock (Drivers)
        {
            Drivers.TryGetValue(ctx.DriverName, out node);
        }

        node?.Remove(ctx);
    }

    /// <summary>iflib's queue node names: txq%d, %02d past 10 queues, %03d past 100.</summary>
    public static string QueueName(string kind, int index, int count)
        => kind + index.ToString(count > 100 ? "D3" : count > 10 ? "D2" : "D", CultureInfo.InvariantCulture);

    private static void Apply(IflibContext ctx, IflibQueueConfig config)
    {
        try
        {
            ctx.Reconfigure(config);
        }
        catch (IfException e)
        {
            throw new SysctlException(SysctlError.InvalidValue, e.Message);
        }
    }

    /// <summary>Every leaf of one device, made from the tables (queue nodes from its current queue generation).</summary>
    private static IEnumerable<SysctlOid> LeavesOf(string root, IflibContext ctx)
    {
        foreach ((string name, MakeLeaf make) in DeviceLeaves)
        {
            yield return make($"{root}.{name}", ctx);
        }

        IReadOnlyList<IflibTxQueue> txqs = ctx.TxQueues;
        foreach (IflibTxQueue q in txqs)
        {
            foreach ((string name, MakeQueueLeaf<IflibTxQueue> make) in TxLeaves)
            {
                yield return make($"{root}.iflib.{QueueName("txq", q.Id, txqs.Count)}.{name}", q);
            }
        }

        IReadOnlyList<IflibRxQueue> rxqs = ctx.RxQueues;
        foreach (IflibRxQueue q in rxqs)
        {
            foreach ((string name, MakeQueueLeaf<IflibRxQueue> make) in RxLeaves)
            {
                yield return make($"{root}.iflib.{QueueName("rxq", q.Id, rxqs.Count)}.{name}", q);
            }
        }
    }

    /// <summary>dev.&lt;driver&gt;: the units of one driver, each resolved against the shared leaf tables.</summary>
    private sealed class DriverNode(string root) : SysctlNodeHandler(root)
    {
        private readonly Dictionary<int, IflibContext> _units = [];

        public void Add(IflibContext ctx)
        {
            lock (_units)
            {
                _units.Add(ctx.Unit, ctx);
            }
        }

        public void Remove(IflibContext ctx)
        {
            lock (_units)
            {
                if (_units.TryGetValue(ctx.Unit, out IflibContext? there) && there == ctx)
                {
                    _units.Remove(ctx.Unit);
                }
            }
        }

        public override SysctlOid? Find(string name)
        {
            if (Split(name) is not (_, IflibContext ctx, string rest))
            {
                return null;
            }

            foreach ((string leaf, MakeLeaf make) in DeviceLeaves)
            {
                if (rest == leaf)
                {
                    return make(name, ctx);
                }
            }

            IReadOnlyList<IflibTxQueue> txqs = ctx.TxQueues;
            foreach (IflibTxQueue q in txqs)
            {
                if (LeafOf(rest, QueueName("txq", q.Id, txqs.Count)) is { } leaf && Array.FindIndex(TxLeaves, l => l.Name == leaf) is var i and >= 0)
                {
                    return TxLeaves[i].Make(name, q);
                }
            }

            IReadOnlyList<IflibRxQueue> rxqs = ctx.RxQueues;
            foreach (IflibRxQueue q in rxqs)
            {
                if (LeafOf(rest, QueueName("rxq", q.Id, rxqs.Count)) is { } leaf && Array.FindIndex(RxLeaves, l => l.Name == leaf) is var i and >= 0)
                {
                    return RxLeaves[i].Make(name, q);
                }
            }

            return null;
        }

        public override bool IsNode(string name)
        {
            if (name == Root)
            {
                lock (_units)
                {
                    return _units.Count > 0;
                }
            }

            if (Split(name) is not (string unitRoot, IflibContext ctx, string rest))
            {
                return Unit(name) is not null; // dev.epair.N itself
            }

            return rest == "iflib" || LeavesOf(unitRoot, ctx).Any(o => IsAtOrBelow(o.Name, name) && o.Name != name);
        }

        public override IEnumerable<SysctlOid> Walk(string node)
        {
            IflibContext[] units;
            lock (_units)
            {
                units = [.. _units.Values];
            }

            var result = new List<SysctlOid>();
            foreach (IflibContext ctx in units)
            {
                string unitRoot = $"{Root}.{ctx.Unit.ToString(CultureInfo.InvariantCulture)}";
                if (IsAtOrBelow(unitRoot, node) || IsAtOrBelow(node, unitRoot))
                {
                    result.AddRange(LeavesOf(unitRoot, ctx).Where(o => IsAtOrBelow(o.Name, node)));
                }
            }

            return result;
        }

        /// <summary>"dev.epair.7" → its context; null when no such unit.</summary>
        private IflibContext? Unit(string name)
        {
            if (name.Length <= Root.Length + 1 || !int.TryParse(name.AsSpan(Root.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int unit))
            {
                return null;
            }

            lock (_units)
            {
                return _units.GetValueOrDefault(unit) is { } ctx && name == $"{Root}.{unit.ToString(CultureInfo.InvariantCulture)}" ? ctx : null;
            }
        }

        /// <summary>"dev.epair.7.iflib.rx_budget" → ("dev.epair.7", context 7, "iflib.rx_budget").</summary>
        private (string UnitRoot, IflibContext Ctx, string Tail)? Split(string name)
        {
            int start = Root.Length + 1;
            int dot = name.Length > start ? name.IndexOf('.', start) : -1;
            if (dot < 0 || Unit(name[..dot]) is not { } ctx)
            {
                return null;
            }

            return (name[..dot], ctx, name[(dot + 1)..]);
        }

        private static string? LeafOf(string rest, string queue)
        {
            string prefix = "iflib." + queue + ".";
            return rest.StartsWith(prefix, StringComparison.Ordinal) ? rest[prefix.Length..] : null;
        }
    }
}
