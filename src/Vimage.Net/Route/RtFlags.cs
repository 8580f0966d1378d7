namespace Vimage.Net.Route;

#pragma warning disable CA1707 // FreeBSD's flag names.

/// <summary>RTF_* route flags (net/route.h), same values.</summary>
[Flags]
public enum RtFlags
{
    None = 0,
    RTF_UP = 0x1,
    RTF_GATEWAY = 0x2,
    RTF_HOST = 0x4,
    RTF_REJECT = 0x8,
    RTF_DYNAMIC = 0x10,
    RTF_MODIFIED = 0x20,
    RTF_DONE = 0x40,
    RTF_XRESOLVE = 0x200,
    RTF_LLINFO = 0x400,
    RTF_STATIC = 0x800,
    RTF_BLACKHOLE = 0x1000,
    RTF_PROTO2 = 0x4000,
    RTF_PROTO1 = 0x8000,
    RTF_PROTO3 = 0x40000,
    RTF_FIXEDMTU = 0x80000,
    RTF_PINNED = 0x100000,
    RTF_LOCAL = 0x200000,
    RTF_BROADCAST = 0x400000,
    RTF_MULTICAST = 0x800000,
    RTF_STICKY = 0x10000000,
}
