using Vimage.Core;

namespace Vimage.Net.Route;

/// <summary>
/// Routing table numbers (net/route/route_tables.c): net.fibs tables per vnet, grown at run time and never shrunk
/// (sysctl_fibs), net.add_addr_allfibs, and the caller's default FIB (a process's p_fibnum, set by setfib(2)).
/// The tables themselves live in each family's <see cref="IRib"/>; growing asks every registered one to grow.
/// </summary>
public static partial class Fibs
{
    /// <summary>RT_DEFAULT_FIB.</summary>
    public const int RT_DEFAULT_FIB = 0;

    /// <summary>RT_MAXFIBS: fib numbers are 16-bit (UINT16_MAX).</summary>
    public const int RT_MAXFIBS = 65535;

    /// <summary>ENOTCAPABLE: what sysctl_fibs answers to a smaller net.fibs.</summary>
    public const int ENOTCAPABLE = 93;

    private static readonly object RtablesLock = new();
    private static int s_sysctlsRegistered;

    [Vnet]
    [Sysctl("net.add_addr_allfibs", SysctlFlags.RW | SysctlFlags.VNET, "Add new addresses to all fibs", Min = 0, Max = 1)]
    internal static int s_rt_add_addr_allfibs;

    /// <summary>V_rt_numfibs of the current vnet.</summary>
    public static int NumFibs => FibNum.NumFibs;

    /// <summary>V_rt_add_addr_allfibs: a new address's routes go to every FIB, not only its interface's.</summary>
    public static bool AddAddrAllFibs => V_rt_add_addr_allfibs != 0;

    /// <summary>The caller's default FIB (p_fibnum, net.my_fibnum): what a new socket and route(8) use.</summary>
    public static int Current => FibNum.Current;

    /// <summary>A FIB number the current vnet has (rt_numfibs bound checks).</summary>
    public static bool IsValid(int fib) => FibNum.IsValid(fib);

    /// <summary>
    /// setfib(2) for the calling flow until the scope is disposed: EINVAL (and nothing changed) for a fib outside
    /// net.fibs.
    /// </summary>
    public static int SetFib(int fib, out FibScope scope)
    {
        scope = default;
        if (!IsValid(fib))
        {
            return Errno.EINVAL;
        }

        scope = new FibScope(FibNum.Current);
        FibNum.SetCurrent(fib);
        return 0;
    }

    /// <summary>M_GETFIB.</summary>
    public static int GetFib(Mbuf m) => m?.Fib ?? RT_DEFAULT_FIB;

    /// <summary>ifioctl's SIOCSIFFIB: EINVAL for a fib the vnet does not have.</summary>
    public static int SetInterfaceFib(Ifnet ifp, int fib)
    {
        ArgumentNullException.ThrowIfNull(ifp);
        if (!IsValid(fib))
        {
            return Errno.EINVAL;
        }

        ifp.Fib = fib;
        return 0;
    }

    /// <summary>sysctl_fibs: grows every family's tables to <paramref name="numfibs"/>; smaller is ENOTCAPABLE.</summary>
    public static int SetNumFibs(int numfibs)
    {
        lock (RtablesLock)
        {
            int current = FibNum.NumFibs;
            if (numfibs < current)
            {
                return ENOTCAPABLE;
            }

            if (numfibs > RT_MAXFIBS)
            {
                return Errno.EINVAL;
            }

            if (numfibs > current)
            {
                foreach (IRib rib in Ribs.All)
                {
                    rib.Grow(numfibs); // grow_rtables, then the new tables are published
                }

                FibNum.SetNumFibs(numfibs);
            }

            return 0;
        }
    }

    /// <summary>net.fibs (per vnet, writable) and net.my_fibnum, once.</summary>
    internal static void RegisterSysctls()
    {
        if (Interlocked.Exchange(ref s_sysctlsRegistered, 1) != 0)
        {
            return;
        }

        Sysctl.AddProc("net.fibs", SysctlFlags.RW | SysctlFlags.VNET, "set number of fibs", static () => NumFibs, static value =>
        {
            int error = SetNumFibs(value);
            if (error == ENOTCAPABLE)
            {
                throw new SysctlException(SysctlError.NotCapable, $"sysctl: net.fibs={value}: Capabilities insufficient");
            }

            if (error != 0)
            {
                throw new SysctlException(SysctlError.InvalidValue, $"sysctl: net.fibs={value}: Invalid argument");
            }
        }, min: 0, max: int.MaxValue);
        Sysctl.AddProc("net.my_fibnum", SysctlFlags.RD, "default FIB of caller", static () => Current);
    }

    /// <summary>Restores the previous default FIB.</summary>
    public readonly struct FibScope(int previous) : IDisposable
    {
        public void Dispose() => FibNum.SetCurrent(previous);
    }
}
