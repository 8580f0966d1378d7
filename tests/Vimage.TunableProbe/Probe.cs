using Vimage.Core;

namespace Vimage.TunableProbe;

internal static partial class Probe
{
    [Vnet]
    [Sysctl("probe.inet.ip.ttl", SysctlFlags.RW | SysctlFlags.VNET | SysctlFlags.TUN, "A tunable virtualized knob", Min = 1, Max = 255)]
    private static int s_probe_ttl = 64;

    [Sysctl("probe.kern.global", SysctlFlags.RW | SysctlFlags.TUN, "A tunable global knob")]
    private static long s_probe_global = 1;

    public static IEnumerable<string> Report()
    {
        var vnets = new List<Vnet> { Vnet.Vnet0 };
        if (Vnet.IsVimage)
        {
            vnets.Add(Vnet.Create("later"));
        }

        foreach (Vnet vnet in vnets)
        {
            yield return $"{vnet.Name}: ttl={V_probe_ttl_In(vnet)} global={s_probe_global}";
        }
    }
}
