using Vimage.Core;

namespace Vimage.Net.Iflib;

/// <summary>
/// if_ctx: the iflib-style layer between an interface and a (virtual) device. It owns the queues: a lock-free
/// multi-producer mp_ring per TX queue drained by whichever producer becomes the consumer, a descriptor ring
/// and a budgeted task per RX queue, all on CPU-bound workers. TX and RX counts are independent, may exceed
/// the CPU count and change at run time (<see cref="Reconfigure"/>).
/// </summary>
public sealed partial class IflibContext : IIfDriver
{
    /// <summary>TX_BATCH_SIZE: drain/enqueue budget.</summary>
    public const int TxBatchSize = 32;

    /// <summary>Entries in each TX mp_ring (iflib_txq_setup's 2048).</summary>
    public const int MpRingSize = 2048;

    /// <summary>rx_budget when the knob is 0.</summary>
    public const int DefaultRxBudget = 16;

    private readonly IIflibDevice _device;
    private IflibQueueSet _queues;
    private int _rxFullSeen;

    public IflibContext(IIflibDevice device, IflibQueueConfig config)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate(device.MaxQueueSets);
        _device = device;
        Unit = DeviceUnits.Allocate(device.DriverName);
        CoreOffset = DeviceUnits.NextCoreOffset(Math.Max(config.TxQueues, config.RxQueues));
        device.QueuesAlloc(config);
        _queues = Build(config);
        _queues.Start();
    }

    public string DriverName => _device.DriverName;

    /// <summary>The device behind this context.</summary>
    public IIflibDevice Device => _device;

    /// <summary>The device unit: dev.&lt;driver&gt;.&lt;unit&gt;.</summary>
    public int Unit { get; }

    /// <summary>The interface this context serves (set when attached).</summary>
    public Ifnet? Ifnet { get; private set; }

    public IflibQueueConfig Config => Volatile.Read(ref _queues).Config;

    public IReadOnlyList<IflibTxQueue> TxQueues => Volatile.Read(ref _queues).Tx;

    public IReadOnlyList<IflibRxQueue> RxQueues => Volatile.Read(ref _queues).Rx;

    /// <summary>rx_budget: packets per RX task run (0 → 16). Live.</summary>
    public int RxBudget { get; set; }

    /// <summary>tx_abdicate: enqueue and let the TX task drain instead of the sender. Live.</summary>
    public bool TxAbdicate { get; set; }

    /// <summary>First CPU of this device's queues (core_offset; auto-advanced per device when unset).</summary>
    public int CoreOffset { get; private set; }

    /// <summary>
    /// override_qs_enable: TX and RX counts may differ. On by default here (the layer is flexible); with 0,
    /// writing either count sets both, as iflib keeps them equal.
    /// </summary>
    public bool OverrideQsEnable { get; set; } = true;

    /// <summary>separate_txrx: RX queues on the first CPUs, TX queues after them.</summary>
    public bool SeparateTxRx { get; set; }

    /// <summary>Called after an RX task freed descriptors that a sender found full (epair kicks its peer's TX).</summary>
    public Action? RxSpaceAvailable { get; set; }

    /// <summary>Binds the context to its interface (after if_attach).</summary>
    public void Attach(Ifnet ifp)
    {
        Ifnet = ifp;
        IflibSysctl.Register(this);
    }

    /// <summary>
    /// iflib_if_transmit: picks a TX queue by flow and enqueues. A full ring is a counted drop that returns ENOBUFS to
    /// the sender (ip_output passes it to TCP, which backs off instead of waiting for its retransmit timer).
    /// </summary>
    int IIfDriver.Transmit(Ifnet ifp, Mbuf m)
    {
        IflibQueueSet qs = EnterCurrent();
        try
        {
            if (qs.Disposed)
            {
                ifp.Count(IfCounter.IFCOUNTER_OQDROPS); // raced with destroy
                m.Free();
                return Errno.ENETDOWN;
            }

            int qid = SelectTxQueue(qs, m);
            IflibTxQueue txq = qs.Tx[qid];
            int error = txq.Ring.Enqueue(m, TxBatchSize, TxAbdicate);
            if (error != 0)
            {
                txq.CountDrop();
                ifp.Count(IfCounter.IFCOUNTER_OQDROPS);
                m.Free();
                txq.CompletionTask.Enqueue();
                return error;
            }

            if (TxAbdicate)
            {
                txq.CompletionTask.Enqueue();
            }

            return 0;
        }
        finally
        {
            qs.Exit();
        }
    }

    void IIfDriver.Init(Ifnet ifp)
    {
        _device.Init();
        ifp.SetRunning(true);
        KickPending(Volatile.Read(ref _queues));
    }

    void IIfDriver.Stop(Ifnet ifp)
    {
        ifp.SetRunning(false);
        _device.Stop();
    }

    /// <summary>Interface destroyed: nothing may stay queued; leftovers are freed and counted as drops.</summary>
    void IIfDriver.Detach(Ifnet ifp)
    {
        lock (ReconfigureLock)
        {
            IflibQueueSet qs = Volatile.Read(ref _queues);
            qs.Purging = true;
            var spin = new SpinWait();
            while (qs.InFlight != 0)
            {
                spin.SpinOnce(); // senders that got in before IFF_RUNNING was cleared finish first
            }

            Purge(qs);
            IflibSysctl.Unregister(this);
            _device.QueuesFree(qs.Config);
            qs.Dispose();
            DeviceUnits.Free(_device.DriverName, Unit);
        }
    }

    /// <summary>
    /// The device received <paramref name="m"/> (it was DMA'd into a descriptor ring): RSS picks the RX queue,
    /// whose task is woken. False when that ring is full or the interface is not running; the caller keeps
    /// ownership and decides (stall or drop).
    /// </summary>
    public bool RxPost(Mbuf m)
    {
        if (Ifnet is not { IsRunning: true })
        {
            return false;
        }

        IflibQueueSet qs = EnterCurrent();
        try
        {
            if (qs.Disposed || qs.Purging)
            {
                return false; // the interface is being detached: its rings were (or are being) purged
            }

            if (!m.HasFlowId)
            {
                m.FlowId = FlowHash.Compute(m.Data);
                m.HasFlowId = true;
            }

            IflibRxQueue rxq = qs.Rx[qs.RxReta[m.FlowId & (IflibQueueSet.RssTableSize - 1)]];
            if (!rxq.Ring.Post(m, out int before))
            {
                Volatile.Write(ref _rxFullSeen, 1);
                return false;
            }

            // netisr_dispatch_src: direct drains the ring on this thread (behind what was queued, so order holds);
            // hybrid only when the queue was empty and its task idle; deferred, TAP and a busy queue use the task.
            NetisrPolicy policy = NetisrDispatch.Policy;
            bool inline = policy == NetisrPolicy.NETISR_DISPATCH_DIRECT
                || (policy == NetisrPolicy.NETISR_DISPATCH_HYBRID && before == 0 && !rxq.Task.IsBusy);
            if (!inline || !_device.DirectRx || !qs.Started || Ifnet is not { } ifp || !TryDirect(rxq, ifp))
            {
                rxq.Task.Enqueue();
            }

            return true;
        }
        finally
        {
            qs.Exit();
        }
    }

    /// <summary>TX completion "interrupt": restart the TX queues (credits came back).</summary>
    public void TxInterrupt()
    {
        foreach (IflibTxQueue txq in Volatile.Read(ref _queues).Tx)
        {
            txq.CompletionTask.Enqueue();
        }
    }

    private static int SelectTxQueue(IflibQueueSet qs, Mbuf m)
    {
        if (qs.Tx.Length == 1)
        {
            return 0;
        }

        if (!m.HasFlowId)
        {
            m.FlowId = FlowHash.Compute(m.Data);
            m.HasFlowId = true;
        }

        return qs.TxReta[m.FlowId & (IflibQueueSet.RssTableSize - 1)];
    }

    /// <summary>Reads the current generation and registers as in flight on it (re-checked so a swap cannot miss us).</summary>
    private IflibQueueSet EnterCurrent()
    {
        while (true)
        {
            IflibQueueSet qs = Volatile.Read(ref _queues);
            qs.Enter();
            if (ReferenceEquals(qs, Volatile.Read(ref _queues)))
            {
                return qs;
            }

            qs.Exit();
        }
    }

    private int DrainTx(IflibQueueSet qs, IflibTxQueue txq, MpRing<Mbuf> ring, int cidx, int pidx)
    {
        if (qs.Purging)
        {
            int purged = ring.CountBetween(cidx, pidx);
            for (int i = 0; i < purged; i++)
            {
                txq.CountDrop();
                Ifnet?.Count(IfCounter.IFCOUNTER_OQDROPS);
                ring.ItemAt(cidx + i).Free();
            }

            return purged;
        }

        if (!qs.Started || Ifnet is not { } ifp)
        {
            return 0; // a new generation fills while the old one drains
        }

        int consumed = 0;
        int n = ring.CountBetween(cidx, pidx);
        int budget = Math.Min(n, TxBatchSize);
        for (; consumed < budget; consumed++)
        {
            Mbuf m = ring.ItemAt(cidx + consumed);
            int length = m.Length;
            bool multicast = (m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0;
            if (!ifp.IsRunning)
            {
                txq.CountDrop();
                ifp.Count(IfCounter.IFCOUNTER_OQDROPS);
                m.Free();
            }
            else if (_device.TxdEncap(txq.Id, m) != 0)
            {
                break; // out of descriptors: stall until credits come back
            }
            else
            {
                txq.CountSent(length);
                ifp.CountOutput(length, multicast);
            }
        }

        if (consumed > 0)
        {
            _device.TxdFlush(txq.Id);
        }

        return consumed;
    }

    private bool CanDrainTx(IflibTxQueue txq) => _device.TxdCreditsUpdate(txq.Id, clear: false) > 0;

    private void RunRx(IflibQueueSet qs, IflibRxQueue rxq)
    {
        if (!qs.Started || qs.Disposed || Ifnet is not { } ifp)
        {
            return;
        }

        // False when a sender is delivering inline: it re-arms this task for whatever it leaves on the ring.
        _ = DeliverTurn(rxq, ifp, inline: false);
    }

    /// <summary>
    /// Direct dispatch: this (sending) thread takes the queue's delivery lock and delivers one budget of the ring
    /// itself, under CURVNET_SET of the receiving vnet. False (the caller queues) at the per-thread depth limit
    /// or when someone else is delivering.
    /// </summary>
    private bool TryDirect(IflibRxQueue rxq, Ifnet ifp)
    {
        if (!NetisrDispatch.TryEnterDirect())
        {
            return false;
        }

        try
        {
            return DeliverTurn(rxq, ifp, inline: true);
        }
        finally
        {
            NetisrDispatch.ExitDirect();
        }
    }

    /// <summary>
    /// One delivery turn, for the task and for an inline sender alike: under the queue's delivery try-lock, one
    /// budget of the ring goes up the stack; whatever is left (more than one budget, or posted while the lock was
    /// held) re-arms the task. False when someone else holds the lock. Inline, a failure in the receiving stack is
    /// counted on the queue: it is not the sender's error.
    /// </summary>
    private bool DeliverTurn(IflibRxQueue rxq, Ifnet ifp, bool inline)
    {
        if (!rxq.TryBeginDeliver())
        {
            return false;
        }

        try
        {
            int taken = RxBatch(ifp, rxq);
            if (inline)
            {
                rxq.CountDirect(taken);
            }
        }
        catch (Exception e) when (inline)
        {
            rxq.CountDirectFailure(e);
        }
        finally
        {
            rxq.EndDeliver();
        }

        if (rxq.Ring.InUse > 0)
        {
            rxq.Task.Enqueue(); // MORE: run again, other queues get their turn in between
        }

        return true;
    }

    /// <summary>_task_fn_rx's body, under the delivery lock: takes up to rx_budget packets and hands them up.</summary>
    private int RxBatch(Ifnet ifp, IflibRxQueue rxq)
    {
        int budget = RxBudget > 0 ? RxBudget : DefaultRxBudget;
        int available = _device.RxdAvailable(rxq.Ring, rxq.Id, budget);
        Mbuf? head = null, tail = null;
        int taken = 0;
        for (; taken < available; taken++)
        {
            Mbuf? m = _device.RxdPktGet(rxq.Ring, rxq.Id);
            if (m is null)
            {
                break;
            }

            rxq.CountReceived(m.Length);
            if (head is null)
            {
                head = m;
            }
            else
            {
                tail!.NextPacket = m;
            }

            tail = m;
        }

        _device.RxdRefill(rxq.Ring, rxq.Id, taken);
        _device.RxdFlush(rxq.Ring, rxq.Id);
        Deliver(ifp, rxq, head);
        if (Interlocked.Exchange(ref _rxFullSeen, 0) != 0)
        {
            RxSpaceAvailable?.Invoke();
        }

        return taken;
    }

    /// <summary>Hands a batch to if_input inside the interface's vnet; a vnet going away drops it (counted).</summary>
    private static void Deliver(Ifnet ifp, IflibRxQueue rxq, Mbuf? batch)
    {
        if (batch is null)
        {
            return;
        }

        Vnet vnet = ifp.Vnet;
        if (!vnet.TryEnter())
        {
            DropChain(ifp, rxq, batch);
            return;
        }

        try
        {
            using (Curvnet.Set(vnet))
            {
                while (batch is not null)
                {
                    Mbuf m = batch;
                    batch = m.NextPacket;
                    m.NextPacket = null;
                    ifp.Input(m);
                }
            }
        }
        catch (Exception)
        {
            DropChain(ifp, rxq, batch); // the stack failed on one packet: the rest of the batch is not lost silently
            throw;
        }
        finally
        {
            vnet.Exit();
        }
    }

    private static void DropChain(Ifnet ifp, IflibRxQueue rxq, Mbuf? chain)
    {
        while (chain is not null)
        {
            Mbuf? next = chain.NextPacket;
            chain.NextPacket = null;
            rxq.CountDrop();
            ifp.Count(IfCounter.IFCOUNTER_IQDROPS);
            chain.Free();
            chain = next;
        }
    }

    /// <summary>
    /// Init's kick: only queues holding frames from before IFF_RUNNING (frames that come later are drained by
    /// their senders), so bringing up thousands of idle interfaces wakes no worker.
    /// </summary>
    private static void KickPending(IflibQueueSet qs)
    {
        foreach (IflibTxQueue txq in qs.Tx)
        {
            if (!txq.Ring.IsIdle)
            {
                txq.CompletionTask.Enqueue();
            }
        }

        foreach (IflibRxQueue rxq in qs.Rx)
        {
            if (rxq.Ring.InUse > 0)
            {
                rxq.Task.Enqueue();
            }
        }
    }

    private static void KickAll(IflibQueueSet qs)
    {
        foreach (IflibTxQueue txq in qs.Tx)
        {
            txq.CompletionTask.Enqueue();
        }

        foreach (IflibRxQueue rxq in qs.Rx)
        {
            rxq.Task.Enqueue();
        }
    }
}
