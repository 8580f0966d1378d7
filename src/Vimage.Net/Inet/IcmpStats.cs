using Vimage.Core;

namespace Vimage.Net.Inet;

#pragma warning disable CA1707 // FreeBSD's names.

/// <summary>
/// struct icmpstat (netinet/icmp_var.h) in FreeBSD's order; icps_outhist and icps_inhist are arrays of
/// ICMP_MAXTYPE + 1 = 41 counters, indexed by type: use <see cref="Icmp.OutHist"/> / <see cref="Icmp.InHist"/>.
/// </summary>
public enum IcmpStat
{
    icps_error = 0,
    icps_oldshort = 1,
    icps_oldicmp = 2,
    icps_outhist = 3,
    icps_badcode = icps_outhist + Icmp.MaxType + 1,
    icps_tooshort,
    icps_checksum,
    icps_badlen,
    icps_reflect,
    icps_inhist,
    icps_bmcastecho = icps_inhist + Icmp.MaxType + 1,
    icps_bmcasttstamp,
    icps_badaddr,
    icps_noroute,
}

/// <summary>ICMP types used here.</summary>
public static class IcmpType
{
    public const byte EchoReply = 0;
    public const byte Unreach = 3;
    public const byte Redirect = 5;
    public const byte Echo = 8;
    public const byte TimeExceeded = 11;
    public const byte ParameterProblem = 12;
    public const byte Timestamp = 13;
    public const byte TimestampReply = 14;
    public const byte MaskRequest = 17;
    public const byte MaskReply = 18;

    public static bool IsError(byte type) => type is Unreach or 4 or Redirect or TimeExceeded or ParameterProblem;
}

/// <summary>ICMP codes used here.</summary>
public static class IcmpCode
{
    public const byte UnreachNet = 0;
    public const byte UnreachHost = 1;
    public const byte UnreachProtocol = 2;
    public const byte UnreachPort = 3;
    public const byte UnreachNeedFrag = 4;
    public const byte UnreachSourceRouteFailed = 5;
    public const byte UnreachNetUnknown = 6;
    public const byte UnreachHostUnknown = 7;
    public const byte UnreachIsolated = 8;
    public const byte UnreachNetProhibited = 9;
    public const byte UnreachHostProhibited = 10;
    public const byte UnreachTosNet = 11;
    public const byte UnreachTosHost = 12;
    public const byte UnreachFilterProhibited = 13;
    public const byte UnreachHostPrecedence = 14;
    public const byte UnreachPrecedenceCutoff = 15;
    public const byte RedirectHost = 1;
    public const byte TimeExceededInTransit = 0;
    public const byte TimeExceededReassembly = 1;
    public const byte ParameterProblemAtPointer = 0;
    public const byte ParameterProblemOptionAbsent = 1;
}

public static partial class Icmp
{
    /// <summary>ICMP_MAXTYPE.</summary>
    public const int MaxType = 40;

    [Vnet]
    [Sysctl("net.inet.icmp.icmplim", SysctlFlags.RW | SysctlFlags.VNET, "Maximum number of ICMP responses per second", Min = 0, Max = 1_000_000)]
    internal static int s_icmplim = 200;

    [Vnet]
    [Sysctl("net.inet.icmp.icmplim_output", SysctlFlags.RW | SysctlFlags.VNET, "Enable logging of ICMP response rate limiting", Min = 0, Max = 1)]
    internal static int s_icmplim_output = 1;

    [Vnet]
    [Sysctl("net.inet.icmp.quotelen", SysctlFlags.RW | SysctlFlags.VNET, "Number of bytes from original packet to quote in ICMP reply", Min = 8, Max = 1472)]
    internal static int s_icmp_quotelen = 548;

    [Vnet]
    [Sysctl("net.inet.icmp.bmcastecho", SysctlFlags.RW | SysctlFlags.VNET, "Reply to multicast/broadcast ICMP echo requests", Min = 0, Max = 1)]
    internal static int s_icmpbmcastecho;

    [Vnet]
    [Sysctl("net.inet.icmp.tstamprepl", SysctlFlags.RW | SysctlFlags.VNET, "Respond to ICMP Timestamp packets", Min = 0, Max = 1)]
    internal static int s_icmptstamprepl = 1;

    [Vnet]
    [Sysctl("net.inet.icmp.maskrepl", SysctlFlags.RW | SysctlFlags.VNET, "Reply to ICMP Address Mask Request packets", Min = 0, Max = 1)]
    internal static int s_icmpmaskrepl;

    [Vnet]
    [Sysctl("net.inet.icmp.maskfake", SysctlFlags.RW | SysctlFlags.VNET, "Fake reply to ICMP Address Mask Request packets", Min = 0, Max = uint.MaxValue)]
    internal static long s_icmpmaskfake;

    [Vnet]
    [Sysctl("net.inet.icmp.reply_from_interface", SysctlFlags.RW | SysctlFlags.VNET, "ICMP reply from incoming interface for non-local packets", Min = 0, Max = 1)]
    internal static int s_icmp_rfi;

    /// <summary>Accepted for FreeBSD's scripts; Vimage's mbufs carry no tags, so there is nothing to keep.</summary>
    [Vnet]
    [Sysctl("net.inet.icmp.error_keeptags", SysctlFlags.RW | SysctlFlags.VNET, "ICMP error response keeps copy of mbuf_tags of original packet", Min = 0, Max = 1)]
    internal static int s_error_keeptags;

    [Vnet]
    [Sysctl("net.inet.icmp.drop_redirect", SysctlFlags.RW | SysctlFlags.VNET, "Ignore ICMP redirects", Min = 0, Max = 1)]
    internal static int s_drop_redirect;

    [Vnet]
    [Sysctl("net.inet.icmp.stats", SysctlFlags.RW | SysctlFlags.VNET, "ICMP statistics (struct icmpstat, netinet/icmp_var.h)")]
    internal static VnetPcpuStat<IcmpStat> s_icmpstat;

    /// <summary>V_icmp_rates: one counter_rate per BANDLIM_* kind, each limited to icmplim a second on its own.</summary>
    [Vnet]
    private static CounterRate[]? s_icmp_rates;

    /// <summary>Responses suppressed by icmplim since start (what FreeBSD logs as "Limiting icmp … response").</summary>
    [Vnet]
    private static long s_icmp_limited;

    public static long Fetch(IcmpStat field) => V_icmpstat.Fetch(field);

    public static long FetchOutHist(byte type) => V_icmpstat.Fetch(OutHist(type));

    public static long FetchInHist(byte type) => V_icmpstat.Fetch(InHist(type));

    public static long Limited => Volatile.Read(ref V_icmp_limited);

    public static IcmpStat OutHist(byte type) => (IcmpStat)((int)IcmpStat.icps_outhist + Math.Min(type, (byte)MaxType));

    public static IcmpStat InHist(byte type) => (IcmpStat)((int)IcmpStat.icps_inhist + Math.Min(type, (byte)MaxType));

    internal static void Stat(IcmpStat field) => V_icmpstat.Inc(field);

    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_FIFTH)]
    private static void icmp_vnet_init()
    {
        V_icmp_rates = [new CounterRate(), new CounterRate(), new CounterRate(), new CounterRate()];
    }

    [VnetSysuninit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_FIFTH)]
    private static void icmp_vnet_destroy()
    {
        foreach (CounterRate rate in V_icmp_rates ?? [])
        {
            rate.Dispose();
        }

        V_icmp_rates = null;
    }

    /// <summary>badport_bandlim: false when <paramref name="which"/> is over net.inet.icmp.icmplim this second (0 = unlimited).</summary>
    internal static bool RateAllows(BandLim which)
    {
        int limit = V_icmplim;
        if (limit <= 0 || V_icmp_rates is not { } rates)
        {
            return true;
        }

        if (rates[(int)which].Check(limit) == -1)
        {
            Interlocked.Increment(ref V_icmp_limited);
            return false;
        }

        return true;
    }
}

/// <summary>BANDLIM_* (netinet/icmp_var.h): the kinds of response badport_bandlim limits separately.</summary>
internal enum BandLim
{
    /// <summary>BANDLIM_ICMP_UNREACH: ICMP errors.</summary>
    IcmpUnreach,

    /// <summary>BANDLIM_ICMP_ECHO: echo replies.</summary>
    IcmpEcho,

    /// <summary>BANDLIM_ICMP_TSTAMP: timestamp replies.</summary>
    IcmpTstamp,

    /// <summary>BANDLIM_RST_CLOSEDPORT: TCP RSTs answering segments to closed ports.</summary>
    TcpRstClosedPort,
}
