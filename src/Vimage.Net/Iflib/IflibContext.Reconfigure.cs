using System.Diagnostics;

namespace Vimage.Net.Iflib;

public sealed partial class IflibContext
{
    /// <summary>One reconfiguration at a time in the process: two epair ends can never wait on each other.</summary>
    private static readonly object ReconfigureLock = new();

    /// <summary>How long a reconfiguration waits for the old queues to drain before purging (counted drops).</summary>
    public static TimeSpan QuiesceTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Changes queue counts and ring sizes at run time, in two phases with rollback (like Linux's
    /// netif_set_real_num_queues and mlx5e's channel switch, not iflib's detach/reattach):
    /// 1. validate and build the new generation (device state included); any failure keeps the old one running;
    /// 2. point senders at the new generation (held: it fills but does not drain), wait for the old one to drain
    ///    completely — every packet already queued is delivered in order — then start the new one.
    /// Nothing is lost or duplicated and no buffer leaks; only a drain that exceeds <see cref="QuiesceTimeout"/>
    /// (a peer that never takes packets) purges the rest, counting each as a drop.
    /// </summary>
    public void Reconfigure(IflibQueueConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        lock (ReconfigureLock)
        {
            IflibQueueSet old = Volatile.Read(ref _queues);
            if (old.Config == config)
            {
                return;
            }

            config.Validate(_device.MaxQueueSets);
            IflibQueueSet next;
            _device.QueuesAlloc(config); // phase 1: the device may refuse; nothing changed yet
            try
            {
                next = Build(config);
            }
            catch
            {
                _device.QueuesFree(config);
                throw;
            }

            // Phase 2: swap the producers' target, then make sure nobody still holds the old generation.
            Volatile.Write(ref _queues, next);
            Interlocked.MemoryBarrier();
            var spin = new SpinWait();
            while (old.InFlight != 0)
            {
                spin.SpinOnce();
            }

            if (!DrainOld(old))
            {
                Purge(old);
            }

            next.Start();
            _device.QueuesFree(old.Config);
            old.Dispose();
            KickAll(next);
            RxSpaceAvailable?.Invoke();
        }
    }

    /// <summary>Drains every TX ring to the device and every RX ring to the stack; false on timeout.</summary>
    private bool DrainOld(IflibQueueSet old)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < QuiesceTimeout)
        {
            bool empty = true;
            foreach (IflibTxQueue txq in old.Tx)
            {
                txq.Ring.CheckDrainage(int.MaxValue);
                empty &= txq.Ring.IsIdle;
            }

            foreach (IflibRxQueue rxq in old.Rx)
            {
                if (rxq.Ring.InUse > 0)
                {
                    rxq.Task.Enqueue();
                    empty = false;
                }
                else
                {
                    empty &= !rxq.Task.IsBusy && !rxq.IsDelivering;
                }
            }

            if (empty)
            {
                return true;
            }

            RxSpaceAvailable?.Invoke();
            Thread.Sleep(1);
        }

        return false;
    }

    /// <summary>Frees whatever is still queued in a generation, counting drops (if_qflush / iflib_ifmp_purge).</summary>
    private void Purge(IflibQueueSet qs)
    {
        var leftovers = new List<Mbuf>();
        qs.Purging = true; // the drain callback now frees instead of sending (iflib's drain_free)
        foreach (IflibTxQueue txq in qs.Tx)
        {
            var spin = new SpinWait();
            while (!txq.Ring.IsIdle)
            {
                txq.Ring.CheckDrainage(int.MaxValue);
                spin.SpinOnce();
            }
        }

        foreach (IflibRxQueue rxq in qs.Rx)
        {
            rxq.CountDrop(rxq.Ring.DrainTo(leftovers));
        }

        foreach (Mbuf m in leftovers)
        {
            Ifnet?.Count(IfCounter.IFCOUNTER_IQDROPS);
            m.Free();
        }
    }

    private IflibQueueSet Build(IflibQueueConfig config)
    {
        var qs = new IflibQueueSet(config);
        try
        {
            for (int i = 0; i < config.TxQueues; i++)
            {
                int cpu = SeparateTxRx ? CoreOffset + config.RxQueues + i : CoreOffset + i;
                IflibTxQueue? txq = null;
                var ring = new MpRing<Mbuf>(config.TxRingSize, (r, c, p) => DrainTx(qs, txq!, r, c, p), _ => CanDrainTx(txq!));
                var task = new GroupTask($"{DriverName}{Unit} txq{i}", TaskQueueGroup.Io, cpu, () =>
                {
                    if (!qs.Disposed)
                    {
                        ring.CheckDrainage(TxBatchSize);
                    }
                });
                txq = new IflibTxQueue(i, ring, task);
                qs.Tx[i] = txq;
            }

            for (int i = 0; i < config.RxQueues; i++)
            {
                var rxq = new IflibRxQueue(i, new RxRing(config.RxDescriptors));
                rxq.Task = new GroupTask($"{DriverName}{Unit} rxq{i}", TaskQueueGroup.Io, CoreOffset + i, () => RunRx(qs, rxq));
                qs.Rx[i] = rxq;
            }
        }
        catch
        {
            qs.Dispose();
            throw;
        }

        return qs;
    }
}
