namespace Vimage.Core.Tests;

/// <summary>Statistics fields, in order, like struct ipstat.</summary>
public enum TestStat
{
    tst_packets,
    tst_bytes,
    tst_drops,
}

/// <summary>Knobs and statistics of the test assembly, declared next to their variables.</summary>
public static partial class SysctlGlobals
{
    [Vnet]
    [Sysctl("test.inet.ip.ttl", SysctlFlags.RW | SysctlFlags.VNET, "Maximum TTL on IP packets", Min = 1, Max = 255)]
    internal static int s_t_ttl = 64;

    [Vnet]
    [Sysctl("test.inet.ip.master_only", SysctlFlags.RW, "A vnet variable exported without CTLFLAG_VNET")]
    internal static int s_t_master = 5;

    [Vnet]
    [Sysctl("test.inet.tcp.mssdflt", SysctlFlags.RW | SysctlFlags.VNET, "Default TCP Maximum Segment Size", Min = 216)]
    internal static int s_t_mssdflt = 536;

    [Vnet]
    [Sysctl("test.inet.icmp.reply_src", SysctlFlags.RW | SysctlFlags.VNET, "ICMP reply source for interface", MaxLength = 15)]
    internal static string s_t_reply_src = "";

    [Vnet]
    [Sysctl("test.inet.udp.checksum", SysctlFlags.RW | SysctlFlags.VNET, "compute udp checksum")]
    internal static bool s_t_udp_cksum = true;

    [Vnet]
    [Sysctl("test.inet.ip.maxcount", SysctlFlags.RW | SysctlFlags.VNET, "An unsigned 64-bit knob")]
    internal static ulong s_t_maxcount = 1000;

    [Vnet]
    [Sysctl("test.inet.ip.stats", SysctlFlags.RW | SysctlFlags.VNET, "IP statistics (struct ipstat)")]
    internal static VnetPcpuStat<TestStat> s_t_stat;

    [Sysctl("test.kern.global_knob", SysctlFlags.RW, "A plain global")]
    internal static long s_t_global = 100;

    [Sysctl("test.kern.ostype", SysctlFlags.RD, "Operating system type")]
    internal static string s_t_ostype = "Vimage";

    [Sysctl("test.kern.anybody", SysctlFlags.RW | SysctlFlags.ANYBODY, "Writable without privilege")]
    internal static uint s_t_anybody;

    public static void CountPacket(int bytes)
    {
        V_t_stat.Inc(TestStat.tst_packets);
        V_t_stat.Add(TestStat.tst_bytes, bytes);
    }
}
