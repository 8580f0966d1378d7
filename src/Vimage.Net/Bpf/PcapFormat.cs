namespace Vimage.Net.Bpf;

/// <summary>Link-layer header types (the LINKTYPE_* values of tcpdump.org) a pcap file may carry.</summary>
public enum PcapLinkType : uint
{
    /// <summary>LINKTYPE_NULL (DLT_NULL): a 4-byte host-order address family, then the packet (FreeBSD lo0).</summary>
    Null = 0,

    /// <summary>LINKTYPE_ETHERNET (DLT_EN10MB): IEEE 802.3 Ethernet frames.</summary>
    Ethernet = 1,

    /// <summary>LINKTYPE_RAW: raw IPv4/IPv6 packets, no link-layer header.</summary>
    Raw = 101,
}

/// <summary>Constants of the classic libpcap savefile format (pcap-savefile(5)).</summary>
public static class PcapFormat
{
    /// <summary>Magic of a file with microsecond timestamps, as written in the writer's byte order.</summary>
    public const uint MagicMicroseconds = 0xa1b2c3d4;

    /// <summary>Magic of a file with nanosecond timestamps (read-only support).</summary>
    public const uint MagicNanoseconds = 0xa1b23c4d;

    public const ushort VersionMajor = 2;
    public const ushort VersionMinor = 4;

    /// <summary>The snapshot length tcpdump uses by default (MAXIMUM_SNAPLEN).</summary>
    public const int DefaultSnapLength = 262144;

    /// <summary>Size of the global file header.</summary>
    public const int GlobalHeaderLength = 24;

    /// <summary>Size of each per-record header (ts_sec, ts_usec, incl_len, orig_len).</summary>
    public const int RecordHeaderLength = 16;

    /// <summary>The largest record the reader accepts whatever the header's snaplen says (guards allocation on garbage).</summary>
    public const int MaxRecordLength = 64 * 1024 * 1024;

    internal const long UnixEpochTicks = 621355968000000000; // DateTime.UnixEpoch.Ticks
}
