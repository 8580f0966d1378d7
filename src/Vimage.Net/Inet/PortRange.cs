using Vimage.Core;

namespace Vimage.Net.Inet;

/// <summary>
/// net.inet.ip.portrange (in_pcb.c): the ephemeral port range of each vnet and whether allocation starts at a random
/// point. The defaults keep this stack's earlier behaviour, the IP_PORTRANGE_HIGH range handed out in order;
/// FreeBSD's own defaults are first=10000, last=65535, randomized=1. Values are checked against 1024..65535
/// (FreeBSD clamps them into that range instead).
/// </summary>
public static partial class PortRange
{
    /// <summary>IPPORT_HIFIRSTAUTO.</summary>
    public const int DefaultFirst = 49152;

    /// <summary>IPPORT_HILASTAUTO.</summary>
    public const int DefaultLast = 65535;

    [Vnet]
    [Sysctl("net.inet.ip.portrange.first", SysctlFlags.RW | SysctlFlags.VNET, "First port for automatic port allocation", Min = 1024, Max = 65535)]
    internal static int s_ipport_firstauto = DefaultFirst;

    [Vnet]
    [Sysctl("net.inet.ip.portrange.last", SysctlFlags.RW | SysctlFlags.VNET, "Last port for automatic port allocation", Min = 1024, Max = 65535)]
    internal static int s_ipport_lastauto = DefaultLast;

    [Vnet]
    [Sysctl("net.inet.ip.portrange.randomized", SysctlFlags.RW | SysctlFlags.VNET, "Enable random port allocation", Min = 0, Max = 1)]
    internal static int s_ipport_randomized;

    /// <summary>net.inet.ip.portrange.first of the current vnet.</summary>
    public static int First
    {
        get => V_ipport_firstauto;
        set => V_ipport_firstauto = value;
    }

    /// <summary>net.inet.ip.portrange.last of the current vnet.</summary>
    public static int Last
    {
        get => V_ipport_lastauto;
        set => V_ipport_lastauto = value;
    }

    /// <summary>net.inet.ip.portrange.randomized of the current vnet.</summary>
    public static bool Randomized
    {
        get => V_ipport_randomized != 0;
        set => V_ipport_randomized = value ? 1 : 0;
    }
}
