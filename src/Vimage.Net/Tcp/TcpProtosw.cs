using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;

namespace Vimage.Net.Tcp;

/// <summary>
/// inetsw's TCP entry (tcp_protosw, netinet/tcp_usrreq.c): tcp_input on IP protocol 6. The user requests
/// (tcp_usr_attach and the rest) are not there yet: socket(AF_INET, SOCK_STREAM) answers EPROTONOSUPPORT until the
/// tcpcb lands, while segments already get FreeBSD's answers (RST for closed ports, counted drops).
/// </summary>
public sealed class TcpProtosw() : InProtosw(SockType.SOCK_STREAM, IpProto.Tcp, PrFlags.PR_CONNREQUIRED)
{
    public override IpProtocolInput? Input => Tcp.InputHandler;

    public override int Attach(Socket so, int protocol) => Errno.EPROTONOSUPPORT;

    public override void Detach(Socket so)
    {
    }

    public override int Send(Socket so, ReadOnlySpan<byte> data, in Sockaddr to) => Errno.EOPNOTSUPP;
}

public static partial class Tcp
{
    /// <summary>The inetsw entry.</summary>
    public static readonly TcpProtosw Protosw = new();

    /// <summary>in_proto.c's TCP line: TCP registers itself with the inet domain, after UDP/ICMP/raw.</summary>
    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAININIT, SiOrder.SI_ORDER_SECOND)]
    private static void tcp_proto_init() => InetDomain.Register(Protosw);
}
