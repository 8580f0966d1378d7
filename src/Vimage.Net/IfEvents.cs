namespace Vimage.Net;

/// <summary>
/// ifnet_arrival_event / ifnet_departure_event / link state: protocols attach per-interface state when an interface
/// enters a vnet and purge it (addresses, routes, ARP entries) when it leaves, always with that vnet current.
/// </summary>
public static class IfEvents
{
    public static event Action<Ifnet>? Attached;

    public static event Action<Ifnet>? Departing;

    public static event Action<Ifnet>? LinkChanged;

    internal static void RaiseAttached(Ifnet ifp) => Attached?.Invoke(ifp);

    internal static void RaiseDeparting(Ifnet ifp) => Departing?.Invoke(ifp);

    internal static void RaiseLinkChanged(Ifnet ifp) => LinkChanged?.Invoke(ifp);
}
