using Vimage.Core;

namespace Vimage.TestModule;

/// <summary>State of a module loaded after vnets exist: one value, one object and one per-CPU variable.</summary>
public static partial class ModuleState
{
    /// <summary>Constructor and destructor runs, as "init vnetN" / "uninit vnetN", in order.</summary>
    public static readonly List<string> Events = [];

    [Vnet]
    private static long s_mod_counter = 42;

    [Vnet]
    private static List<string> s_mod_names = ["created"];

    [PerCpu]
    private static long s_mod_pcpu = 7;

    [Vnet]
    [Sysctl("test.mod.knob", SysctlFlags.RW | SysctlFlags.VNET | SysctlFlags.TUN, "A module's tunable, virtualized knob")]
    private static int s_mod_knob = 3;

    public static long PerCpuSum() => DPCPU_VAR_mod_pcpu.Sum();

    public static long Counter(Vnet vnet) => V_mod_counter_In(vnet);

    public static List<string> Names(Vnet vnet) => V_mod_names_In(vnet);

    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_SECOND)]
    private static void ModInitSecond()
    {
        V_mod_counter += 100;
        Record("init2");
    }

    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_FIRST)]
    private static void ModInitFirst()
    {
        V_mod_counter += 1;
        V_mod_names.Add("first");
        Record("init1");
    }

    [VnetSysuninit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_FIRST)]
    private static void ModUninit() => Record("uninit");

    private static void Record(string what)
    {
        lock (Events)
        {
            Events.Add($"{what} {Curvnet.Current!.Name}");
        }
    }
}
