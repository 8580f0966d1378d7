namespace Vimage.Net.Tcp.Cc;

#pragma warning disable CA1707, IDE1006 // FreeBSD's struct cc_var field names.

/// <summary>struct cc_var (netinet/cc/cc.h): a connection's congestion-control state, held by its tcpcb.</summary>
public sealed class CcVar(ICcConnection tp)
{
    /// <summary>ccvc.tcp: the connection.</summary>
    public ICcConnection Tp { get; } = tp;

    /// <summary>cc_data: the module's per-connection state (cb_init makes it, cb_destroy drops it).</summary>
    public object? cc_data { get; set; }

    /// <summary>The module this connection runs (t_cc).</summary>
    public CcAlgo? Algo { get; set; }

    /// <summary>bytes_this_ack: bytes the current ACK acknowledged.</summary>
    public int bytes_this_ack { get; set; }

    /// <summary>curack: the most recent ACK.</summary>
    public uint curack { get; set; }

    /// <summary>nsegs: segments coalesced into the current ACK (1 without LRO).</summary>
    public ushort nsegs { get; set; } = 1;

    /// <summary>labc: a per-connection ABC limit (CCF_USE_LOCAL_ABC), else net.inet.tcp.abc_l_var.</summary>
    public byte labc { get; set; }

    public CcFlags flags { get; set; }
}

/// <summary>cc_var flags (CCF_*).</summary>
[Flags]
public enum CcFlags
{
    None = 0,

    /// <summary>CCF_ABC_SENTAWND: a cwnd's worth of bytes was acknowledged (congestion avoidance may grow).</summary>
    CCF_ABC_SENTAWND = 0x0001,

    /// <summary>CCF_CWND_LIMITED: cwnd, not the peer's window, limits sending (only then does cwnd grow).</summary>
    CCF_CWND_LIMITED = 0x0002,

    /// <summary>CCF_USE_LOCAL_ABC: <see cref="CcVar.labc"/> overrides net.inet.tcp.abc_l_var.</summary>
    CCF_USE_LOCAL_ABC = 0x0004,

    /// <summary>CCF_ACKNOW: the module asks for an immediate ACK.</summary>
    CCF_ACKNOW = 0x0008,
}

/// <summary>ack_received's type (CC_ACK, CC_DUPACK, ...).</summary>
public enum CcAckType
{
    CC_ACK = 1,
    CC_DUPACK = 2,
    CC_PARTIALACK = 3,
    CC_SACK = 4,
}

/// <summary>cong_signal's type (CC_ECN, CC_RTO, CC_RTO_ERR, CC_NDUPACK).</summary>
public enum CcSignal
{
    CC_ECN = 0x01,
    CC_RTO = 0x02,
    CC_RTO_ERR = 0x04,
    CC_NDUPACK = 0x08,
}
