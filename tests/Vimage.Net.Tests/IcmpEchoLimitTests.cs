using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Tests;

#if VIMAGE
/// <summary>icmp_input's badport_bandlim(BANDLIM_ICMP_ECHO): echo replies are limited by icmplim too.</summary>
public class IcmpEchoLimitTests
{
    [Fact]
    public void EchoRepliesAreLimitedToIcmplimAndTheRestAreCounted()
    {
        using var t = new Topology();
        Vnet a = t.NewVnet("echolim-a"), b = t.NewVnet("echolim-b");
        t.Link(a, "192.0.2.1/24", b, "192.0.2.2/24");
        using var probe = new EchoProbe(a);
        Assert.Equal(0, probe.Send("192.0.2.2", 0));
        Assert.True(probe.WaitFor(1)); // ARP resolved both ways
        Assert.True(probe.Received.TryDequeue(out _));
        Sysctl.Set("net.inet.icmp.icmplim", "5", b);
        long limitedBefore, repliesBefore;
        using (Curvnet.Set(b))
        {
            limitedBefore = Icmp.Limited;
            repliesBefore = Icmp.FetchOutHist(IcmpType.EchoReply);
        }

        const int Flood = 40;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (ushort i = 1; i <= Flood; i++)
        {
            Assert.Equal(0, probe.Send("192.0.2.2", i));
        }

        // Every request is either answered or counted as limited (waits for the last one to be handled).
        Assert.True(Frames.WaitFor(() =>
        {
            using (Curvnet.Set(b))
            {
                return Icmp.FetchOutHist(IcmpType.EchoReply) - repliesBefore + Icmp.Limited - limitedBefore == Flood;
            }
        }), "a request was neither answered nor counted");
        long replies;
        using (Curvnet.Set(b))
        {
            replies = Icmp.FetchOutHist(IcmpType.EchoReply) - repliesBefore;
            int seconds = (int)Math.Ceiling(clock.Elapsed.TotalSeconds) + 1;
            Assert.InRange(replies, 1, 5 * seconds); // at most icmplim a second
            Assert.Equal(Flood + 1, Icmp.FetchInHist(IcmpType.Echo));
        }

        Assert.True(probe.WaitFor((int)replies), "the replies sent did not arrive");
    }
}
#endif
