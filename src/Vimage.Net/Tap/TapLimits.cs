using Vimage.Core;

namespace Vimage.Net.Tap;

/// <summary>
/// Who may make Linux TAP devices through <c>ifconfig tap create</c>, and how many. A TAP device lives in the
/// host's network namespace, outside any vnet, so by default only vnet0 (the host) may create one; the operator
/// lets jails do it with <c>sysctl net.link.tap.jail_create=1</c>. Either way at most <c>net.link.tap.max</c>
/// devices made this way exist at once. Both are host-only sysctls: a jail can read them but not change them.
/// The jail rule is ifconfig's (it knows who asks); the host's own code may place a TAP in any vnet.
/// </summary>
public static partial class TapLimits
{
    public const int DefaultMax = 64;

    [Sysctl("net.link.tap.jail_create", SysctlFlags.RW, "Allow vnet jails to create TAP devices (they appear in the host's namespace)", Min = 0, Max = 1)]
    internal static int s_tap_jail_create;

    [Sysctl("net.link.tap.max", SysctlFlags.RW, "Maximum number of TAP devices made by ifconfig tap create", Min = 0, Max = 4096)]
    internal static int s_tap_max = DefaultMax;

    private static readonly HashSet<TapDevice> Made = new(ReferenceEqualityComparer.Instance);
    private static int s_reserved;

    /// <summary>TAP devices made by the cloner that exist now.</summary>
    public static int Count
    {
        get
        {
            lock (Made)
            {
                return Made.Count;
            }
        }
    }

    /// <summary>net.link.tap.jail_create: whether a jail's <c>ifconfig tap create</c> is allowed (the tool checks it).</summary>
    public static bool JailsMayCreate => Volatile.Read(ref s_tap_jail_create) != 0;

    /// <summary>Reserves one device: ENOSPC at the limit. Pair with <see cref="Commit"/> or <see cref="Cancel"/>.</summary>
    internal static void Reserve()
    {
        lock (Made)
        {
            int max = Volatile.Read(ref s_tap_max);
            if (Made.Count + s_reserved >= max)
            {
                throw new IfException(IfError.NoSpace, $"ifconfig: SIOCIFCREATE2 (tap): No space left on device (net.link.tap.max={max} TAP devices exist)");
            }

            s_reserved++;
        }
    }

    internal static void Commit(TapDevice device)
    {
        lock (Made)
        {
            s_reserved--;
            Made.Add(device);
        }
    }

    internal static void Cancel()
    {
        lock (Made)
        {
            s_reserved--;
        }
    }

    /// <summary>The device is closed: it no longer counts.</summary>
    internal static void Release(TapDevice device)
    {
        lock (Made)
        {
            Made.Remove(device);
        }
    }
}
