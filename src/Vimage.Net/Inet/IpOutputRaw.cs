namespace Vimage.Net.Inet;

/// <summary>ip_output with IP_RAWOUTPUT: a datagram whose header the sender wrote (raw sockets with IP_HDRINCL).</summary>
public static partial class IpOutput
{
    /// <summary>
    /// Routes and sends the whole datagram in <paramref name="m"/> as given, filling in a zero ip_id (ip_fillid)
    /// and a zero source (as ip_output chooses one) and computing the header checksum. Broadcast needs
    /// SO_BROADCAST (EACCES), as for any send. Returns 0 or an errno; the mbuf is consumed either way.
    /// </summary>
    public static int SendRaw(Mbuf m, IpOutputOptions options)
    {
        var ip = new IpHeader(m.Data);
        InAddr dst = ip.Destination;
        uint flow = m.HasFlowId ? m.FlowId : Routes.FlowHash(ip.Source, dst, ip.Protocol, PortsOf(m.Data[Math.Min(ip.HeaderLength, m.Length)..], ip.Protocol));
        if (!TryRoute(m, dst, options, flow, out bool broadcast, out Rtentry? route, out int error))
        {
            return error;
        }

        if (m.LeadingSpace < Mbuf.MaxLinkHdr)
        {
            Ip.Stat(IpStat.ips_odropped);
            m.Free();
            return Errno.ENOBUFS;
        }

        ip = new IpHeader(m.Data);
        if (ip.Id == 0)
        {
            ip.Id = (ushort)Interlocked.Increment(ref V_ip_id);
        }

        if (ip.Source.IsAny)
        {
            ip.Source = SourceFor(route.Interface, dst);
        }

        ip.UpdateChecksum();
        Ip.Stat(IpStat.ips_rawout);
        return Transmit(m, route.Interface, route.NextHop(dst), broadcast, route.RouteMtu);
    }
}
