using Vimage.Core;

namespace Vimage.Net.Tcp.Cc;

/// <summary>
/// The list of loaded modules (cc_list in netinet/cc/cc.c) and RFC 6928's initial window. Built-in modules are
/// registered at type initialisation; <see cref="Register"/> adds more (cc_register_algo). The default module is
/// per vnet (V_default_cc_ptr, <c>net.inet.tcp.cc.algorithm</c>; see CcSysctl.cs).
/// </summary>
public static partial class CcModules
{
    private static readonly object Lock = new();
    private static CcAlgo[] s_list = [NewReno.Instance, Cubic.Instance];

    /// <summary>TCP_MAXWIN: the largest unscaled window.</summary>
    public const uint TCP_MAXWIN = 65535;

    /// <summary>TCP_CA_NAME_MAX: module names are shorter than this (with the C string's NUL).</summary>
    public const int TCP_CA_NAME_MAX = 16;

    /// <summary>The loaded modules in registration order (net.inet.tcp.cc.available).</summary>
    public static IReadOnlyList<CcAlgo> List => Volatile.Read(ref s_list);

    /// <summary>cc_register_algo: EEXIST when the name is taken, EINVAL for an empty or too long name.</summary>
    public static int Register(CcAlgo algo)
    {
        ArgumentNullException.ThrowIfNull(algo);
        if (string.IsNullOrEmpty(algo.Name) || algo.Name.Length >= TCP_CA_NAME_MAX)
        {
            return Errno.EINVAL;
        }

        lock (Lock)
        {
            if (Find(algo.Name) is not null)
            {
                return Errno.EEXIST;
            }

            Volatile.Write(ref s_list, [.. s_list, algo]);
            return 0;
        }
    }

    /// <summary>The module called <paramref name="name"/>, or null (ENOENT for the caller).</summary>
    public static CcAlgo? Find(string name)
    {
        foreach (CcAlgo a in List)
        {
            if (string.Equals(a.Name, name, StringComparison.Ordinal))
            {
                return a;
            }
        }

        return null;
    }

    /// <summary>
    /// The module a new connection of the current vnet runs: <paramref name="name"/> when given (TCP_CONGESTION;
    /// null when no module has that name: the caller answers ESRCH as tcp_congestion does), else the vnet's default
    /// (CC_DEFAULT_ALGO, net.inet.tcp.cc.algorithm).
    /// </summary>
    public static CcAlgo? Resolve(string? name) => string.IsNullOrEmpty(name) ? Default : Find(name);

    /// <summary>
    /// tcp_compute_initwnd (tcp_input.c): net.inet.tcp.initcwnd_segments segments (RFC 6928, default 10), capped
    /// at max(2·MSS, segments·1460) bytes as RFC 6928 §2 bounds it; 0 segments means RFC 3390's min(4·MSS, max(2·MSS, 4380)).
    /// </summary>
    public static uint InitialWindow(int maxseg, int initcwndSegments)
    {
        uint mss = (uint)maxseg;
        if (initcwndSegments > 0)
        {
            return Math.Min((uint)initcwndSegments * mss, Math.Max(2 * mss, (uint)initcwndSegments * 1460));
        }

        return Math.Min(4 * mss, Math.Max(2 * mss, 4380));
    }
}
