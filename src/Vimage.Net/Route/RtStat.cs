using Vimage.Core;

namespace Vimage.Net.Route;

#pragma warning disable CA1707 // FreeBSD's field names: netstat -rs and users know them.

/// <summary>struct rtstat (net/route.h), in FreeBSD's order.</summary>
public enum RtStat
{
    rts_badredirect, rts_dynamic, rts_newgateway, rts_unreach, rts_wildcard, rts_nh_idx_alloc_failure,
    rts_nh_alloc_failure, rts_add_failure, rts_add_retry, rts_del_failure, rts_del_retry,
}

/// <summary>V_rtstat: the routing statistics netstat -rs prints.</summary>
public static partial class RtStats
{
    [Vnet]
    [Sysctl("net.route.stats", SysctlFlags.RW | SysctlFlags.VNET, "route statistics (struct rtstat, net/route.h)")]
    internal static VnetPcpuStat<RtStat> s_rtstat;

    /// <summary>RTSTAT_INC.</summary>
    public static void Inc(RtStat field) => V_rtstat.Inc(field);

    public static long Fetch(RtStat field) => V_rtstat.Fetch(field);
}
