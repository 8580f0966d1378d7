using Vimage.Net.Inet;

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

/// <summary>A route (rtentry + its nexthop): destination prefix, gateway or interface, flags.</summary>
public sealed record Rtentry(InAddr Destination, int PrefixLength, InAddr Gateway, Ifnet Interface, RtFlags Flags)
{
    public uint Mask => InAddr.MaskOf(PrefixLength);

    public bool IsGateway => (Flags & RtFlags.RTF_GATEWAY) != 0;

    public bool IsBlackhole => (Flags & RtFlags.RTF_BLACKHOLE) != 0;

    public bool IsReject => (Flags & RtFlags.RTF_REJECT) != 0;

    public bool IsHost => PrefixLength == 32;

    /// <summary>Where a packet to <paramref name="dst"/> goes next on the link.</summary>
    public InAddr NextHop(InAddr dst) => IsGateway ? Gateway : dst;

    /// <summary>netstat -rn's Destination column.</summary>
    public string DestinationText => PrefixLength == 0 ? "default" : IsHost ? Destination.ToString() : $"{Destination}/{PrefixLength}";

    /// <summary>netstat -rn's Flags column: U, G, H, R, B, S in FreeBSD's order.</summary>
    public string FlagsText
    {
        get
        {
            var text = new System.Text.StringBuilder();
            if ((Flags & RtFlags.RTF_UP) != 0)
            {
                text.Append('U');
            }

            if (IsGateway)
            {
                text.Append('G');
            }

            if (IsHost)
            {
                text.Append('H');
            }

            if (IsReject)
            {
                text.Append('R');
            }

            if (IsBlackhole)
            {
                text.Append('B');
            }

            if ((Flags & RtFlags.RTF_STATIC) != 0)
            {
                text.Append('S');
            }

            return text.ToString();
        }
    }
}

/// <summary>Why a routing request failed, with FreeBSD's errno.</summary>
public enum RouteError
{
    /// <summary>ESRCH: "not in table".</summary>
    NotInTable = 3,

    /// <summary>EEXIST.</summary>
    Exists = 17,

    /// <summary>ENETUNREACH: the gateway is not on a connected network.</summary>
    NetworkUnreachable = 51,

    /// <summary>EINVAL.</summary>
    InvalidArgument = 22,
}

public sealed class RouteException(RouteError error, string message) : Exception(message)
{
    public RouteError Error { get; } = error;

    public int Errno => (int)Error;
}
