namespace Vimage.Net;

/// <summary>What an interface needs from its driver (if_transmit, if_init, if_qflush, if_free…).</summary>
public interface IIfDriver
{
    /// <summary>Short driver name for dev.&lt;name&gt;.&lt;unit&gt; sysctls ("epair", "lo", "tap").</summary>
    string DriverName { get; }

    /// <summary>
    /// if_transmit: takes ownership of <paramref name="m"/> (queues it, sends it, or frees it and counts a drop).
    /// Returns 0, or the errno of a drop (ENOBUFS when the queue is full, ENETDOWN) for the protocol that sent it.
    /// </summary>
    int Transmit(Ifnet ifp, Mbuf m);

    /// <summary>Brought up: start moving packets (sets IFF_RUNNING).</summary>
    void Init(Ifnet ifp);

    /// <summary>Brought down: stop and flush (clears IFF_RUNNING).</summary>
    void Stop(Ifnet ifp);

    /// <summary>The interface is being destroyed: release everything (no packets may remain queued).</summary>
    void Detach(Ifnet ifp);
}
