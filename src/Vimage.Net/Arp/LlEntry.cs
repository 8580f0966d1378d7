using Vimage.Net.Inet;

namespace Vimage.Net.Arp;

/// <summary>State of a link-layer entry (struct llentry).</summary>
public enum LlState
{
    /// <summary>Asking; packets wait in the hold queue.</summary>
    Incomplete,

    /// <summary>Resolved; expires after net.link.ether.inet.max_age.</summary>
    Reachable,

    /// <summary>arp -s: never expires.</summary>
    Static,

    /// <summary>No answer after maxtries: packets fail with EHOSTDOWN until net.link.ether.inet.wait passes.</summary>
    Down,
}

/// <summary>One ARP entry: IPv4 address on an interface → MAC, with its hold queue and timers.</summary>
public sealed class LlEntry(Ifnet ifp, InAddr address)
{
    internal readonly object Lock = new();
    internal readonly Queue<Mbuf> Hold = new();

    public Ifnet Interface { get; } = ifp;

    public InAddr Address { get; } = address;

    public byte[] Mac { get; internal set; } = new byte[6];

    public LlState State { get; internal set; }

    /// <summary>When the entry expires (NetTimers.NowMs); long.MaxValue for static entries.</summary>
    public long ExpiresAtMs { get; internal set; }

    /// <summary>Requests sent for this resolution (la_asked).</summary>
    internal int Asked { get; set; }

    internal long LastRequestMs { get; set; }

    /// <summary>la_preempt: refresh requests left before a used entry expires.</summary>
    internal int Preempt { get; set; }

    /// <summary>ARP_LLINFO_VERIFY: the entry nears expiry and the data path reports its use.</summary>
    internal bool Verifying { get; set; }

    /// <summary>The entry was used by the data path since feedback was requested (llentry hit time).</summary>
    internal bool Used { get; set; }

    public bool IsPermanent => State == LlState.Static;

    /// <summary>LLE_PUB (arp -s ... pub): requests for this address are answered with <see cref="Mac"/> (proxy ARP).</summary>
    public bool Published { get; internal set; }

    public string MacText => FormatMac(Mac);

    /// <summary>xx:xx:xx:xx:xx:xx, as arp(8) and the kernel's %*D print it.</summary>
    internal static string FormatMac(ReadOnlySpan<byte> mac)
        => string.Join(':', mac.ToArray().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
}
