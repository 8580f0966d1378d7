using Vimage.Core;

namespace Vimage.Net.Pfil;

/// <summary>PFIL_IN / PFIL_OUT (net/pfil.h).</summary>
public enum PfilDir
{
    In = 1,
    Out = 2,
}

/// <summary>pfil_return_t: the packet goes on (PFIL_PASS), the hook took it (PFIL_CONSUMED: queued, or answered), or
/// freed it (PFIL_DROPPED: ip_output then returns EACCES).</summary>
public enum PfilResult
{
    Pass,
    Consumed,
    Dropped,
}

/// <summary>
/// pfil_func_t: sees an IPv4 packet (data starts at the IP header) in direction <paramref name="dir"/> on
/// <paramref name="ifp"/>. <paramref name="nextHop"/> is the next hop of an outbound packet (0 inbound). A hook
/// that returns <see cref="PfilResult.Consumed"/> owns the mbuf.
/// </summary>
public delegate PfilResult PfilHook(Mbuf m, Ifnet ifp, PfilDir dir, uint nextHop);

/// <summary>
/// net/pfil.c for the inet head: per-vnet in and out hook lists. ip_input and ip_output read
/// <see cref="InetIn"/>/<see cref="InetOut"/> once; null (no hook) costs one read and a branch (pfil_hooked). Lists
/// are replaced whole under a lock (copy on write), so the packet path never locks.
/// </summary>
public static partial class PfilHeads
{
    private static readonly Lock Gate = new();

    [Vnet]
    private static PfilHook[]? s_inet_in;

    [Vnet]
    private static PfilHook[]? s_inet_out;

    /// <summary>The current vnet's inbound hooks, null when none (PFIL_HOOKED_IN).</summary>
    public static PfilHook[]? InetIn => Volatile.Read(ref V_inet_in);

    /// <summary>The current vnet's outbound hooks, null when none (PFIL_HOOKED_OUT).</summary>
    public static PfilHook[]? InetOut => Volatile.Read(ref V_inet_out);

    /// <summary>pfil_link: adds <paramref name="hook"/> to the current vnet's inet head for <paramref name="dir"/> (once).</summary>
    public static void Link(PfilHook hook, PfilDir dir)
    {
        lock (Gate)
        {
            if ((dir & PfilDir.In) != 0)
            {
                Volatile.Write(ref V_inet_in, With(V_inet_in, hook));
            }

            if ((dir & PfilDir.Out) != 0)
            {
                Volatile.Write(ref V_inet_out, With(V_inet_out, hook));
            }
        }
    }

    /// <summary>Unlinks <paramref name="hook"/> from both directions of the current vnet's head.</summary>
    public static void Unlink(PfilHook hook)
    {
        lock (Gate)
        {
            Volatile.Write(ref V_inet_in, Without(V_inet_in, hook));
            Volatile.Write(ref V_inet_out, Without(V_inet_out, hook));
        }
    }

    /// <summary>pfil_run_hooks: the first verdict other than pass, else pass.</summary>
    public static PfilResult Run(PfilHook[] hooks, Mbuf m, Ifnet ifp, PfilDir dir, uint nextHop)
    {
        for (int i = 0; i < hooks.Length; i++)
        {
            PfilResult verdict = hooks[i](m, ifp, dir, nextHop);
            if (verdict != PfilResult.Pass)
            {
                return verdict;
            }
        }

        return PfilResult.Pass;
    }

    private static PfilHook[] With(PfilHook[]? list, PfilHook hook)
    {
        if (list is not null && Array.IndexOf(list, hook) >= 0)
        {
            return list;
        }

        return list is null ? [hook] : [.. list, hook];
    }

    private static PfilHook[]? Without(PfilHook[]? list, PfilHook hook)
    {
        if (list is null || Array.IndexOf(list, hook) < 0)
        {
            return list;
        }

        var rest = new List<PfilHook>(list);
        rest.Remove(hook);
        return rest.Count == 0 ? null : [.. rest];
    }

    [VnetSysuninit(SiSub.SI_SUB_PROTO_PFIL, SiOrder.SI_ORDER_FIRST)]
    private static void pfil_vnet_destroy()
    {
        V_inet_in = null;
        V_inet_out = null;
    }
}
