namespace Vimage.Net.Sockets;

#pragma warning disable CA1707 // FreeBSD's names.

/// <summary>Socket types (sys/socket.h), FreeBSD's values.</summary>
public enum SockType
{
    SOCK_STREAM = 1,
    SOCK_DGRAM = 2,
    SOCK_RAW = 3,
}

/// <summary>pr_flags (sys/protosw.h).</summary>
[Flags]
public enum PrFlags
{
    None = 0,

    /// <summary>PR_ATOMIC: each send is one record (a datagram).</summary>
    PR_ATOMIC = 0x01,

    /// <summary>PR_ADDR: each received record carries its sender's address.</summary>
    PR_ADDR = 0x02,

    /// <summary>PR_CONNREQUIRED: connect before sending (TCP).</summary>
    PR_CONNREQUIRED = 0x04,
}

/// <summary>so_state bits (sys/socketvar.h) the socket layer keeps.</summary>
[Flags]
public enum SocketState
{
    None = 0,

    /// <summary>SS_NOFDREF: the user closed it; the protocol may still hold it (TCP's FIN_WAIT_2, TIME_WAIT).</summary>
    SS_NOFDREF = 0x0001,
    SS_ISCONNECTED = 0x0002,
    SS_ISCONNECTING = 0x0004,
    SS_ISDISCONNECTING = 0x0008,
    SS_CANTSENDMORE = 0x0010,
    SS_CANTRCVMORE = 0x0020,

    /// <summary>SS_NBIO: nonblocking (EWOULDBLOCK / EINPROGRESS instead of waiting).</summary>
    SS_NBIO = 0x0100,
    SS_ISDISCONNECTED = 0x2000,
}

/// <summary>shutdown(2)'s how.</summary>
public enum ShutdownHow
{
    SHUT_RD = 0,
    SHUT_WR = 1,
    SHUT_RDWR = 2,
}

/// <summary>SOL_SOCKET options (sys/socket.h), FreeBSD's values.</summary>
public enum SoOption
{
    SO_ACCEPTCONN = 0x0002,
    SO_REUSEADDR = 0x0004,
    SO_KEEPALIVE = 0x0008,
    SO_BROADCAST = 0x0020,
    SO_LINGER = 0x0080,
    SO_REUSEPORT = 0x0200,
    SO_SNDBUF = 0x1001,
    SO_RCVBUF = 0x1002,
    SO_SNDLOWAT = 0x1003,
    SO_RCVLOWAT = 0x1004,
    SO_ERROR = 0x1007,
    SO_TYPE = 0x1008,

    /// <summary>so_fibnum: the routing table the socket's traffic uses (setsockopt EINVAL outside net.fibs).</summary>
    SO_SETFIB = 0x1014,
}

/// <summary>The boolean SOL_SOCKET options (so_options).</summary>
[Flags]
public enum SoOptions
{
    None = 0,
    SO_ACCEPTCONN = 0x0002,
    SO_REUSEADDR = 0x0004,
    SO_KEEPALIVE = 0x0008,
    SO_BROADCAST = 0x0020,
    SO_LINGER = 0x0080,
    SO_REUSEPORT = 0x0200,
}
