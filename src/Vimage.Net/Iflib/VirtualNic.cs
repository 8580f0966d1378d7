namespace Vimage.Net.Iflib;

/// <summary>
/// Base of the pseudo-devices (IFLIB_PSEUDO): descriptors are packet references, so RX "DMA" is the sender
/// posting into the ring (<see cref="IflibContext.RxPost"/>) and the receive side of the txrx contract reads it
/// back. Refill and flush have nothing to do (IFLIB_SKIP_CLREFILL). TX completes as soon as a packet is
/// encapsulated, so credits are always available.
/// </summary>
public abstract class VirtualNic : IIflibDevice
{
    public abstract string DriverName { get; }

    public virtual int MaxQueueSets => 64;

    public virtual bool DirectRx => false;

    public abstract int TxdEncap(int qid, Mbuf m);

    public virtual void TxdFlush(int qid)
    {
    }

    public virtual int TxdCreditsUpdate(int qid, bool clear) => 1;

    public int RxdAvailable(RxRing ring, int qid, int budget) => Math.Min(ring.InUse, budget);

    public Mbuf? RxdPktGet(RxRing ring, int qid) => ring.Take();

    public void RxdRefill(RxRing ring, int qid, int count)
    {
    }

    public void RxdFlush(RxRing ring, int qid)
    {
    }

    public virtual void QueuesAlloc(IflibQueueConfig config)
    {
    }

    public virtual void QueuesFree(IflibQueueConfig config)
    {
    }

    public virtual void Init()
    {
    }

    public virtual void Stop()
    {
    }
}
