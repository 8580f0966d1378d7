using Vimage.Core;
using Vimage.Net.Iflib;
using Vimage.Net.Netisr;

namespace Vimage.Net.Loopback;

/// <summary>if_loop: what is sent comes back in, through the iflib layer like any NIC. lo0 cannot be destroyed.</summary>
public sealed class LoopbackCloner() : IfCloner("lo")
{
    protected internal override IReadOnlyList<Ifnet> Create(int unit)
    {
        var device = new LoopbackDevice(unit);
        var ctx = new IflibContext(device, new IflibQueueConfig(1, 1, 1024, 1024));
        Ifnet ifp = Ifnets.Attach($"lo{unit}", IfType.IFT_LOOP, ctx, [], IfFlags.IFF_LOOPBACK | IfFlags.IFF_MULTICAST);
        ifp.Mtu = 16384;
        ifp.Cloner = this;
        ifp.Capabilities = LoopbackDevice.Caps;
        ifp.CapEnable = LoopbackDevice.Caps;
        ifp.CapsChanged = LoopbackDevice.CapsChanged;
        LoopbackDevice.CapsChanged(ifp);
        device.Context = ctx;
        ctx.RxSpaceAvailable = ctx.TxInterrupt; // it is its own peer
        ctx.Attach(ifp);
        return [ifp];
    }

    protected internal override void Destroy(Ifnet ifp) => Ifnets.Detach(ifp);

    protected internal override bool CanDestroy(Ifnet ifp) => UnitOf(ifp) != 0;

    protected internal override int UnitOf(Ifnet ifp) => ((LoopbackDevice)((IflibContext)ifp.Driver).Device).Unit;
}

internal sealed class LoopbackDevice(int unit) : VirtualNic
{
    public override string DriverName => "lo";

    public int Unit { get; } = unit;

    public IflibContext? Context { get; set; }

    /// <summary>if_loop's capabilities: IFCAP_HWCSUM | IFCAP_HWCSUM_IPV6 | IFCAP_LINKSTATE.</summary>
    internal const IfCap Caps = IfCap.IFCAP_HWCSUM | IfCap.IFCAP_HWCSUM_IPV6 | IfCap.IFCAP_LINKSTATE;

    /// <summary>loioctl's SIOCSIFCAP: LO_CSUM_FEATURES in if_hwassist while TXCSUM and RXCSUM are on (it is its own receiver).</summary>
    internal static void CapsChanged(Ifnet ifp)
        => ifp.HwAssist = (ifp.CapEnable & IfCap.IFCAP_HWCSUM) == IfCap.IFCAP_HWCSUM ? CsumFlags.CSUM_IP | CsumFlags.CSUM_TCP | CsumFlags.CSUM_UDP : CsumFlags.None;

    public override int TxdEncap(int qid, Mbuf m)
    {
        m.Flags |= MbufFlags.Loop;
        MbufCsum.TxToRx(m); // looutput: what it was asked to offload counts as checked
        return Context!.RxPost(m) ? 0 : MpRing.ENOBUFS;
    }
}

/// <summary>looutput and if_simloop's receive half: what lo0 sends comes back in to the protocol of its IP version.</summary>
public static partial class LoopbackIo
{
    /// <summary>looutput: no link header, no resolution; the frame goes straight to the (self-peered) driver.</summary>
    public static int Output(Ifnet ifp, Mbuf m, in Sockaddr dst) => ifp.Transmit(m);

    /// <summary>if_simloop's netisr_queue: the IP version nibble picks NETISR_IP or NETISR_IPV6 (too short: IP, which counts it).</summary>
    public static void Input(Ifnet ifp, Mbuf m)
        => NetisrTable.Dispatch(m.Length > 0 && (m.Data[0] >> 4) == 6 ? NetisrProto.NETISR_IPV6 : NetisrProto.NETISR_IP, ifp, m);

    /// <summary>vnet_loif_init: every vnet gets its lo0, up (its address comes with the inet domain).</summary>
    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_ANY)]
    private static void vnet_loif_init()
    {
        Ifnets.EnsureCloner("lo", static () => new LoopbackCloner());
        Ifnet lo0 = Ifnets.Create("lo0")[0];
        lo0.SetUp(true);
    }
}
