using Vimage.Core;

namespace Vimage.Net;

/// <summary>
/// The fib numbers every layer checks (rt_numfibs of route_tables.c, a process's p_fibnum): the socket layer
/// validates SO_SETFIB and stamps new sockets with them; the routing layer (Fibs) owns the tables and changes them.
/// </summary>
public static partial class FibNum
{
    private static readonly AsyncLocal<int> ProcFib = new();

    [Vnet]
    private static int s_rt_numfibs = 1;

    /// <summary>V_rt_numfibs of the current vnet.</summary>
    public static int NumFibs => Volatile.Read(ref V_rt_numfibs);

    /// <summary>The caller's default fib (p_fibnum, net.my_fibnum).</summary>
    public static int Current => ProcFib.Value;

    /// <summary>A fib number the current vnet has.</summary>
    public static bool IsValid(int fib) => (uint)fib < (uint)NumFibs;

    internal static void SetNumFibs(int numfibs) => Volatile.Write(ref V_rt_numfibs, numfibs);

    internal static void SetCurrent(int fib) => ProcFib.Value = fib;
}
