using Vimage.Core;

namespace Vimage.Cli;

/// <summary>A miniature "stack" for the demo: a few virtualized knobs and a per-vnet statistic.</summary>
internal static partial class DemoStack
{
    public static readonly List<string> Trace = [];

    [Vnet]
    private static int s_ip_defttl = 64;

    [Vnet]
    private static int s_ipforwarding;

    [Vnet]
    private static Counter64 s_ips_total;

    [Vnet]
    private static List<string> s_ifnet = [];

    public static int DefaultTtl
    {
        get => V_ip_defttl;
        set => V_ip_defttl = value;
    }

    public static bool Forwarding
    {
        get => V_ipforwarding != 0;
        set => V_ipforwarding = value ? 1 : 0;
    }

    public static void CountPacket() => V_ips_total.Add(1);

    public static long PacketsOf(Vnet vnet) => V_ips_total_In(vnet).Fetch();

    public static IReadOnlyList<string> InterfacesOf(Vnet vnet) => V_ifnet_In(vnet);

    public static void Attach(string ifname) => V_ifnet.Add(ifname);

    [VnetSysinit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_SECOND)]
    private static void IfInit()
    {
        V_ifnet.Add("lo0");
        Log("if_init");
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_FOURTH)]
    private static void IpInit()
    {
        V_ips_total = Counter64.Alloc(); // VNET_PCPUSTAT_ALLOC: the master copy never gets one
        Log("ip_init");
    }

    [VnetSysuninit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_THIRD)]
    private static void IpDestroy()
    {
        Counter64.Free(ref V_ips_total);
        Log("ip_destroy");
    }

    [VnetSysuninit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_FIRST)]
    private static void IfUninit()
    {
        V_ifnet.Clear();
        Log("if_uninit");
    }

    private static void Log(string what)
    {
        lock (Trace)
        {
            Trace.Add($"{what}({Curvnet.Current!.Name})");
        }
    }
}
