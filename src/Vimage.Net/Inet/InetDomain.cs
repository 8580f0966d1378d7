using Vimage.Net.Sockets;

namespace Vimage.Net.Inet;

/// <summary>
/// An inet protocol (an inetsw entry): a <see cref="Protosw"/> whose ip_input hook (<see cref="Input"/>) and ICMP
/// error hook (<see cref="CtlInput"/>) <see cref="InetDomain.Register"/> installs in ip_protox / ip_ctlprotox.
/// </summary>
public abstract class InProtosw(SockType type, int protocol, PrFlags flags) : Protosw(type, protocol, flags)
{
    /// <summary>pr_input: data starts at the IP header of <c>hlen</c> bytes; the handler owns the mbuf. Null: none.</summary>
    public virtual IpProtocolInput? Input => null;

    /// <summary>pr_ctlinput: an ICMP error quoting one of this protocol's datagrams; true when it took the mbuf.</summary>
    public virtual IcmpHandler? CtlInput => null;

    /// <summary>ip_ctloutput: IP_TTL and IP_TOS (0 to 255, EINVAL otherwise) on <paramref name="pcb"/>.</summary>
    protected static int IpCtlOutput(InPcb pcb, int name, bool set, ref int value)
    {
        if (name is not (InOptions.IP_TTL or InOptions.IP_TOS))
        {
            return Errno.ENOPROTOOPT;
        }

        if (set && value is < 0 or > 255)
        {
            return Errno.EINVAL;
        }

        if (set && name == InOptions.IP_TTL)
        {
            pcb.Ttl = (byte)value;
        }
        else if (set)
        {
            pcb.Tos = (byte)value;
        }

        value = name == InOptions.IP_TTL ? pcb.Ttl : pcb.Tos;
        return 0;
    }

    /// <summary>
    /// in_getsockaddr (netinet/in_pcb.c): the PCB's local address and port, for every inet protocol with an inpcb
    /// (a protocol without one answers as pr_sockaddr's default does).
    /// </summary>
    public override Sockaddr SockAddr(Socket so)
        => so.Pcb is InPcb { Ends: var e } ? e.Local.ToSockaddr(e.LocalPort) : Sockaddr.Unspec;

    /// <summary>in_getpeeraddr: the PCB's foreign address and port.</summary>
    public override Sockaddr PeerAddr(Socket so)
        => so.Pcb is InPcb { Ends: var e } ? e.Foreign.ToSockaddr(e.ForeignPort) : Sockaddr.Unspec;

    /// <summary>The inet PCB of a socket of this protocol.</summary>
    protected static InPcb PcbOf(Socket so) => (InPcb)(so.Pcb ?? throw new InvalidOperationException("socket has no inpcb"));
}

#pragma warning disable CA1707 // FreeBSD's names.

/// <summary>IP-level socket options (netinet/in.h).</summary>
public static class InOptions
{
    /// <summary>IPPROTO_IP: the level of the options below.</summary>
    public const int IPPROTO_IP = 0;

    public const int IP_HDRINCL = 2;
    public const int IP_TOS = 3;
    public const int IP_TTL = 4;
}

#pragma warning restore CA1707

/// <summary>
/// The AF_INET domain (netinet/in_proto.c): the protocol switch sockets and ip_input share. A transport protocol
/// is one <see cref="Register"/> call: its socket type and number go into the domain (socket(AF_INET, type,
/// proto) finds it), its input and ctlinput into ip_protox and ip_ctlprotox. UDP, ICMP and raw IP register here;
/// so can a protocol from another assembly.
/// </summary>
public static partial class InetDomain
{
    /// <summary>inetdomain.</summary>
    public static Domain Domain { get; } = Domains.GetOrAdd(SaFamily.AF_INET, "internet");

    /// <summary>pf_proto_register + ipproto_register. Registering the same instance again is harmless.</summary>
    public static void Register(InProtosw pr)
    {
        ArgumentNullException.ThrowIfNull(pr);
        int error = Domain.Add(pr);
        if (error != 0)
        {
            throw new InvalidOperationException($"inet: {pr.Type} protocol {pr.Protocol} is already registered");
        }

        if (pr.Protocol is > 0 and < 256)
        {
            if (pr.Input is { } input)
            {
                IpProtocols.Register((byte)pr.Protocol, input);
            }

            if (pr.CtlInput is { } ctlinput)
            {
                IpProtocols.RegisterCtlInput((byte)pr.Protocol, ctlinput);
            }
        }
    }

    /// <summary>in_proto.c's inetsw: the protocols every vnet's inet domain has (the table is global, set once).</summary>
    [Vimage.Core.VnetSysinit(Vimage.Core.SiSub.SI_SUB_PROTO_DOMAININIT, Vimage.Core.SiOrder.SI_ORDER_FIRST)]
    private static void in_proto_init()
    {
        Register(Udp.Protosw);
        Register(RawIp.IcmpEntry);
        Register(RawIp.Wildcard);
        IpProtocols.RegisterDefault(RawIp.Wildcard.Input!);
        MbufCsum.DelayedCksum = InOffload.DelayedCksum;
    }

    /// <summary>pf_proto_unregister + ipproto_unregister (a module going away).</summary>
    public static void Unregister(InProtosw pr)
    {
        if (Domain.Remove(pr) && pr.Protocol is > 0 and < 256)
        {
            IpProtocols.Unregister((byte)pr.Protocol);
        }
    }
}
