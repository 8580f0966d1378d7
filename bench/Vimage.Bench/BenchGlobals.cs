using Vimage.Core;

namespace Vimage.Bench;

/// <summary>
/// The benchmark assembly's own static sets: kept to one 8-byte variable each, so the static vnet set is a single
/// 64-byte line and the module sets of vnet-lifecycle / vnet-memory make the per-vnet totals exactly 64 / 16 KiB.
/// </summary>
public static partial class BenchGlobals
{
    /// <summary>Static set bytes the module sets are sized against (see Set64KState / Set16KState).</summary>
    public const int StaticLine = 64;

    [Vnet]
    internal static long s_access_x;

    [PerCpu]
    internal static long s_pcpu_x = 1;
}
