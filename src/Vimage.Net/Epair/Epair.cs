using Vimage.Core;
using Vimage.Net.Iflib;

namespace Vimage.Net.Epair;

/// <summary>
/// if_epair: two Ethernet interfaces joined back to back, on the iflib layer. A frame sent on one end is
/// "DMA'd" into the other end's RX ring, which hashes flows onto its queues (D33731's multi-queue epair); a full
/// ring stalls the sender's TX ring until the receiver frees descriptors, so nothing is dropped under load
/// except when the other end is down (counted as output drops).
/// </summary>
public sealed class EpairCloner() : IfCloner("epair")
{
    private static long s_macCounter;

    /// <summary>Queue configuration for new pairs (both ends).</summary>
    public static IflibQueueConfig DefaultConfig { get; set; } = new(1, 1, 1024, 1024);

    [ThreadStatic]
    private static IflibQueueConfig? t_config;

    /// <summary>The configuration the pair being made on this thread uses.</summary>
    internal static IflibQueueConfig CurrentConfig => t_config ?? DefaultConfig;

    /// <summary>
    /// <c>ifconfig epair create</c> in the current vnet with <paramref name="config"/> instead of
    /// <see cref="DefaultConfig"/> for this pair only (labs make thousands of pairs with small rings).
    /// </summary>
    public static IReadOnlyList<Ifnet> CreateWith(IflibQueueConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        t_config = config;
        try
        {
            return Ifnets.Create("epair");
        }
        finally
        {
            t_config = null;
        }
    }

    protected internal override IReadOnlyList<Ifnet> Create(int unit)
    {
        var a = new EpairEnd(unit, 'a');
        var b = new EpairEnd(unit, 'b');
        a.Peer = b;
        b.Peer = a;
        try
        {
            a.Attach(this);
            b.Attach(this);
            a.CapsChanged();
        }
        catch
        {
            a.DetachIfAttached();
            b.DetachIfAttached();
            throw;
        }

        return [a.Interface!, b.Interface!];
    }

    protected internal override void Destroy(Ifnet ifp)
    {
        var end = (EpairEnd)((IflibContext)ifp.Driver).Device;
        end.DetachIfAttached();
        end.Peer?.DetachIfAttached();
    }

    protected internal override int UnitOf(Ifnet ifp) => ((EpairEnd)((IflibContext)ifp.Driver).Device).Unit;

    protected internal override IEnumerable<string> NamesFor(int unit) => [$"epair{unit}a", $"epair{unit}b"];

    internal static byte[] NewMac(char side)
    {
        long n = Interlocked.Increment(ref s_macCounter);
        return [0x02, (byte)(n >> 24), (byte)(n >> 16), (byte)(n >> 8), (byte)n, (byte)(side == 'a' ? 0x0a : 0x0b)];
    }
}

/// <summary>One end of an epair: the device behind one interface.</summary>
internal sealed class EpairEnd(int unit, char side) : VirtualNic
{
    public override string DriverName => "epair";

    /// <summary>The peer's transmit is this end's receive: it may run inline (net.isr.dispatch).</summary>
    public override bool DirectRx => true;

    public int Unit { get; } = unit;

    public EpairEnd? Peer { get; set; }

    public IflibContext? Context { get; private set; }

    public Ifnet? Interface { get; private set; }

    public void Attach(EpairCloner cloner)
    {
        Context = new IflibContext(this, EpairCloner.CurrentConfig);
        Ifnet ifp = Ifnets.Attach($"epair{Unit}{side}", IfType.IFT_ETHER, Context, EpairCloner.NewMac(side),
            IfFlags.IFF_BROADCAST | IfFlags.IFF_SIMPLEX | IfFlags.IFF_MULTICAST);
        ifp.Cloner = cloner;
        ifp.Capabilities = Caps;
        ifp.CapEnable = Caps;
        ifp.HwTsoMax = TsoMax;
        ifp.CapsChanged = _ => CapsChanged();
        Interface = ifp;
        Context.Attach(ifp);
        Context.RxSpaceAvailable = () => Peer?.Context?.TxInterrupt();
    }

    /// <summary>
    /// What each end can do: checksums and TSO/LRO need no work at all here, since the frame is handed to the peer
    /// whole; a large segment or a partial checksum is only useful to a peer that takes it as it is.
    /// </summary>
    private const IfCap Caps = IfCap.IFCAP_VLAN_MTU | IfCap.IFCAP_HWCSUM | IfCap.IFCAP_TSO4 | IfCap.IFCAP_LRO;

    /// <summary>if_hw_tsomax: IP_MAXPACKET, as most drivers advertise.</summary>
    public const int TsoMax = 65535;

    /// <summary>
    /// SIOCSIFCAP on either end: if_hwassist of both ends again. An end offloads a checksum when its TXCSUM and its
    /// peer's RXCSUM are on (the peer then trusts it without computing it) and TSO when its TSO4 and its peer's LRO
    /// are on (the peer takes the large segment whole); otherwise ip_output does that work in software.
    /// </summary>
    internal void CapsChanged()
    {
        UpdateHwAssist(Interface, Peer?.Interface);
        UpdateHwAssist(Peer?.Interface, Interface);
    }

    private static void UpdateHwAssist(Ifnet? ifp, Ifnet? peer)
    {
        if (ifp is null)
        {
            return;
        }

        IfCap peerCaps = peer?.CapEnable ?? IfCap.None;
        CsumFlags assist = CsumFlags.None;
        if ((ifp.CapEnable & IfCap.IFCAP_TXCSUM) != 0 && (peerCaps & IfCap.IFCAP_RXCSUM) != 0)
        {
            assist |= CsumFlags.CSUM_IP | CsumFlags.CSUM_TCP | CsumFlags.CSUM_UDP;
            if ((ifp.CapEnable & IfCap.IFCAP_TSO4) != 0 && (peerCaps & IfCap.IFCAP_LRO) != 0)
            {
                assist |= CsumFlags.CSUM_TSO;
            }
        }

        ifp.HwAssist = assist;
    }

    public void DetachIfAttached()
    {
        if (Interface is { } ifp)
        {
            Ifnets.Detach(ifp);
        }
    }

    public override int TxdEncap(int qid, Mbuf m)
    {
        EpairEnd? peer = Peer;
        Ifnet? other = peer?.Interface;
        if (peer?.Context is not { } ctx || other is null || !other.IsRunning || other.IsDetached)
        {
            Interface?.Count(IfCounter.IFCOUNTER_OQDROPS);
            m.Free();
            return 0; // consumed: the other end is down, as FreeBSD's epair drops
        }

        m.ReceiveInterface = null;
        MbufCsum.TxToRx(m);
        return ctx.RxPost(m) ? 0 : MpRing.ENOBUFS;
    }

    public override int TxdCreditsUpdate(int qid, bool clear)
    {
        IflibContext? ctx = Peer?.Context;
        if (ctx is null)
        {
            return 1;
        }

        IReadOnlyList<IflibRxQueue> queues = ctx.RxQueues;
        for (int i = 0; i < queues.Count; i++) // indexed: this runs per refused frame, an enumerator would allocate
        {
            if (queues[i].Ring.Space > 0)
            {
                return 1;
            }
        }

        return 0;
    }
}
