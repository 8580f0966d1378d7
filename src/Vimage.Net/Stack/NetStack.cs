using Vimage.Core;
using Vimage.Net.Arp;
using Vimage.Net.Epair;
using Vimage.Net.Ether;
using Vimage.Net.Inet;
using Vimage.Net.Ipfw;
using Vimage.Net.Loopback;
using Vimage.Net.Netisr;
using Vimage.Net.Route;
using Vimage.Net.Tap;

namespace Vimage.Net.Stack;

/// <summary>
/// The composition root (FreeBSD's linker sets and DOMAIN_SET): the one place that names every layer and
/// plugs them into each other's registration points. Netisr protocols (IP, ARP), their ethertypes, AF_INET's
/// link-layer resolver (ARP), the link layer of every interface entering a vnet (ether_input/ether_output or
/// looutput), in_ifdetach's purges when one leaves, gratuitous ARP for new addresses, the slow timers and the
/// interface cloners. Lower layers never name this class; see docs/architecture.md.
/// </summary>
public static partial class NetStack
{
    private static int s_initialized;

    public static void EnsureInitialized()
    {
        if (Interlocked.Exchange(ref s_initialized, 1) != 0)
        {
            return;
        }

        NetisrDispatch.RegisterSysctl();
        NetisrTable.Register(NetisrProto.NETISR_IP, "ip", IpInput.Input);
        NetisrTable.Register(NetisrProto.NETISR_ARP, "arp", ArpLayer.Input);
        EtherLayer.RegisterType(EtherLayer.TypeIp, NetisrProto.NETISR_IP);
        EtherLayer.RegisterType(EtherLayer.TypeArp, NetisrProto.NETISR_ARP);
        EtherLayer.RegisterFamily(SaFamily.AF_INET, EtherLayer.TypeIp, ArpLayer.ResolveInet);
        Ribs.Register(InetRib.Instance);
        Fibs.RegisterSysctls();

        IfEvents.Attached += OnAttached;
        IfEvents.Departing += OnDeparting;
        InAddrs.Added += ia => ArpLayer.Announce(ia.Interface, ia.Address);
        IfEvents.LinkChanged += OnLinkChanged;
        IfEvents.Attached += ifp => RtSock.IfAnnounce(ifp, IfanWhat.IFAN_ARRIVAL); // if_attach_internal's last step
        IfEvents.LinkChanged += RtSock.IfMessage; // if_up / if_down's rt_ifmsg
        NetTimers.RegisterPerVnet(ArpLayer.Tick);
        NetTimers.RegisterPerVnet(IpReass.Tick);
        NetTimers.RegisterPerVnet(Routes.ExpireTick);
        IpFw.Register();

        Ifnets.EnsureCloner("epair", static () => new EpairCloner());
        Ifnets.EnsureCloner("lo", static () => new LoopbackCloner());
        Ifnets.EnsureCloner("tap", static () => new TapCloner());
    }

    /// <summary>Runs first in every vnet (vnet0 at boot), so the wiring is in place before lo0 attaches.</summary>
    [VnetSysinit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_FIRST)]
    private static void netstack_vnet_init() => EnsureInitialized();

    /// <summary>What rc.d/netif does for every jail: 127.0.0.1/8 on lo0 once the inet domain is up.</summary>
    [VnetSysinit(SiSub.SI_SUB_PROTO_IFATTACHDOMAIN, SiOrder.SI_ORDER_ANY)]
    private static void lo0_inet_init()
    {
        if (Ifnets.TryFind("lo0") is { } lo0)
        {
            InAddrs.Add(lo0, InAddr.Loopback, 8);
        }
    }

    private static void OnAttached(Ifnet ifp)
    {
        if (ifp.Type is IfType.IFT_LOOP or IfType.IFT_PPP) // no link header: tunoutput is looutput's shape
        {
            ifp.InputHandler = LoopbackIo.Input;
            ifp.OutputHandler = LoopbackIo.Output;
        }
        else
        {
            ifp.InputHandler = EtherLayer.Input;
            ifp.OutputHandler = EtherLayer.Output;
        }
    }

    private static void OnDeparting(Ifnet ifp)
    {
        InAddrs.Purge(ifp);
        IReadOnlyList<IRib> ribs = Ribs.All;
        for (int i = 0; i < ribs.Count; i++)
        {
            ribs[i].PurgeInterface(ifp); // every family's routes through it (rt_flushifroutes)
        }

        ArpLayer.Purge(ifp);
        RtSock.IfAnnounce(ifp, IfanWhat.IFAN_DEPARTURE); // if_detach_internal, once addresses and routes are gone
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
