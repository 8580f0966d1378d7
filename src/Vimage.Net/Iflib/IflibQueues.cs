using Vimage.Core;

namespace Vimage.Net.Iflib;

/// <summary>A TX queue set (iflib_txq): its mp_ring, completion task and per-queue statistics.</summary>
public sealed class IflibTxQueue : IDisposable
{
    private Counter64 _packets = Counter64.Alloc();
    private Counter64 _bytes = Counter64.Alloc();
    private Counter64 _drops = Counter64.Alloc();

    internal IflibTxQueue(int id, MpRing<Mbuf> ring, GroupTask task)
    {
        Id = id;
        Ring = ring;
        CompletionTask = task;
    }

    public int Id { get; }

    public MpRing<Mbuf> Ring { get; }

    /// <summary>_task_fn_tx: reclaims credits and restarts a stalled ring.</summary>
    public GroupTask CompletionTask { get; }

    public long Packets => _packets.Fetch();

    public long Bytes => _bytes.Fetch();

    public long Drops => _drops.Fetch();

    internal void CountSent(int bytes)
    {
        _packets.Add(1);
        _bytes.Add(bytes);
    }

    internal void CountDrop() => _drops.Add(1);

    public void Dispose()
    {
        Ring.Dispose();
        Counter64.Free(ref _packets);
        Counter64.Free(ref _bytes);
        Counter64.Free(ref _drops);
    }
}

/// <summary>An RX queue set (iflib_rxq): its descriptor ring, task and per-queue statistics.</summary>
public sealed class IflibRxQueue : IDisposable
{
    private Counter64 _packets = Counter64.Alloc();
    private Counter64 _bytes = Counter64.Alloc();
    private Counter64 _drops = Counter64.Alloc();
    private Counter64 _direct = Counter64.Alloc();
    private int _delivering;

    internal IflibRxQueue(int id, RxRing ring)
    {
        Id = id;
        Ring = ring;
    }

    public int Id { get; }

    public RxRing Ring { get; }

    /// <summary>_task_fn_rx: budgeted receive.</summary>
    public GroupTask Task { get; internal set; } = null!;

    public long Packets => _packets.Fetch();

    public long Bytes => _bytes.Fetch();

    public long Drops => _drops.Fetch();

    /// <summary>Packets this queue delivered on the posting thread (net.isr.dispatch direct/hybrid).</summary>
    public long DirectPackets => _direct.Fetch();

    /// <summary>Failures of the stack while delivering inline (counted like a task's, never the sender's error).</summary>
    public long DirectFailures { get; private set; }

    public Exception? LastDirectError { get; private set; }

    /// <summary>Someone (the task or an inline sender) is taking packets off the ring and delivering them.</summary>
    public bool IsDelivering => Volatile.Read(ref _delivering) != 0;

    internal void CountReceived(int bytes)
    {
        _packets.Add(1);
        _bytes.Add(bytes);
    }

    internal void CountDirect(int n) => _direct.Add(n);

    internal void CountDrop(long n = 1) => _drops.Add(n);

    internal void CountDirectFailure(Exception e)
    {
        DirectFailures++;
        LastDirectError = e;
    }

    /// <summary>
    /// The delivery try-lock: one deliverer at a time takes packets off the ring, so packets of a queue (and of
    /// every flow hashed to it) reach the stack in ring order. Never waited for: a busy queue means "queue it".
    /// </summary>
    internal bool TryBeginDeliver() => Interlocked.CompareExchange(ref _delivering, 1, 0) == 0;

    internal void EndDeliver() => Interlocked.Exchange(ref _delivering, 0);

    public void Dispose()
    {
        Counter64.Free(ref _packets);
        Counter64.Free(ref _bytes);
        Counter64.Free(ref _drops);
        Counter64.Free(ref _direct);
    }
}

/// <summary>
/// One generation of queues: the configuration, the queue arrays and the RSS indirection tables. A
/// reconfiguration builds a new generation, points producers at it, drains the old one, then starts it.
/// </summary>
internal sealed class IflibQueueSet
{
    public const int RssTableSize = 64;
    private int _inFlight;
    private int _started;
    private int _disposed;

    public IflibQueueSet(IflibQueueConfig config)
    {
        Config = config;
        Tx = new IflibTxQueue[config.TxQueues];
        Rx = new IflibRxQueue[config.RxQueues];
        TxReta = new byte[RssTableSize];
        RxReta = new byte[RssTableSize];
        for (int i = 0; i < RssTableSize; i++)
        {
            TxReta[i] = (byte)(i % config.TxQueues);
            RxReta[i] = (byte)(i % config.RxQueues);
        }
    }

    public IflibQueueConfig Config { get; }

    public IflibTxQueue[] Tx { get; }

    public IflibRxQueue[] Rx { get; }

    /// <summary>RSS indirection table: flow hash bucket → TX qid.</summary>
    public byte[] TxReta { get; }

    /// <summary>RSS indirection table: flow hash bucket → RX qid.</summary>
    public byte[] RxReta { get; }

    /// <summary>Drains and tasks run only once started; before that, producers may already fill the rings.</summary>
    public bool Started => Volatile.Read(ref _started) != 0;

    public int InFlight => Volatile.Read(ref _inFlight);

    public void Start() => Volatile.Write(ref _started, 1);

    /// <summary>Set on teardown: drains free what they find instead of sending it.</summary>
    public bool Purging { get; set; }

    public void Enter() => Interlocked.Increment(ref _inFlight);

    public void Exit() => Interlocked.Decrement(ref _inFlight);

    /// <summary>Set before disposal: queued tasks that run afterwards do nothing.</summary>
    public bool Disposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Waits for senders and tasks to leave, then frees the rings and counters.</summary>
    public void Dispose()
    {
        Volatile.Write(ref _disposed, 1);
        Interlocked.MemoryBarrier();
        var spin = new SpinWait();
        while (InFlight != 0 || Tx.Any(q => q?.CompletionTask.IsBusy == true) || Rx.Any(q => q?.Task?.IsBusy == true || q?.IsDelivering == true))
        {
            spin.SpinOnce(sleep1Threshold: 20);
        }

        foreach (IflibTxQueue q in Tx)
        {
            q?.Dispose();
        }

        foreach (IflibRxQueue q in Rx)
        {
            q?.Dispose();
        }
    }
}
