using System.Runtime.CompilerServices;
using Vimage.Core;
using Vimage.Net.Bpf;

namespace Vimage.Net;

/// <summary>
/// A network interface (struct ifnet). It belongs to one vnet at a time (<see cref="Vnet"/>, if_vnet) and
/// remembers the vnet that created it (<see cref="HomeVnet"/>, if_home_vnet), where it returns when the vnet
/// it is loaned to is destroyed. Counters are per-CPU.
/// </summary>
public sealed class Ifnet
{
    private VnetPcpuStat<IfCounter> _counters;
    private IfFlags _flags;
    private int _detached;

    internal Ifnet(string name, IfType type, IIfDriver driver, Vnet vnet, byte[] lladdr)
    {
        Name = name;
        Type = type;
        Driver = driver;
        Vnet = vnet;
        HomeVnet = vnet;
        Lladdr = lladdr;
        _counters.VnetInit();
    }

    /// <summary>if_xname, unique within its vnet.</summary>
    public string Name { get; internal set; }

    /// <summary>if_index within its vnet (1-based, reused after detach).</summary>
    public int Index { get; internal set; }

    public IfType Type { get; }

    public IIfDriver Driver { get; }

    /// <summary>if_vnet: the stack the interface is in now.</summary>
    public Vnet Vnet { get; internal set; }

    /// <summary>if_home_vnet: the stack that created it.</summary>
    public Vnet HomeVnet { get; }

    /// <summary>Link-level address (6 bytes for Ethernet, empty for loopback).</summary>
    public byte[] Lladdr { get; }

    public int Mtu { get; internal set; } = 1500;

    /// <summary>if_fib: the routing table its received packets are forwarded with (M_SETFIB in ether_input).</summary>
    public int Fib { get; internal set; }

    public string Description { get; set; } = "";

    /// <summary>if_capabilities: the offloads the driver can do.</summary>
    public IfCap Capabilities { get; internal set; }

    /// <summary>if_capenable: the offloads turned on (ifconfig txcsum/-txcsum, tso/-tso, ...).</summary>
    public IfCap CapEnable { get; internal set; }

    /// <summary>
    /// if_hwassist: the CSUM_* requests the driver carries out for ip_output, derived from <see cref="CapEnable"/>
    /// by the driver (<see cref="CapsChanged"/>). ip_output computes in software what is requested and not here.
    /// </summary>
    public CsumFlags HwAssist { get; internal set; }

    /// <summary>if_hw_tsomax: the largest packet (IP header included) the interface segments.</summary>
    public int HwTsoMax { get; internal set; }

    /// <summary>The driver's SIOCSIFCAP: recomputes <see cref="HwAssist"/> after <see cref="CapEnable"/> changed.</summary>
    public Action<Ifnet>? CapsChanged { get; set; }

    /// <summary>Set when the interface was made by a cloner (ifconfig X create).</summary>
    public IfCloner? Cloner { get; internal set; }

    /// <summary>The capture hook (bpf_mtap).</summary>
    public BpfTap Bpf { get; } = new();

    public IfFlags Flags => (IfFlags)Volatile.Read(ref Unsafe.As<IfFlags, int>(ref _flags));

    public bool IsUp => (Flags & IfFlags.IFF_UP) != 0;

    public bool IsRunning => (Flags & IfFlags.IFF_RUNNING) != 0;

    public bool IsDetached => Volatile.Read(ref _detached) != 0;

    /// <summary>if_input: where received frames go (ether_input once the link layer attaches).</summary>
    public Action<Ifnet, Mbuf>? InputHandler { get; set; }

    /// <summary>if_output: how network-layer packets leave (ether_output, looutput), set when the link layer attaches.</summary>
    public IfOutput? OutputHandler { get; set; }

    public long Counter(IfCounter counter) => _counters.Fetch(counter);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Count(IfCounter counter, long value = 1) => _counters.Add(counter, value);

    /// <summary>if_input: accounts and taps the frame, then hands it to the link layer (the caller is in the vnet).</summary>
    public void Input(Mbuf m)
    {
        if (!MbufShare.ChargeToCurrent(m))
        {
            Count(IfCounter.IFCOUNTER_IQDROPS); // the vnet holds its whole share of the buffer zone
            m.Free();
            return;
        }

        m.ReceiveInterface = this;
        if (Type != IfType.IFT_LOOP)
        {
            m.Fib = Fib; // ether_input's M_SETFIB(m, ifp->if_fib); if_simloop keeps the sender's
        }

        Count(IfCounter.IFCOUNTER_IPACKETS);
        Count(IfCounter.IFCOUNTER_IBYTES, m.Length);
        if ((m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0)
        {
            Count(IfCounter.IFCOUNTER_IMCASTS);
        }

        Bpf.Tap(m.Data, Direction.In);
        Action<Ifnet, Mbuf>? handler = InputHandler;
        if (handler is null || !IsUp)
        {
            Count(handler is null ? IfCounter.IFCOUNTER_NOPROTO : IfCounter.IFCOUNTER_IQDROPS);
            m.Free();
            return;
        }

        handler(this, m);
    }

    /// <summary>if_output: hands a network-layer packet to the link layer (no link layer yet: dropped, ENETDOWN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Output(Mbuf m, in Sockaddr dst)
    {
        IfOutput? output = OutputHandler;
        if (output is null)
        {
            Count(IfCounter.IFCOUNTER_OQDROPS);
            m.Free();
            return Errno.ENETDOWN;
        }

        return output(this, m, in dst);
    }

    /// <summary>
    /// if_transmit: the frame leaves through the driver; dropped (and counted) when the interface is down (ENETDOWN,
    /// as ether_output says) or the driver's queue is full (ENOBUFS, iflib_if_transmit). Returns 0 or that errno.
    /// </summary>
    public int Transmit(Mbuf m)
    {
        if (!IsUp || !IsRunning || IsDetached)
        {
            Count(IfCounter.IFCOUNTER_OQDROPS);
            m.Free();
            return Errno.ENETDOWN;
        }

        Bpf.Tap(m.Data, Direction.Out);
        return Driver.Transmit(this, m);
    }

    /// <summary>Counts a frame that left the interface (drivers call this once it is on the wire).</summary>
    public void CountOutput(int bytes, bool multicast)
    {
        Count(IfCounter.IFCOUNTER_OPACKETS);
        Count(IfCounter.IFCOUNTER_OBYTES, bytes);
        if (multicast)
        {
            Count(IfCounter.IFCOUNTER_OMCASTS);
        }
    }

    /// <summary>ifconfig up / down.</summary>
    public void SetUp(bool up)
    {
        EnsureAttached();
        if (up == IsUp)
        {
            return;
        }

        if (up)
        {
            SetFlag(IfFlags.IFF_UP, true);
            Driver.Init(this);
        }
        else
        {
            SetFlag(IfFlags.IFF_UP, false);
            Driver.Stop(this);
        }

        IfEvents.RaiseLinkChanged(this);
    }

    /// <summary>ifconfig mtu N (68 to 9000, as FreeBSD's ether_ioctl allows for drivers with jumbo support).</summary>
    public void SetMtu(int mtu)
    {
        EnsureAttached();
        if (mtu < 68 || mtu > 9000)
        {
            throw new IfException(IfError.InvalidArgument, $"ifconfig: {Name}: mtu {mtu} out of range [68, 9000]");
        }

        Mtu = mtu;
    }

    /// <summary>
    /// SIOCSIFCAP: turns <paramref name="on"/> on and <paramref name="off"/> off among what the driver can do
    /// (anything else is ignored, as ifconfig's setifcap asks only for what if_capabilities has); TSO needs
    /// TXCSUM (iflib: "tso4 requires txcsum"), so turning one on turns on both and turning TXCSUM off turns off
    /// both. Returns the capabilities turned on or off beyond what was asked, for the driver's message.
    /// </summary>
    public IfCap SetCapabilities(IfCap on, IfCap off)
    {
        EnsureAttached();
        IfCap before = CapEnable;
        IfCap enable = (before | on) & ~off & Capabilities;
        if ((on & IfCap.IFCAP_TSO4) != 0 && (enable & IfCap.IFCAP_TSO4) != 0)
        {
            enable |= IfCap.IFCAP_TXCSUM & Capabilities;
        }
        else if ((off & IfCap.IFCAP_TXCSUM) != 0)
        {
            enable &= ~IfCap.IFCAP_TSO4;
        }

        CapEnable = enable;
        CapsChanged?.Invoke(this);
        return (enable ^ before) & ~(on | off);
    }

    public void SetPromiscuous(bool on) => SetFlag(IfFlags.IFF_PROMISC, on);

    /// <summary>The flags ifconfig sets with setifflags beyond up/down and promisc (SIOCSIFFLAGS).</summary>
    public const IfFlags UserFlags = IfFlags.IFF_DEBUG | IfFlags.IFF_NOARP | IfFlags.IFF_LINK0 | IfFlags.IFF_LINK1
        | IfFlags.IFF_LINK2 | IfFlags.IFF_MONITOR | IfFlags.IFF_STATICARP;

    /// <summary>ifconfig arp/-arp, debug, link0-2, monitor, staticarp: one of <see cref="UserFlags"/>.</summary>
    public void SetUserFlag(IfFlags flag, bool on)
    {
        EnsureAttached();
        if (flag == IfFlags.None || (flag & ~UserFlags) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(flag), flag, "not a flag ifconfig sets");
        }

        SetFlag(flag, on);
    }

    /// <summary>
    /// if_setlladdr (SIOCSIFLLADDR): a new link-level address of the interface's length (EINVAL otherwise, so
    /// loopback has none to change). Frames are built from <see cref="Lladdr"/>, so the next one uses it.
    /// </summary>
    public void SetLladdr(ReadOnlySpan<byte> lladdr)
    {
        EnsureAttached();
        if (lladdr.Length != Lladdr.Length || Lladdr.Length == 0)
        {
            throw new IfException(IfError.InvalidArgument, $"ifconfig: {Name}: link-level address of {lladdr.Length} bytes, the interface's are {Lladdr.Length}");
        }

        lladdr.CopyTo(Lladdr);
    }

    /// <summary>Drivers set and clear IFF_RUNNING (IFF_DRV_RUNNING).</summary>
    public void SetRunning(bool running) => SetFlag(IfFlags.IFF_RUNNING, running);

    internal void SetFlag(IfFlags flag, bool on)
    {
        ref int flags = ref Unsafe.As<IfFlags, int>(ref _flags);
        int old, updated;
        do
        {
            old = Volatile.Read(ref flags);
            updated = on ? old | (int)flag : old & ~(int)flag;
        }
        while (Interlocked.CompareExchange(ref flags, updated, old) != old);
    }

    internal void InitFlags(IfFlags flags) => _flags = flags;

    internal bool MarkDetached() => Interlocked.Exchange(ref _detached, 1) == 0;

    internal void FreeCounters() => _counters.VnetUninit();

    // Statistics outlive the detach: a sender racing with destroy may still count a drop on this interface, and
    // netstat may still read it. The per-CPU slots go back when nothing references the interface any more.
    ~Ifnet() => FreeCounters();

    internal void EnsureAttached()
    {
        if (IsDetached)
        {
            throw new IfException(IfError.NoSuchInterface, $"ifconfig: interface {Name} does not exist");
        }
    }

    public override string ToString() => $"{Name} (index {Index}, {Vnet.Name})";
}
