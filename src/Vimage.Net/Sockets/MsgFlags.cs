namespace Vimage.Net.Sockets;

#pragma warning disable CA1707 // FreeBSD's names (sys/socket.h).

/// <summary>recv(2) flags (sys/socket.h), FreeBSD's values; stream sockets take PEEK, WAITALL and DONTWAIT.</summary>
[Flags]
public enum MsgFlags
{
    None = 0,

    /// <summary>MSG_OOB: urgent data, which TCP here delivers inline only (EINVAL, as tcp_usr_rcvoob without any).</summary>
    MSG_OOB = 0x1,

    /// <summary>MSG_PEEK: copy without consuming.</summary>
    MSG_PEEK = 0x2,

    /// <summary>MSG_WAITALL: block until the whole request is filled (or EOF, an error, the timeout).</summary>
    MSG_WAITALL = 0x40,

    /// <summary>MSG_DONTWAIT: this call does not block (EAGAIN), as SS_NBIO for one call.</summary>
    MSG_DONTWAIT = 0x80,
}
