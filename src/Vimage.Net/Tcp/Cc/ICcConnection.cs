namespace Vimage.Net.Tcp.Cc;

#pragma warning disable CA1707, IDE1006 // FreeBSD's tcpcb field names: CC modules read them as CCV(ccv, field) does.

/// <summary>
/// What a congestion-control module sees of its connection: the tcpcb fields FreeBSD's modules reach through
/// <c>CCV(ccv, field)</c> (netinet/cc/cc.h). The tcpcb implements it; modules never name the tcpcb type, so
/// <c>Tcp.Cc</c> stays below <c>Tcp</c>. Sequence numbers are raw 32-bit values (compare with SEQ_LT and friends).
/// </summary>
public interface ICcConnection
{
    /// <summary>snd_cwnd, bytes.</summary>
    uint snd_cwnd { get; set; }

    /// <summary>snd_ssthresh, bytes.</summary>
    uint snd_ssthresh { get; set; }

    /// <summary>snd_una: oldest unacknowledged sequence number.</summary>
    uint snd_una { get; }

    /// <summary>snd_nxt: next sequence number to send (below snd_max while retransmitting).</summary>
    uint snd_nxt { get; }

    /// <summary>snd_max: highest sequence number sent.</summary>
    uint snd_max { get; }

    /// <summary>snd_recover: snd_max when the current recovery started (RFC 6582).</summary>
    uint snd_recover { get; set; }

    /// <summary>snd_wnd: the peer's advertised window, scaled.</summary>
    uint snd_wnd { get; }

    /// <summary>snd_scale: the window shift the peer applies to our windows (TCP_MAXWIN &lt;&lt; snd_scale caps cwnd).</summary>
    int snd_scale { get; }

    /// <summary>tcp_maxseg(tp): the MSS less the options every segment carries.</summary>
    int t_maxseg { get; }

    /// <summary>t_rxtshift: retransmit timeouts in a row (1 on the first RTO).</summary>
    int t_rxtshift { get; }

    /// <summary>t_dupacks.</summary>
    int t_dupacks { get; }

    /// <summary>t_bytes_acked: ABC's byte count in congestion avoidance (RFC 3465).</summary>
    uint t_bytes_acked { get; set; }

    /// <summary>t_srtt in microseconds; 0 before the first RTT sample.</summary>
    long t_srtt_us { get; }

    /// <summary>The smallest RTT seen, microseconds; 0 before the first sample (CUBIC's and HyStart's input).</summary>
    long t_rttmin_us { get; }

    /// <summary>t_rttupdated: RTT samples taken.</summary>
    uint t_rttupdated { get; }

    /// <summary>IN_FASTRECOVERY(t_flags): TF_FASTRECOVERY (ENTER/EXIT_FASTRECOVERY set it).</summary>
    bool InFastRecovery { get; set; }

    /// <summary>IN_CONGRECOVERY(t_flags): TF_CONGRECOVERY.</summary>
    bool InCongRecovery { get; set; }

    /// <summary>SACK is on for this connection (TF_SACK_PERMIT).</summary>
    bool SackPermitted { get; }

    /// <summary>The RFC 6675 pipe (sackhint.pipe), or snd_max - snd_una without SACK: bytes in flight.</summary>
    uint Pipe { get; }

    /// <summary>The stack's clock in microseconds (a virtual clock under test): what modules time epochs with.</summary>
    long NowUs { get; }

    /// <summary>
    /// tcp_compute_initwnd(tcp_maxseg(tp)): the restart window after idle (RFC 5681 §4.1). The tcpcb overrides
    /// this with net.inet.tcp.initcwnd_segments; the default is RFC 6928's 10 segments.
    /// </summary>
    uint InitialWindow => CcModules.InitialWindow(t_maxseg, 10);
}
