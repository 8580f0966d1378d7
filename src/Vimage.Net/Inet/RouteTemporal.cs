using Vimage.Core;
using Vimage.Net.Route;

namespace Vimage.Net.Inet;

/// <summary>
/// Routes with a lifetime (net/route/route_temporal.c) and the redirect routes that have one (route.c's
/// rib_add_redirect). A vnet with no expiring route pays one compare per timer tick.
/// </summary>
public static partial class Routes
{
    /// <summary>The earliest rt_expire in the table (long.MaxValue: none), so the tick skips the scan.</summary>
    [Vnet]
    private static long s_rt_next_expire = long.MaxValue;

    /// <summary>
    /// rib_add_redirect: a host route to <paramref name="dst"/> through <paramref name="gateway"/> on
    /// <paramref name="ifp"/>, RTF_GATEWAY|RTF_HOST|RTF_DYNAMIC, gone after <paramref name="lifetimeSec"/> seconds.
    /// Counted in rts_dynamic; an existing route to the same host is EEXIST, as rib_action's add gives.
    /// </summary>
    public static Rtentry AddRedirect(InAddr dst, InAddr gateway, InAddr author, Ifnet ifp, int lifetimeSec, int fib = Fibs.RT_DEFAULT_FIB)
    {
        RtFlags flags = RtFlags.RTF_UP | RtFlags.RTF_GATEWAY | RtFlags.RTF_HOST | RtFlags.RTF_DYNAMIC;
        long expire = NetTimers.NowMs + (Math.Max(0, lifetimeSec) * 1000L);
        Rtentry added = Insert(new Rtentry(dst, 32, gateway, ifp, flags) { ExpireMs = Math.Max(1, expire), Fib = fib });
        RtStats.Inc(RtStat.rts_dynamic);
        RtSock.RedirectMessage(new Rtentry(dst, 32, gateway, ifp, RtFlags.RTF_GATEWAY | RtFlags.RTF_UP) { Fib = fib }, author.ToSockaddr());
        return added;
    }

    /// <summary>Notes an expiring route just inserted (caller holds the write lock).</summary>
    private static void NoteExpire(Rtentry route)
    {
        if (route.ExpireMs != 0 && route.ExpireMs < V_rt_next_expire)
        {
            V_rt_next_expire = route.ExpireMs;
        }
    }

    /// <summary>expire_routes: the per-vnet timer deletes routes whose time is up (each with its RTM_DELETE).</summary>
    internal static void ExpireTick()
    {
        long now = NetTimers.NowMs;
        if (Volatile.Read(ref V_rt_next_expire) > now)
        {
            return;
        }

        lock (WriteLock)
        {
            RemoveWhere(r => r.ExpireMs != 0 && r.ExpireMs <= now);
            long next = long.MaxValue;
            foreach (Rtentry r in V_rt_tables.SelectMany(t => t.Entries))
            {
                if (r.ExpireMs != 0 && r.ExpireMs < next)
                {
                    next = r.ExpireMs;
                }
            }

            V_rt_next_expire = next;
        }
    }
}
