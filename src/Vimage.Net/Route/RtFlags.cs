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
    RTF_STATIC = 0x800,
    RTF_BLACKHOLE = 0x1000,
}
