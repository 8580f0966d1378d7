namespace Vimage.Net;

#pragma warning disable CA1707 // FreeBSD's names, kept on purpose.

/// <summary>
/// m_pkthdr.csum_flags (sys/mbuf.h, same values). The low bits ask the interface for work on output (CSUM_IP,
/// CSUM_TCP, CSUM_UDP, CSUM_TSO, matched against if_hwassist); the L3/L4 bits tell input what the receiving
/// interface already checked (CSUM_L3_CALC|CSUM_L3_VALID, CSUM_L4_CALC|CSUM_L4_VALID, alias CSUM_PSEUDO_HDR|CSUM_DATA_VALID).
/// </summary>
[Flags]
public enum CsumFlags
{
    None = 0,
    CSUM_IP = 0x1,
    CSUM_IP_UDP = 0x2,
    CSUM_IP_TCP = 0x4,
    CSUM_IP_TSO = 0x10,
    CSUM_L3_CALC = 0x01000000,
    CSUM_L3_VALID = 0x02000000,
    CSUM_L4_CALC = 0x04000000,
    CSUM_L4_VALID = 0x08000000,

    CSUM_UDP = CSUM_IP_UDP,
    CSUM_TCP = CSUM_IP_TCP,
    CSUM_TSO = CSUM_IP_TSO,
    CSUM_IP_CHECKED = CSUM_L3_CALC,
    CSUM_IP_VALID = CSUM_L3_VALID,
    CSUM_PSEUDO_HDR = CSUM_L4_CALC,
    CSUM_DATA_VALID = CSUM_L4_VALID,

    /// <summary>CSUM_DELAY_DATA: a transport checksum still to be computed (in_delayed_cksum or the interface).</summary>
    CSUM_DELAY_DATA = CSUM_TCP | CSUM_UDP,

    /// <summary>The output requests (what if_hwassist is matched against).</summary>
    TxMask = CSUM_IP | CSUM_DELAY_DATA | CSUM_TSO,

    /// <summary>The input results a receiving interface sets.</summary>
    RxMask = CSUM_L3_CALC | CSUM_L3_VALID | CSUM_L4_CALC | CSUM_L4_VALID,
}

/// <summary>
/// Checksum offload helpers below the network layer. Completing a delayed checksum needs the network protocol
/// (in_delayed_cksum), which registers itself here, so link-level code (dummynet's corruption, a driver without
/// offload) can ask for it without naming an upper layer.
/// </summary>
public static class MbufCsum
{
    /// <summary>in_delayed_cksum for the packet's family; set by the inet domain.</summary>
    public static Action<Mbuf>? DelayedCksum { get; set; }

    /// <summary>
    /// What "on the wire" means for an offloaded packet: its delayed checksum computed now and every flag cleared,
    /// so a receiver verifies it (dummynet corrupts a bit after this, as a real link would after the NIC).
    /// </summary>
    public static void Complete(Mbuf m)
    {
        if ((m.CsumFlags & CsumFlags.CSUM_DELAY_DATA) != 0)
        {
            DelayedCksum?.Invoke(m);
        }

        m.CsumFlags = CsumFlags.None;
    }

    /// <summary>
    /// What an interface with checksum offload on both ends does to a frame it hands to its peer (if_epair's and
    /// if_loop's receive side): the output requests stay (a router forwarding it still owes them), and the
    /// results say the checksums the requests cover are good, so the receiver does not verify them.
    /// </summary>
    public static void TxToRx(Mbuf m)
    {
        CsumFlags tx = m.CsumFlags & CsumFlags.TxMask;
        CsumFlags rx = CsumFlags.None;
        if ((tx & CsumFlags.CSUM_IP) != 0)
        {
            rx |= CsumFlags.CSUM_L3_CALC | CsumFlags.CSUM_L3_VALID;
        }

        if ((tx & CsumFlags.CSUM_DELAY_DATA) != 0)
        {
            rx |= CsumFlags.CSUM_PSEUDO_HDR | CsumFlags.CSUM_DATA_VALID;
        }

        m.CsumFlags = tx | rx;
    }
}
