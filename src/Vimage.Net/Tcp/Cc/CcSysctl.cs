using Vimage.Core;

namespace Vimage.Net.Tcp.Cc;

/// <summary>
/// cc.c's per-vnet state and knobs: the default module (V_default_cc_ptr) behind net.inet.tcp.cc.algorithm, the
/// module list as net.inet.tcp.cc.available, ABE (net.inet.tcp.cc.abe, abe_frlossreduce), NewReno's betas, and
/// tcp_input.c's ABC knobs the modules read (net.inet.tcp.rfc3465, net.inet.tcp.abc_l_var).
/// </summary>
public static partial class CcModules
{
    private static int s_sysctlsRegistered;

    /// <summary>CC_DEFAULT: FreeBSD 14's GENERIC kernel defaults to CUBIC.</summary>
    public const string DefaultName = "cubic";

    /// <summary>V_default_cc_ptr: the module new connections of the vnet get.</summary>
    [Vnet]
    private static CcAlgo s_default_cc_ptr = Cubic.Instance;

    [Vnet]
    [Sysctl("net.inet.tcp.abc_l_var", SysctlFlags.RW | SysctlFlags.VNET,
        "Cap the max cwnd increment during slow-start to this number of segments", Min = 1, Max = 65535)]
    internal static int s_tcp_abc_l_var = NewReno.DefaultAbcLVar;

    [Vnet]
    [Sysctl("net.inet.tcp.rfc3465", SysctlFlags.RW | SysctlFlags.VNET, "Enable RFC 3465 (Appropriate Byte Counting)", Min = 0, Max = 1)]
    internal static int s_tcp_do_rfc3465 = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.cc.abe", SysctlFlags.RW | SysctlFlags.VNET,
        "Enable draft-ietf-tcpm-alternativebackoff-ecn (TCP Alternative Backoff with ECN)", Min = 0, Max = 1)]
    internal static int s_cc_do_abe;

    [Vnet]
    [Sysctl("net.inet.tcp.cc.abe_frlossreduce", SysctlFlags.RW | SysctlFlags.VNET,
        "Apply standard beta instead of ABE-beta during ECN-signalled congestion recovery episodes if loss also needs to be repaired", Min = 0, Max = 1)]
    internal static int s_cc_abe_frlossreduce;

    /// <summary>net.inet.tcp.cc.newreno.beta (percent, 1..100).</summary>
    [Vnet]
    internal static int s_newreno_beta = NewReno.Beta;

    /// <summary>net.inet.tcp.cc.newreno.beta_ecn (percent, 1..100; writable only with ABE on).</summary>
    [Vnet]
    internal static int s_newreno_beta_ecn = NewReno.BetaEcn;

    /// <summary>The current vnet's default module (CC_DEFAULT_ALGO).</summary>
    public static CcAlgo Default => V_default_cc_ptr;

    /// <summary>The default module of <paramref name="vnet"/>.</summary>
    public static CcAlgo DefaultOf(Vnet vnet) => V_default_cc_ptr_In(vnet);

    /// <summary>
    /// cc_default_algo's write: makes <paramref name="name"/> the current vnet's default. 0, or ESRCH when no module
    /// has that name (nothing changes), as FreeBSD answers.
    /// </summary>
    public static int SetDefault(string name)
    {
        if (Find(name) is not { } algo)
        {
            return Errno.ESRCH;
        }

        V_default_cc_ptr = algo;
        return 0;
    }

    /// <summary>cc_list_available: the names, ", "-separated.</summary>
    public static string Available() => string.Join(", ", List);

    /// <summary>cc_init + vnet_cc_sysinit: the handlers' OIDs once; a new vnet starts with vnet0's current default.</summary>
    [VnetSysinit(SiSub.SI_SUB_PROTO_IFATTACHDOMAIN, SiOrder.SI_ORDER_ANY)]
    private static void vnet_cc_sysinit()
    {
        RegisterSysctls();
        if (Vnet.IsVimage && Curvnet.Current is { } vnet && vnet != Vnet.Vnet0)
        {
            V_default_cc_ptr = V_default_cc_ptr_In(Vnet.Vnet0);
        }
    }

    private static void RegisterSysctls()
    {
        if (Interlocked.Exchange(ref s_sysctlsRegistered, 1) != 0)
        {
            return;
        }

        Sysctl.AddProc("net.inet.tcp.cc.algorithm", SysctlFlags.RW | SysctlFlags.VNET, "Default congestion control algorithm",
            static () => Default.Name, static name =>
            {
                if (SetDefault(name) != 0)
                {
                    throw new SysctlException(SysctlError.NoSuchObject, $"sysctl: net.inet.tcp.cc.algorithm={name}: No such process");
                }
            }, maxLength: TCP_CA_NAME_MAX - 1);
        Sysctl.AddProc("net.inet.tcp.cc.available", SysctlFlags.RD, "List available congestion control algorithms", Available);
        Sysctl.AddProc("net.inet.tcp.cc.newreno.beta", SysctlFlags.RW | SysctlFlags.VNET,
            "New Reno beta, specified as number between 1 and 100", static () => (uint)V_newreno_beta,
            static v => V_newreno_beta = (int)v, min: 1, max: 100);
        Sysctl.AddProc("net.inet.tcp.cc.newreno.beta_ecn", SysctlFlags.RW | SysctlFlags.VNET,
            "New Reno beta ecn, specified as number between 1 and 100", static () => (uint)V_newreno_beta_ecn, static v =>
            {
                if (V_cc_do_abe == 0)
                {
                    throw new SysctlException(SysctlError.AccessDenied, "sysctl: net.inet.tcp.cc.newreno.beta_ecn: Permission denied");
                }

                V_newreno_beta_ecn = (int)v;
            }, min: 1, max: 100);
    }
}
