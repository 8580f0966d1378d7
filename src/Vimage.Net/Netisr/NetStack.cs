using Vimage.Core;
using Vimage.Net.Arp;
using Vimage.Net.Ether;
using Vimage.Net.Inet;
using Vimage.Net.Route;

namespace Vimage.Net;

/// <summary>
/// Wires the protocols to the interface layer: every interface entering a vnet gets its link-layer input
/// (ether_input, or IP straight from loopback); one leaving takes its addresses, routes and ARP entries with it
/// (in_ifdetach); a new address is announced with gratuitous ARP; the slow timers tick in every vnet.
/// </summary>
public static class NetStack
{
    private static int s_initialized;

    public static void EnsureInitialized()
    {
        if (Interlocked.Exchange(ref s_initialized, 1) != 0)
        {
            return;
        }

        IfEvents.Attached += OnAttached;
        IfEvents.Departing += OnDeparting;
        InAddrs.Added += ia => ArpLayer.Announce(ia.Interface, ia.Address);
        IfEvents.LinkChanged += OnLinkChanged;
        NetTimers.RegisterPerVnet(ArpLayer.Tick);
        NetTimers.RegisterPerVnet(IpReass.Tick);
    }

    private static void OnAttached(Ifnet ifp)
    {
        ifp.InputHandler = ifp.Type == IfType.IFT_LOOP ? LoopInput : EtherLayer.Input;
    }

    private static void LoopInput(Ifnet ifp, Mbuf m) => IpInput.Input(ifp, m);

    private static void OnDeparting(Ifnet ifp)
    {
        InAddrs.Purge(ifp);
        Routes.PurgeInterface(ifp);
        ArpLayer.Purge(ifp);
    }

    private static void OnLinkChanged(Ifnet ifp)
    {
        if (!ifp.IsUp || ifp.Vnet != Curvnet.Current)
        {
            return;
        }

        foreach (InIfaddr ia in InAddrs.On(ifp))
        {
            ArpLayer.Announce(ifp, ia.Address);
        }
    }
}
