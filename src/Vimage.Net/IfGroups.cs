using System.Runtime.CompilerServices;

namespace Vimage.Net;

/// <summary>
/// Interface groups (net/if.c if_addgroup / if_delgroup / SIOCGIFGROUP): every interface is in "all" and in its
/// driver's or cloner's group (epair, lo, tap); ifconfig IF group NAME adds more. The groups live beside the
/// ifnet (a weak side table, so a destroyed interface takes its groups with it) and follow it between vnets.
/// </summary>
public static class IfGroups
{
    /// <summary>IFNAMSIZ: a group name has at most 15 bytes.</summary>
    public const int MaxNameBytes = 15;

    private static readonly ConditionalWeakTable<Ifnet, List<string>> Extra = new();

    /// <summary>The implicit group of <paramref name="ifp"/>: its cloner's name, else its driver's.</summary>
    public static string DriverGroup(Ifnet ifp)
    {
        ArgumentNullException.ThrowIfNull(ifp);
        return ifp.Cloner?.Name ?? ifp.Driver.DriverName;
    }

    /// <summary>SIOCGIFGROUP: "all", the driver group, then the added groups in the order they were added.</summary>
    public static IReadOnlyList<string> Of(Ifnet ifp)
    {
        var groups = new List<string> { "all", DriverGroup(ifp) };
        if (Extra.TryGetValue(ifp, out List<string>? extra))
        {
            lock (extra)
            {
                groups.AddRange(extra);
            }
        }

        return groups;
    }

    public static bool IsMember(Ifnet ifp, string group) => Of(ifp).Contains(group, StringComparer.Ordinal);

    /// <summary>if_addgroup: false (EEXIST) when the interface is in the group already.</summary>
    public static bool Add(Ifnet ifp, string group)
    {
        ArgumentException.ThrowIfNullOrEmpty(group);
        if (IsMember(ifp, group))
        {
            return false;
        }

        List<string> extra = Extra.GetValue(ifp, _ => []);
        lock (extra)
        {
            if (extra.Contains(group, StringComparer.Ordinal))
            {
                return false;
            }

            extra.Add(group);
            return true;
        }
    }

    /// <summary>if_delgroup: false (ENOENT) when the interface is not in the group (the implicit ones stay).</summary>
    public static bool Remove(Ifnet ifp, string group)
    {
        if (!Extra.TryGetValue(ifp, out List<string>? extra))
        {
            return false;
        }

        lock (extra)
        {
            return extra.Remove(group);
        }
    }
}
