namespace Vimage.Net.Tcp;

#pragma warning disable CA1707 // FreeBSD's state names (netinet/tcp_fsm.h): netstat and users know them.

/// <summary>t_state: the eleven states of RFC 9293 §3.3.2, numbered as netinet/tcp_fsm.h numbers them.</summary>
public enum TcpState
{
    TCPS_CLOSED = 0,
    TCPS_LISTEN = 1,
    TCPS_SYN_SENT = 2,
    TCPS_SYN_RECEIVED = 3,
    TCPS_ESTABLISHED = 4,
    TCPS_CLOSE_WAIT = 5,
    TCPS_FIN_WAIT_1 = 6,
    TCPS_CLOSING = 7,
    TCPS_LAST_ACK = 8,
    TCPS_FIN_WAIT_2 = 9,
    TCPS_TIME_WAIT = 10,
}

#pragma warning restore CA1707

/// <summary>tcp_fsm.h's predicates and tcpstates[] (the names netstat prints).</summary>
public static class TcpFsm
{
    /// <summary>TCP_NSTATES.</summary>
    public const int NStates = 11;

    private static readonly string[] Names =
    [
        "CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "CLOSE_WAIT", "FIN_WAIT_1", "CLOSING", "LAST_ACK",
        "FIN_WAIT_2", "TIME_WAIT",
    ];

    /// <summary>tcpstates[s], or the number for a state out of range.</summary>
    public static string Name(TcpState s) => (uint)s < NStates ? Names[(int)s] : ((int)s).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>TCPS_HAVERCVDSYN: a SYN has been received.</summary>
    public static bool HaveReceivedSyn(TcpState s) => s >= TcpState.TCPS_SYN_RECEIVED;

    /// <summary>TCPS_HAVEESTABLISHED: the connection was established.</summary>
    public static bool HaveEstablished(TcpState s) => s >= TcpState.TCPS_ESTABLISHED;

    /// <summary>TCPS_HAVERCVDFIN: the peer's FIN has been received.</summary>
    public static bool HaveReceivedFin(TcpState s)
        => s is TcpState.TCPS_CLOSE_WAIT or TcpState.TCPS_CLOSING or TcpState.TCPS_LAST_ACK or TcpState.TCPS_TIME_WAIT;

    /// <summary>
    /// tcp_outflags[]: the control flags tcp_output sends in each state (a FIN only once the send side is shut,
    /// which FIN_WAIT_1, CLOSING and LAST_ACK imply).
    /// </summary>
    public static TcpFlags OutFlags(TcpState s) => s switch
    {
        TcpState.TCPS_CLOSED => TcpFlags.TH_RST | TcpFlags.TH_ACK,
        TcpState.TCPS_LISTEN => TcpFlags.None,
        TcpState.TCPS_SYN_SENT => TcpFlags.TH_SYN,
        TcpState.TCPS_SYN_RECEIVED => TcpFlags.TH_SYN | TcpFlags.TH_ACK,
        TcpState.TCPS_FIN_WAIT_1 or TcpState.TCPS_CLOSING or TcpState.TCPS_LAST_ACK => TcpFlags.TH_FIN | TcpFlags.TH_ACK,
        _ => TcpFlags.TH_ACK,
    };
}
