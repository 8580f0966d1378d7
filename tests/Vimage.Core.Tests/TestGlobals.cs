using Vimage.Core;

namespace Vimage.Core.Tests;

public struct PcpuStats
{
    public long Packets;
    public long Bytes;
}

/// <summary>Virtualized and per-CPU globals of the test assembly: part of the static sets.</summary>
public static partial class TestGlobals
{
    public static readonly List<string> SysinitLog = [];

    [Vnet]
    internal static int s_ip_defttl = 64;

    [Vnet]
    internal static long s_big_counter = 1L << 40;

    [Vnet]
    internal static bool s_forwarding;

    [Vnet]
    internal static Dictionary<string, int> s_table = new() { ["seed"] = 1 };

    [Vnet]
    internal static string? s_hostname;

    [PerCpu]
    internal static long s_pcpu_value = 5;

    [PerCpu]
    internal static PcpuStats s_pcpu_stats;

    // Never written by a test: every CPU's copy must still hold the initializer (dpcpu_init's copy).
    [PerCpu]
    internal static long s_pcpu_boot = 0x0123_4567_89AB_CDEF;

    // Registered out of order on purpose: they must run sorted by (subsystem, order), ties in source order.
    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_FOURTH)]
    private static void IpInit() => Log("ip_init");

    [VnetSysinit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_SECOND)]
    private static void IfInit() => Log("if_init");

    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_ANY)]
    private static void EpairInitA() => Log("epair_a");

    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_ANY)]
    private static void EpairInitB() => Log("epair_b");

    [VnetSysuninit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_FIRST)]
    private static void IfUninit() => Log("if_uninit");

    [VnetSysuninit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_THIRD)]
    private static void IpDestroy() => Log("ip_destroy");

    [VnetSysuninit(SiSub.SI_SUB_VNET_DONE, SiOrder.SI_ORDER_ANY)]
    private static void IfReturn() => Log("if_return");

    public static readonly Dictionary<string, VnetState> StateSeenByConstructor = [];

    public static readonly Dictionary<string, bool> ListedSeenByConstructor = [];

    [VnetSysinit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_FIRST)]
    private static void Probe()
    {
        Vnet current = Curvnet.Current!;
        lock (SysinitLog)
        {
            StateSeenByConstructor[current.Name] = current.State;
            ListedSeenByConstructor[current.Name] = Vnet.List().Contains(current);
        }
    }

    internal static List<string> EventsFor(Vnet vnet)
    {
        lock (SysinitLog)
        {
            string suffix = "@" + vnet.Name;
            return SysinitLog.Where(e => e.EndsWith(suffix, StringComparison.Ordinal))
                .Select(e => e[..^suffix.Length]).ToList();
        }
    }

    private static void Log(string what)
    {
        lock (SysinitLog)
        {
            SysinitLog.Add($"{what}@{Curvnet.Current!.Name}");
        }
    }
}
