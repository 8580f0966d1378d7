using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Tests;

/// <summary>
/// ip_input's not-for-us path allocates nothing per packet. IpForward.Forward used to capture the source address
/// in a lambda (the on-link check for redirects), which allocated a closure on every call, forwarded or not.
/// </summary>
public class ForwardAllocationTests
{
    [Fact]
    public void A_packet_that_is_not_for_us_is_handled_without_allocating()
    {
        using var t = new Topology();
        Vnet v = Vnet.IsVimage ? t.NewVnet("fwd-alloc") : Vnet.Vnet0;
        byte[] packet = FragSupport.Packet(InAddr.Parse("192.0.2.9"), InAddr.Parse("203.0.113.1"), 1, IpProto.Udp, 0, false, new byte[32]);
        using (Curvnet.Set(v))
        {
            Ifnet lo0 = Ifnets.Find("lo0");
            Assert.False(Ip.Forwarding); // FreeBSD's default: the packet is counted as not forwardable and dropped
            long cantforward = Ip.Fetch(IpStat.ips_cantforward);
            // Tiered JIT may still allocate on this thread while it settles, so up to five windows of 1000 packets
            // are measured after the warm-up: one of them must allocate nothing (the old closure cost 24 B every packet).
            const int rounds = 1000, windows = 5;
            long allocated = long.MaxValue;
            for (int w = 0; w < windows && allocated != 0; w++)
            {
                Mbuf[] mbufs = Take(packet, rounds);
                long before = GC.GetAllocatedBytesForCurrentThread();
                foreach (Mbuf m in mbufs)
                {
                    IpForward.Forward(lo0, m, slowPath: false);
                }

                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }

            Assert.Equal(0, allocated);
            Assert.True(Ip.Fetch(IpStat.ips_cantforward) - cantforward >= rounds);
        }
    }

    /// <summary>The mbufs are taken before measuring: growing the pool allocates, forwarding must not.</summary>
    private static Mbuf[] Take(byte[] packet, int count)
    {
        var mbufs = new Mbuf[count];
        for (int i = 0; i < count; i++)
        {
            mbufs[i] = FragSupport.Mbuf(packet);
        }

        return mbufs;
    }
}
