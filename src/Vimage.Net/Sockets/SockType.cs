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
    SS_ISCONNECTED = 0x0002,
    SS_CANTSENDMORE = 0x0010,
    SS_CANTRCVMORE = 0x0020,
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
    SO_REUSEADDR = 0x0004,
    SO_BROADCAST = 0x0020,
    SO_REUSEPORT = 0x0200,
    SO_SNDBUF = 0x1001,
    SO_RCVBUF = 0x1002,
    SO_SNDLOWAT = 0x1003,
    SO_RCVLOWAT = 0x1004,
    SO_ERROR = 0x1007,
    SO_TYPE = 0x1008,
}

/// <summary>The boolean SOL_SOCKET options (so_options).</summary>
[Flags]
public enum SoOptions
{
    None = 0,
    SO_REUSEADDR = 0x0004,
    SO_BROADCAST = 0x0020,
    SO_REUSEPORT = 0x0200,
}
