using Vimage.Core;

namespace Vimage.Net.Iflib;

/// <summary>
/// The dev.&lt;driver&gt;.&lt;unit&gt;.iflib tree with iflib's names: the override_* knobs (writing one reconfigures the
/// queues at once — a deliberate departure from iflib, which reads them only at attach), rx_budget and
/// tx_abdicate (live), and per-queue txqN/rxqN statistics including the mp_ring counters and ring_state, plus
/// per-queue packets, bytes and drops, which iflib lacks.
/// </summary>
internal static class IflibSysctl
{
    private static readonly Dictionary<IflibContext, List<string>> Registered = [];

    public static string Root(IflibContext ctx) => $"dev.{ctx.DriverName}.{ctx.Unit}";

    public static void Register(IflibContext ctx)
    {
        lock (Registered)
        {
            var names = new List<string>();
            Registered[ctx] = names;
            string root = Root(ctx);
            Add(names, $"{root}.%desc", SysctlFlags.RD, "interface served by this device", () => ctx.Ifnet?.Name ?? "");
            string iflib = root + ".iflib";
            Add(names, $"{iflib}.override_ntxqs", SysctlFlags.RW, "# of txqs to use, 0 => use default #",
                () => ctx.Config.TxQueues, v => Apply(ctx, ctx.Config with { TxQueues = v, RxQueues = ctx.OverrideQsEnable ? ctx.Config.RxQueues : v }));
            Add(names, $"{iflib}.override_nrxqs", SysctlFlags.RW, "# of rxqs to use, 0 => use default #",
                () => ctx.Config.RxQueues, v => Apply(ctx, ctx.Config with { RxQueues = v, TxQueues = ctx.OverrideQsEnable ? ctx.Config.TxQueues : v }));
            Add(names, $"{iflib}.override_qs_enable", SysctlFlags.RW, "permit #txq != #rxq",
                () => ctx.OverrideQsEnable ? 1 : 0, v => ctx.OverrideQsEnable = v != 0, 0, 1);
            Add(names, $"{iflib}.override_ntxds", SysctlFlags.RW, "# of tx descriptors to use",
                () => ctx.Config.TxDescriptors, v => Apply(ctx, ctx.Config with { TxDescriptors = v }));
            Add(names, $"{iflib}.override_nrxds", SysctlFlags.RW, "# of rx descriptors to use",
                () => ctx.Config.RxDescriptors, v => Apply(ctx, ctx.Config with { RxDescriptors = v }));
            Add(names, $"{iflib}.rx_budget", SysctlFlags.RW, "set the rx budget", () => ctx.RxBudget, v => ctx.RxBudget = v, 0, 65535);
            Add(names, $"{iflib}.tx_abdicate", SysctlFlags.RW, "cause tx to abdicate instead of running to completion",
                () => ctx.TxAbdicate ? 1 : 0, v => ctx.TxAbdicate = v != 0, 0, 1);
            Add(names, $"{iflib}.core_offset", SysctlFlags.RD, "offset to start using cores at", () => ctx.CoreOffset);
            Add(names, $"{iflib}.separate_txrx", SysctlFlags.RD, "use separate cores for TX and RX", () => ctx.SeparateTxRx ? 1 : 0);
            AddQueues(ctx, names);
        }
    }

    public static void Rebuild(IflibContext ctx)
    {
        lock (Registered)
        {
            if (!Registered.TryGetValue(ctx, out List<string>? names))
            {
                return;
            }

            foreach (string name in names.Where(n => n.Contains(".txq", StringComparison.Ordinal) || n.Contains(".rxq", StringComparison.Ordinal)).ToArray())
            {
                Sysctl.Remove(name);
                names.Remove(name);
            }

            AddQueues(ctx, names);
        }
    }

    public static void Unregister(IflibContext ctx)
    {
        lock (Registered)
        {
            if (Registered.Remove(ctx, out List<string>? names))
            {
                names.ForEach(n => Sysctl.Remove(n));
            }
        }
    }

    /// <summary>iflib's queue node names: txq%d, %02d past 10 queues, %03d past 100.</summary>
    public static string QueueName(string kind, int index, int count)
        => kind + index.ToString(count > 100 ? "D3" : count > 10 ? "D2" : "D", System.Globalization.CultureInfo.InvariantCulture);

    private static void AddQueues(IflibContext ctx, List<string> names)
    {
        string iflib = Root(ctx) + ".iflib";
        IReadOnlyList<IflibTxQueue> txqs = ctx.TxQueues;
        foreach (IflibTxQueue q in txqs)
        {
            string node = $"{iflib}.{QueueName("txq", q.Id, txqs.Count)}";
            Add(names, $"{node}.cpu", SysctlFlags.RD, "cpu this queue is bound to", () => q.CompletionTask.Cpu);
            Add(names, $"{node}.ring_state", SysctlFlags.RD, "soft ring state", () => q.Ring.StateString);
            Add(names, $"{node}.r_enqueues", SysctlFlags.RD, "# of enqueues to the mp_ring for this queue", () => q.Ring.Enqueues);
            Add(names, $"{node}.r_drops", SysctlFlags.RD, "# of drops in the mp_ring for this queue", () => q.Ring.Drops);
            Add(names, $"{node}.r_starts", SysctlFlags.RD, "# of normal consumer starts in mp_ring for this queue", () => q.Ring.Starts);
            Add(names, $"{node}.r_stalls", SysctlFlags.RD, "# of consumer stalls in the mp_ring for this queue", () => q.Ring.Stalls);
            Add(names, $"{node}.r_restarts", SysctlFlags.RD, "# of consumer restarts in the mp_ring for this queue", () => q.Ring.Restarts);
            Add(names, $"{node}.r_abdications", SysctlFlags.RD, "# of consumer abdications in the mp_ring for this queue", () => q.Ring.Abdications);
            Add(names, $"{node}.packets", SysctlFlags.RD, "packets sent on this queue", () => q.Packets);
            Add(names, $"{node}.bytes", SysctlFlags.RD, "bytes sent on this queue", () => q.Bytes);
            Add(names, $"{node}.drops", SysctlFlags.RD, "packets dropped on this queue", () => q.Drops);
        }

        IReadOnlyList<IflibRxQueue> rxqs = ctx.RxQueues;
        foreach (IflibRxQueue q in rxqs)
        {
            string node = $"{iflib}.{QueueName("rxq", q.Id, rxqs.Count)}";
            Add(names, $"{node}.cpu", SysctlFlags.RD, "cpu this queue is bound to", () => q.Task.Cpu);
            Add(names, $"{node}.in_use", SysctlFlags.RD, "descriptors holding received packets", () => q.Ring.InUse);
            Add(names, $"{node}.packets", SysctlFlags.RD, "packets received on this queue", () => q.Packets);
            Add(names, $"{node}.bytes", SysctlFlags.RD, "bytes received on this queue", () => q.Bytes);
            Add(names, $"{node}.drops", SysctlFlags.RD, "packets dropped on this queue", () => q.Drops);
        }
    }

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

    private static void Add<T>(List<string> names, string name, SysctlFlags flags, string description, Func<T> read,
        Action<T>? write = null, long min = long.MinValue, long max = long.MaxValue)
    {
        Sysctl.AddProc(name, flags, description, read, write, min, max);
        names.Add(name);
    }
}
