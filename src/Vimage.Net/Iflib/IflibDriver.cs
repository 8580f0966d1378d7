namespace Vimage.Net.Iflib;

/// <summary>
/// if_txrx: the fast-path contract a driver implements (iflibtxrx(9)); iflib calls it from its queue workers.
/// Queue ids are qset indexes. Ring sizes are powers of two.
/// </summary>
public interface IIflibTxRx
{
    /// <summary>ift_txd_encap: puts one packet on TX queue <paramref name="qid"/>. 0, or ENOBUFS when out of descriptors.</summary>
    int TxdEncap(int qid, Mbuf m);

    /// <summary>ift_txd_flush: rings the doorbell for what was encapsulated.</summary>
    void TxdFlush(int qid);

    /// <summary>ift_txd_credits_update: descriptors completed since last asked (<paramref name="clear"/> false only peeks).</summary>
    int TxdCreditsUpdate(int qid, bool clear);

    // The RX calls get the descriptor ring itself: iflib allocates rings (rx_queues_alloc hands the driver their
    // addresses), and during a reconfiguration two generations of ring with the same qid exist at once.

    /// <summary>ift_rxd_available: packets ready on RX queue <paramref name="qid"/>, up to <paramref name="budget"/>.</summary>
    int RxdAvailable(RxRing ring, int qid, int budget);

    /// <summary>ift_rxd_pkt_get: takes the next received packet (null if none).</summary>
    Mbuf? RxdPktGet(RxRing ring, int qid);

    /// <summary>ift_rxd_refill: posts <paramref name="count"/> fresh buffers to the free list.</summary>
    void RxdRefill(RxRing ring, int qid, int count);

    /// <summary>ift_rxd_flush: publishes the free-list producer index.</summary>
    void RxdFlush(RxRing ring, int qid);

    /// <summary>ift_txq_select: the TX queue for a packet, or -1 to let iflib hash it.</summary>
    int TxqSelect(Mbuf m) => -1;
}

/// <summary>The IFDI methods iflib needs from a (virtual) device besides the fast path.</summary>
public interface IIflibDevice : IIflibTxRx
{
    /// <summary>Driver name for dev.&lt;name&gt;.&lt;unit&gt;.</summary>
    string DriverName { get; }

    /// <summary>Upper bound on queue sets (isc_ntxqsets_max / isc_nrxqsets_max).</summary>
    int MaxQueueSets => 64;

    /// <summary>IFDI_TX/RX_QUEUES_ALLOC: set up device state for a queue configuration; throw to refuse it.</summary>
    void QueuesAlloc(IflibQueueConfig config);

    /// <summary>IFDI_QUEUES_FREE: release the device state of a configuration no longer in use.</summary>
    void QueuesFree(IflibQueueConfig config);

    /// <summary>
    /// Whether a received frame may be processed on the thread that posted it (net.isr.dispatch direct/hybrid):
    /// true for epair, whose "DMA" is a peer's transmit; false for devices fed by a reader thread (TAP).
    /// </summary>
    bool DirectRx => false;

    /// <summary>IFDI_INIT.</summary>
    void Init();

    /// <summary>IFDI_STOP.</summary>
    void Stop();
}
