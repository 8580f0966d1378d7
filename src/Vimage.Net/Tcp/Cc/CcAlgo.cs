namespace Vimage.Net.Tcp.Cc;

#pragma warning disable CA1707, IDE1006 // FreeBSD's struct cc_algo hook names.

/// <summary>
/// struct cc_algo (netinet/cc/cc.h): a congestion-control module. The tcpcb calls the hooks at the points
/// tcp_input.c's cc_conn_init / cc_ack_received / cc_cong_signal / cc_post_recovery and tcp_output's idle check
/// do; a module changes only snd_cwnd, snd_ssthresh, the recovery flags and its own <see cref="CcVar.cc_data"/>.
/// Modules are stateless singletons (one per name, shared by every vnet); per-vnet knobs are [Vnet] variables.
/// </summary>
public abstract class CcAlgo
{
    /// <summary>name (net.inet.tcp.cc.algorithm, TCP_CONGESTION).</summary>
    public abstract string Name { get; }

    /// <summary>cb_init: per-connection state; returns 0 or an errno (ENOMEM).</summary>
    public virtual int cb_init(CcVar ccv) => 0;

    /// <summary>cb_destroy: drops the per-connection state.</summary>
    public virtual void cb_destroy(CcVar ccv) => ccv.cc_data = null;

    /// <summary>conn_init: the connection is established (after the initial cwnd is set).</summary>
    public virtual void conn_init(CcVar ccv)
    {
    }

    /// <summary>ack_received: an ACK of <see cref="CcVar.bytes_this_ack"/> bytes arrived.</summary>
    public abstract void ack_received(CcVar ccv, CcAckType type);

    /// <summary>
    /// cong_signal: loss (three duplicate ACKs or SACK), a retransmit timeout, a spurious one, or ECN. As in FreeBSD,
    /// the module sets ssthresh (and cwnd for ECN and RTO) and enters recovery; the tcpcb's cc_cong_signal
    /// (tcp_input.c) does the rest before calling it: snd_recover = snd_max on NDUPACK, t_dupacks = t_bytes_acked = 0
    /// and EXIT_RECOVERY on RTO, and restoring cwnd/ssthresh/snd_recover on RTO_ERR. cwnd during fast recovery is
    /// the tcpcb's (tcp_do_segment's inflation, or PRR/RFC 6675 with SACK).
    /// </summary>
    public abstract void cong_signal(CcVar ccv, CcSignal type);

    /// <summary>post_recovery: fast recovery ended (a full ACK).</summary>
    public virtual void post_recovery(CcVar ccv)
    {
    }

    /// <summary>after_idle: sending resumes after an idle period longer than the RTO (RFC 5681 §4.1: cwnd restarts from the initial window).</summary>
    public virtual void after_idle(CcVar ccv)
    {
    }

    public override string ToString() => Name;
}
