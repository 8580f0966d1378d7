using Vimage.Core;

namespace Vimage.Net;

#pragma warning disable CA1707 // FreeBSD's names.

/// <summary>NETISR_DISPATCH_* (net/netisr.h), FreeBSD's values; DEFAULT is only a per-protocol choice.</summary>
public enum NetisrPolicy
{
    NETISR_DISPATCH_DEFERRED = 1,
    NETISR_DISPATCH_HYBRID = 2,
    NETISR_DISPATCH_DIRECT = 3,
}

/// <summary>
/// net.isr.dispatch (netisr.c's netisr_dispatch_policy): where a frame handed from one vnet's interface to its peer
/// (an epair) is processed. <c>direct</c> (FreeBSD's default): on the sending thread, under CURVNET_SET of the
/// receiving vnet, draining that receive queue in order; <c>hybrid</c>: on the sending thread only when the
/// receive queue is idle and empty (netisr_queue_workstream's NWS_RUNNING/NWS_SCHEDULED test), otherwise queued;
/// <c>deferred</c>: always handed to the queue workers. Inline nesting is bounded per thread
/// (<c>net.isr.direct_maxdepth</c>, a Vimage knob: FreeBSD's kernel stack has no such chains of jails); beyond it
/// the frame is queued, so a chain of routers or a routing loop cannot overflow the stack.
/// </summary>
public static partial class NetisrDispatch
{
    /// <summary>Nested inline dispatches per thread before frames are queued.</summary>
    public const int DefaultMaxDepth = 24;

    [Sysctl("net.isr.direct_maxdepth", SysctlFlags.RW, "Nested direct dispatches per thread before packets are queued", Min = 1, Max = 128)]
    internal static int s_direct_maxdepth = DefaultMaxDepth;

    private static int s_policy = (int)NetisrPolicy.NETISR_DISPATCH_DIRECT;
    private static int s_registered;
    private static int s_maxDepthSeen;
    private static readonly Counter64 s_direct = Counter64.Alloc();
    private static readonly Counter64 s_depthQueued = Counter64.Alloc();

    [ThreadStatic]
    private static int t_depth;

    /// <summary>The global policy (net.isr.dispatch).</summary>
    public static NetisrPolicy Policy
    {
        get => (NetisrPolicy)Volatile.Read(ref s_policy);
        set
        {
            if (value is < NetisrPolicy.NETISR_DISPATCH_DEFERRED or > NetisrPolicy.NETISR_DISPATCH_DIRECT)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "not a dispatch policy");
            }

            Volatile.Write(ref s_policy, (int)value);
        }
    }

    /// <summary>net.isr.direct_maxdepth.</summary>
    public static int MaxDepth
    {
        get => Volatile.Read(ref s_direct_maxdepth);
        set => Volatile.Write(ref s_direct_maxdepth, Math.Clamp(value, 1, 128));
    }

    /// <summary>Inline dispatches this thread is nested in now.</summary>
    public static int Depth => t_depth;

    /// <summary>The deepest inline nesting any thread reached (for tests and the bench).</summary>
    public static int MaxDepthSeen => Volatile.Read(ref s_maxDepthSeen);

    /// <summary>Frames processed inline (FreeBSD's dispatched + hybrid_dispatched).</summary>
    public static long Dispatched => s_direct.Fetch();

    /// <summary>Frames queued because the thread was at <see cref="MaxDepth"/>.</summary>
    public static long DepthQueued => s_depthQueued.Fetch();

    /// <summary>Registers net.isr.dispatch (once; the stack's start-up calls it).</summary>
    public static void RegisterSysctl()
    {
        if (Interlocked.Exchange(ref s_registered, 1) != 0)
        {
            return;
        }

        Sysctl.AddProc("net.isr.dispatch", SysctlFlags.RW, "netisr dispatch policy", () => ToString(Policy), Set, maxLength: 11);
    }

    /// <summary>netisr_dispatch_policy_to_str.</summary>
    public static string ToString(NetisrPolicy policy) => policy switch
    {
        NetisrPolicy.NETISR_DISPATCH_DEFERRED => "deferred",
        NetisrPolicy.NETISR_DISPATCH_HYBRID => "hybrid",
        _ => "direct",
    };

    /// <summary>netisr_dispatch_policy_from_str; "default" is a protocol's choice, not a global one (EINVAL).</summary>
    public static bool TryParse(string? text, out NetisrPolicy policy)
    {
        policy = text switch
        {
            "deferred" => NetisrPolicy.NETISR_DISPATCH_DEFERRED,
            "hybrid" => NetisrPolicy.NETISR_DISPATCH_HYBRID,
            "direct" => NetisrPolicy.NETISR_DISPATCH_DIRECT,
            _ => 0,
        };
        return policy != 0;
    }

    /// <summary>
    /// Enters one inline dispatch on this thread: false at the depth limit (counted; the caller queues). Pair a
    /// true answer with <see cref="ExitDirect"/>.
    /// </summary>
    public static bool TryEnterDirect()
    {
        int depth = t_depth;
        if (depth >= Volatile.Read(ref s_direct_maxdepth))
        {
            s_depthQueued.Add(1);
            return false;
        }

        t_depth = ++depth;
        if (depth > Volatile.Read(ref s_maxDepthSeen))
        {
            InterlockedMax(depth);
        }

        s_direct.Add(1);
        return true;
    }

    public static void ExitDirect() => t_depth--;

    private static void Set(string value)
    {
        if (!TryParse(value, out NetisrPolicy policy))
        {
            throw new SysctlException(SysctlError.InvalidValue, "sysctl: net.isr.dispatch: Invalid argument");
        }

        Policy = policy;
    }

    private static void InterlockedMax(int depth)
    {
        int seen;
        while (depth > (seen = Volatile.Read(ref s_maxDepthSeen)) && Interlocked.CompareExchange(ref s_maxDepthSeen, depth, seen) != seen)
        {
        }
    }
}
