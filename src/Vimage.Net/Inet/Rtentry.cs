using Vimage.Net.Route;

namespace Vimage.Net.Inet;

/// <summary>An IPv4 route (rtentry with its nexthop, netinet/in_fib.h): destination prefix and gateway over <see cref="Nhop"/>.</summary>
public sealed record Rtentry(InAddr Destination, int PrefixLength, InAddr Gateway, Ifnet Interface, RtFlags Flags)
    : Nhop(Interface, Flags)
{
    public uint Mask => InAddr.MaskOf(PrefixLength);

    public override bool IsHost => PrefixLength == 32;

    /// <summary>Where a packet to <paramref name="dst"/> goes next on the link.</summary>
    public InAddr NextHop(InAddr dst) => IsGateway ? Gateway : dst;

    /// <summary>netstat -rn's Destination column.</summary>
    public string DestinationText => PrefixLength == 0 ? "default" : IsHost ? Destination.ToString() : $"{Destination}/{PrefixLength}";
}
