namespace Vimage.Net.Inet;

/// <summary>ip_reass: reassembly of fragments addressed to us (placeholder until the full implementation lands).</summary>
public static partial class IpReass
{
    /// <summary>Takes a fragment (data at its IP header); returns the whole datagram once complete, else null.</summary>
    public static Mbuf? Input(Mbuf m, int hlen)
    {
        Ip.Stat(IpStat.ips_fragments);
        Ip.Stat(IpStat.ips_fragdropped);
        m.Free();
        return null;
    }
}

/// <summary>ip_fragment (placeholder).</summary>
public static class IpFragment
{
    public static int Output(Mbuf m, int mtu, Func<Mbuf, int> send)
    {
        Ip.Stat(IpStat.ips_cantfrag);
        m.Free();
        return Errno.EMSGSIZE;
    }
}

public static partial class IpReass
{
    /// <summary>ip_slowtimo: expires stale reassembly queues (placeholder).</summary>
    internal static void Tick()
    {
    }
}
