namespace Vimage.Net;

/// <summary>
/// if_output(ifp, m, dst, ro): sends a network-layer packet (data starting at its network header) out of
/// <paramref name="ifp"/> towards the next hop <paramref name="dst"/>, whose family says which link-layer
/// resolution applies (ARP for AF_INET). MbufFlags.Broadcast on <paramref name="m"/> asks for the link broadcast.
/// Returns 0 (sent, or held until resolution) or an errno; the mbuf is consumed either way.
/// </summary>
public delegate int IfOutput(Ifnet ifp, Mbuf m, in Sockaddr dst);
