namespace Vimage.Net.Sockets;

/// <summary>
/// struct protosw (sys/protosw.h) with its user requests (the pr_usrreqs of older FreeBSD): what a protocol
/// does for the socket layer. <see cref="Socket"/> calls these inside the socket's vnet, under no socket lock, and
/// turns a nonzero errno into a <see cref="NetSocketException"/>. Requests a protocol does not support answer
/// EOPNOTSUPP, as pr_*_notsupp do. A family's domain adds its own input/ctlinput hooks in a subclass (the inet
/// domain's <c>InProtosw</c>), since their arguments are family-specific.
/// </summary>
public abstract class Protosw(SockType type, int protocol, PrFlags flags)
{
    /// <summary>pr_type.</summary>
    public SockType Type { get; } = type;

    /// <summary>pr_protocol (0 for a SOCK_RAW wildcard entry).</summary>
    public int Protocol { get; } = protocol;

    /// <summary>pr_flags.</summary>
    public PrFlags Flags { get; } = flags;

    /// <summary>The largest record one send may carry (EMSGSIZE beyond it, before the protocol is asked).</summary>
    public virtual int MaxRecord => int.MaxValue;

    /// <summary>pr_domain, set when added to one.</summary>
    public Domain? Domain { get; internal set; }

    /// <summary>pr_attach: makes the protocol control block (<see cref="Socket.Pcb"/>) and reserves buffer space (soreserve).</summary>
    public abstract int Attach(Socket so, int protocol);

    /// <summary>pr_detach: the PCB goes (close, or the vnet going away).</summary>
    public abstract void Detach(Socket so);

    public virtual int Bind(Socket so, in Sockaddr nam) => Errno.EOPNOTSUPP;

    public virtual int Connect(Socket so, in Sockaddr nam) => Errno.EOPNOTSUPP;

    /// <summary>pr_disconnect (connect with AF_UNSPEC on a datagram socket).</summary>
    public virtual int Disconnect(Socket so) => Errno.EOPNOTSUPP;

    public virtual int Listen(Socket so, int backlog) => Errno.EOPNOTSUPP;

    public virtual int Accept(Socket so, out Sockaddr nam)
    {
        nam = Sockaddr.Unspec;
        return Errno.EOPNOTSUPP;
    }

    /// <summary>
    /// pr_send: <paramref name="data"/> to <paramref name="to"/> (<see cref="Sockaddr.Unspec"/>: the connected
    /// peer). Atomic protocols build and output one record; the caller already checked size, state and so_error.
    /// </summary>
    public abstract int Send(Socket so, ReadOnlySpan<byte> data, in Sockaddr to);

    /// <summary>
    /// pr_send for a stream protocol: appends what it takes of <paramref name="data"/> to so_snd (the socket layer
    /// checked the space) and sends what its window allows. Returns 0 or an errno; <paramref name="taken"/> says how much went in.
    /// </summary>
    public virtual int SendStream(Socket so, ReadOnlySpan<byte> data, out int taken)
    {
        taken = 0;
        return Errno.EOPNOTSUPP;
    }

    /// <summary>pr_shutdown: the send side was shut (SHUT_WR); a stream protocol would send its FIN.</summary>
    public virtual int Shutdown(Socket so) => 0;

    /// <summary>pr_sockaddr: the bound address.</summary>
    public virtual Sockaddr SockAddr(Socket so) => Sockaddr.Unspec;

    /// <summary>pr_peeraddr: the connected peer.</summary>
    public virtual Sockaddr PeerAddr(Socket so) => Sockaddr.Unspec;

    /// <summary>pr_control: ioctl(2) on the socket.</summary>
    public virtual int Control(Socket so, ulong command, ref long value) => Errno.EOPNOTSUPP;

    /// <summary>pr_ctloutput: setsockopt/getsockopt at the protocol's levels (IPPROTO_IP, ...).</summary>
    public virtual int CtlOutput(Socket so, int level, int name, bool set, ref int value) => Errno.ENOPROTOOPT;

    /// <summary>pr_rcvd: the user took data from a stream socket's receive buffer (a window update may be due).</summary>
    public virtual void Rcvd(Socket so)
    {
    }

    /// <summary>pr_abort: a connection still on a closing listener's accept queue (or the vnet going) is dropped (TCP: RST).</summary>
    public virtual void Abort(Socket so)
    {
    }

    /// <summary>pr_close: before detach, when the user closes (a stream protocol starts its close here).</summary>
    public virtual void Close(Socket so)
    {
    }

    public override string ToString() => $"{Domain?.Name ?? "?"} {Type} {Protocol}";
}
