namespace Vimage.Core;

#pragma warning disable CA1707, CA1069 // FreeBSD's names and values, kept on purpose.

/// <summary>CTLFLAG_* (sys/sysctl.h), same values.</summary>
[Flags]
public enum SysctlFlags : uint
{
    None = 0,

    /// <summary>CTLFLAG_RD: readable.</summary>
    RD = 0x80000000,

    /// <summary>CTLFLAG_WR: writable.</summary>
    WR = 0x40000000,

    /// <summary>CTLFLAG_RW.</summary>
    RW = RD | WR,

    /// <summary>CTLFLAG_ANYBODY: writable without privilege.</summary>
    ANYBODY = 0x10000000,

    /// <summary>CTLFLAG_PRISON: a jail may write it.</summary>
    PRISON = 0x04000000,

    /// <summary>CTLFLAG_SKIP: hidden from listings.</summary>
    SKIP = 0x01000000,

    /// <summary>CTLFLAG_TUN: a loader tunable sets it at registration.</summary>
    TUN = 0x00080000,

    /// <summary>CTLFLAG_VNET: resolves to the current vnet's copy ("prisons with vnet can fiddle").</summary>
    VNET = 0x00020000,

    /// <summary>CTLFLAG_STATS: a statistic (cleared by a write).</summary>
    STATS = 0x00002000,

    /// <summary>CTLFLAG_NOFETCH: no tunable is fetched even with TUN.</summary>
    NOFETCH = 0x00001000,
}

/// <summary>CTLTYPE_*: what an OID holds.</summary>
public enum SysctlType
{
    Node,
    Int,
    UInt,
    Long,
    U64,
    Bool,
    String,

    /// <summary>A struct: statistics (VNET_PCPUSTAT) or any opaque blob; suppressed in listings unless asked.</summary>
    Opaque,
}
