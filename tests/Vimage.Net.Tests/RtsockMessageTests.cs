using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Net.Tests;

/// <summary>
/// The routing socket's interface messages (rtsock.c): RTM_IFANNOUNCE on arrival and departure, RTM_IFINFO on
/// up/down, RTM_NEWADDR/RTM_DELADDR around an address's routes, each to the interface's vnet only.
/// </summary>
public sealed class RtsockMessageTests
{
    private static List<RtMessage> Drain(RtListener listener)
    {
        var list = new List<RtMessage>();
        while (listener.Reader.TryRead(out RtMessage m))
        {
            list.Add(m);
        }

        return list;
    }

    [Fact]
    public void InterfaceLifeIsAnnouncedWithAddressAndStatusMessagesInOrder()
    {
#if VIMAGE
        Vnet vnet = Vnet.Create("rtsock-if");
#else
        Vnet vnet = Vnet.Vnet0;
#endif
        try
        {
            using (Curvnet.Set(vnet))
            {
                using RtListener listener = RtSock.Listen();
                IReadOnlyList<Ifnet> pair = Ifnets.Create("epair");
                Ifnet a = pair[0];
                a.SetUp(true);
                InAddrs.Add(a, InAddr.Parse("198.18.171.1"), 24);
                InAddrs.Remove(a, InAddr.Parse("198.18.171.1"));
                a.SetUp(false);
                Ifnets.DestroyCloned(a);

                // Only a's messages (its peer b announces itself too, in this vnet).
                var mine = Drain(listener).Where(m => m.Interface == a || m.Route?.Interface == a
                                                      || (m.Route is Rtentry r && r.Destination == InAddr.Parse("198.18.171.1"))).ToList();
                Assert.Equal(
                    [
                        RtmType.RTM_IFANNOUNCE, RtmType.RTM_IFINFO, RtmType.RTM_NEWADDR, RtmType.RTM_ADD, RtmType.RTM_ADD,
                        RtmType.RTM_DELADDR, RtmType.RTM_DELETE, RtmType.RTM_DELETE, RtmType.RTM_IFINFO, RtmType.RTM_IFANNOUNCE,
                    ],
                    mine.Select(m => m.Type));
                Assert.Equal(IfanWhat.IFAN_ARRIVAL, mine[0].What);
                Assert.Equal(IfanWhat.IFAN_DEPARTURE, mine[^1].What);
                Assert.True((mine[1].IfFlags & IfFlags.IFF_UP) != 0);
                Assert.True((mine[8].IfFlags & IfFlags.IFF_UP) == 0);
                RtMessage added = mine[2];
                Assert.Equal((InAddr.Parse("198.18.171.1"), 24, InAddr.Parse("198.18.171.255")),
                    (InAddr.From(added.Address), added.PrefixLength, InAddr.From(added.Broadcast)));
                Assert.True(mine.Zip(mine.Skip(1)).All(p => p.First.Sequence < p.Second.Sequence));
            }
        }
        finally
        {
#if VIMAGE
            vnet.Destroy();
#endif
        }
    }

    [SkippableFact]
    public void AnotherVnetsInterfaceIsNotHeard()
    {
        Skip.IfNot(Vnet.IsVimage, "one vnet without VIMAGE");
        Vnet quiet = Vnet.Create("rtsock-quiet"), busy = Vnet.Create("rtsock-busy");
        try
        {
            RtListener listener;
            using (Curvnet.Set(quiet))
            {
                listener = RtSock.Listen();
            }

            using (listener)
            {
                using (Curvnet.Set(busy))
                {
                    Ifnet a = Ifnets.Create("epair")[0];
                    a.SetUp(true);
                    InAddrs.Add(a, InAddr.Parse("198.18.172.1"), 24);
                    Ifnets.DestroyCloned(a);
                }

                Assert.Empty(Drain(listener));
            }
        }
        finally
        {
            quiet.Destroy();
            busy.Destroy();
        }
    }
}
