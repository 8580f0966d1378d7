using Vimage.Net.Iflib;

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

    public override int TxdEncap(int qid, Mbuf m)
    {
        m.Flags |= MbufFlags.Loop;
        return Context!.RxPost(m) ? 0 : MpRing.ENOBUFS;
    }
}
