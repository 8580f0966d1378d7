using Vimage.Core;

namespace Vimage.Net.Arp;

#pragma warning disable CA1707 // FreeBSD's names.

/// <summary>
/// struct arpstat (net/if_arp.h) in FreeBSD's order, then Vimage's own: rxbad (malformed packets), wrongiface
/// (sender on another interface's network: log_arp_wrong_iface's case), notonnet (sender on no network of ours:
/// in_lltable_rtcheck's refusal), tablefull (no entry made: the vnet holds max_entries).
/// </summary>
public enum ArpStat
{
    txrequests, txreplies, rxrequests, rxreplies, received, txerrors, arp_spare0, arp_spare1, arp_spare2,
    dropped, timeouts, dupips, rxbad, wrongiface, notonnet, tablefull,
}

/// <summary>The ARP knobs of netinet/if_ether.c, virtualized, with FreeBSD's names and defaults.</summary>
public static partial class ArpLayer
{
    [Vnet]
    [Sysctl("net.link.ether.inet.max_age", SysctlFlags.RW | SysctlFlags.VNET, "ARP entry lifetime in seconds", Min = 1, Max = 86400 * 7)]
    internal static int s_arpt_keep = 1200;

    [Vnet]
    [Sysctl("net.link.ether.inet.maxtries", SysctlFlags.RW | SysctlFlags.VNET, "ARP resolution attempts before returning error", Min = 1, Max = 100)]
    internal static int s_arp_maxtries = 5;

    [Vnet]
    [Sysctl("net.link.ether.inet.wait", SysctlFlags.RW | SysctlFlags.VNET, "Incomplete ARP entry lifetime in seconds", Min = 1, Max = 3600)]
    internal static int s_arpt_down = 20;

    [Vnet]
    [Sysctl("net.link.ether.inet.maxhold", SysctlFlags.RW | SysctlFlags.VNET, "Number of packets to hold per ARP entry", Min = 1, Max = 256)]
    internal static int s_arp_maxhold = 16;

    [Vnet]
    [Sysctl("net.link.ether.inet.proxyall", SysctlFlags.RW | SysctlFlags.VNET, "Enable proxy ARP for all suitable requests", Min = 0, Max = 1)]
    internal static int s_arp_proxyall;

    [Vnet]
    [Sysctl("net.link.ether.inet.garp_rexmit_count", SysctlFlags.RW | SysctlFlags.VNET, "Number of times to retransmit GARP packets", Min = 0, Max = 16)]
    internal static int s_garp_rexmit_count;

    [Vnet]
    [Sysctl("net.link.ether.arp.stats", SysctlFlags.RW | SysctlFlags.VNET, "ARP statistics (struct arpstat, net/if_arp.h)")]
    internal static VnetPcpuStat<ArpStat> s_arpstat;

    /// <summary>log_arp_wrong_iface: global, as in FreeBSD (a jail cannot change it).</summary>
    [Sysctl("net.link.ether.inet.log_arp_wrong_iface", SysctlFlags.RW, "log arp packets arriving on the wrong interface", Min = 0, Max = 1)]
    internal static int s_log_arp_wrong_iface = 1;

    /// <summary>log_arp_movements: global, as in FreeBSD.</summary>
    [Sysctl("net.link.ether.inet.log_arp_movements", SysctlFlags.RW, "log arp replies from MACs different than the one in the cache", Min = 0, Max = 1)]
    internal static int s_log_arp_movements = 1;

    /// <summary>log_arp_permanent_modify: global, as in FreeBSD.</summary>
    [Sysctl("net.link.ether.inet.log_arp_permanent_modify", SysctlFlags.RW, "log arp replies from MACs different than the one in the permanent arp entry", Min = 0, Max = 1)]
    internal static int s_log_arp_permanent_modify = 1;

    /// <summary>arp_maxpps: ARP_LOG's rate limit (ppsratecheck).</summary>
    [Sysctl("net.link.ether.inet.max_log_per_second", SysctlFlags.RW,
        "Maximum number of remotely triggered ARP messages that can be logged per second", Min = 0, Max = 1_000_000)]
    internal static int s_arp_maxpps = 1;

    /// <summary>
    /// Vimage's bound on dynamic entries per vnet. FreeBSD's lltable has none (only memory); here one vnet's
    /// table must not grow without limit, so a new entry beyond it is refused and counted in tablefull. Global:
    /// a jail cannot raise its own bound.
    /// </summary>
    [Sysctl("net.link.ether.inet.max_entries", SysctlFlags.RW, "Maximum number of ARP entries per vnet", Min = 1, Max = 1 << 20)]
    internal static int s_arp_maxentries = 4096;

    private static readonly object LogLock = new();
    private static long s_lastLogSecond;
    private static int s_logsThisSecond;

    [Vnet]
    private static ArpTable s_arptable = new();

    /// <summary>Remotely triggered messages (ARP_LOG's "arp: ..."), at most max_log_per_second.</summary>
    public static event Action<string>? Logged;

    public static int MaxEntries => Volatile.Read(ref s_arp_maxentries);

    public static ArpTable Table => V_arptable;

    public static ArpTable TableOf(Vnet vnet) => V_arptable_In(vnet);

    public static long Fetch(ArpStat field) => V_arpstat.Fetch(field);

    internal static void Stat(ArpStat field) => V_arpstat.Inc(field);

    /// <summary>
    /// ARP_LOG's ppsratecheck(arp_maxpps): true when a message may be logged now. Checked before the message is
    /// formatted, so a flood of refused packets costs no string each.
    /// </summary>
    private static bool LogAllowed()
    {
        lock (LogLock)
        {
            long second = NetTimers.NowMs / 1000;
            if (second != s_lastLogSecond)
            {
                s_lastLogSecond = second;
                s_logsThisSecond = 0;
            }

            return ++s_logsThisSecond <= Volatile.Read(ref s_arp_maxpps);
        }
    }

    /// <summary>ARP_LOG: "arp: " + message, after <see cref="LogAllowed"/>.</summary>
    private static void Log(string message)
    {
        string line = "arp: " + message;
        MsgBuf.Log(line); // dmesg
        Logged?.Invoke(line);
    }
}
