using System.Diagnostics;
using System.Runtime.CompilerServices;
using Vimage.Core;

namespace Vimage.Net.Iflib;

/// <summary>
/// FreeBSD's mp_ring (<c>sys/net/mp_ring.c</c>, the lockless variant): a bounded multi-producer ring whose consumer is
/// whichever producer finds no consumer running ("producer becomes consumer"). iflib puts one in front of every TX
/// queue.
/// <para>
/// <b>State.</b> One 64-bit word <c>{pidx_head, pidx_tail, cidx, flags}</c> (16 bits each, <see cref="RingState"/>),
/// changed only by <see cref="Interlocked.CompareExchange(ref ulong, ulong, ulong)"/>. Producers reserve slots by
/// moving pidx_head, then publish in reservation order by moving pidx_tail; the consumer moves cidx; flags say
/// whether a consumer is running (BUSY), finished (IDLE), ran out of resources (STALLED) or stopped on purpose
/// (ABDICATED).
/// </para>
/// <para>
/// <b>Capacity.</b> One slot is always empty (space = size − 1 − used) and, as in mp_ring.c, an enqueue of n items
/// is refused when <c>n ≥ space</c>, so at most <c>size − 2</c> items are ever held (a 2-slot ring refuses
/// everything; ifmp_ring_alloc accepts it all the same).
/// </para>
/// <para>
/// <b>Draining.</b> The drain callback gets the published window <c>[cidx, pidx)</c> (indices wrap: the window
/// holds <see cref="CountBetween"/> items), reads items with <see cref="ItemAt"/> and returns how many it consumed,
/// from cidx on; 0 means "no resources" and stalls the ring until <see cref="CheckDrainage"/> finds
/// <c>canDrain</c> true. The ring clears consumed slots itself, so no reference lingers once the callback has
/// taken an item. The callback runs on a producer's thread (or <see cref="CheckDrainage"/>'s caller), never on two
/// threads at once. If it throws (or claims more than its window) the ring is left STALLED at the last consumed
/// item, counted as a stall, and the exception propagates to the enqueuer; <see cref="CheckDrainage"/> restarts it.
/// (The kernel has no such path; leaving the ring BUSY would wedge it forever.)
/// </para>
/// <para>
/// <b>No critical_enter.</b> The kernel brackets reserve-to-publish with <c>critical_enter()</c>, so a producer
/// cannot be preempted while later producers spin waiting for its pidx_tail. .NET cannot disable preemption: a
/// producer descheduled between reservation and publication delays every producer that reserved after it (a
/// convoy). They wait by spinning, then yielding (<see cref="SpinWait"/> without its Sleep(1) phase), with a
/// <c>Sleep(1)</c> every 64 rounds as a backstop so the preempted producer can get a CPU back. SpinWait's default
/// (Sleep(1) on every round once past a threshold) is avoided on purpose: waiters that sleep make the convoy
/// self-sustaining (each hand-off costs a timer tick, and producers re-reserve behind it), which turned a 2 ms run
/// of 6 producers × 4000 items on 2 cores into 14 s. Even so, expect latency spikes when producers outnumber
/// cores on a loaded machine. Keep reservations short: enqueue one item (or a handful) per call, as iflib does
/// with n = 1, and keep producers per ring near the core count. Nothing runs between reservation and publication
/// but copying the references.
/// </para>
/// <para>
/// <b>Budget.</b> As in mp_ring.c it is not a hard cap: once the budget is used, the consumer stops only if another
/// producer is in flight to inherit the work (ABDICATED); otherwise it keeps going. A budget of 0 still drains.
/// </para>
/// <para>
/// <b>Counters</b> are counter(9)-style per-CPU <see cref="Counter64"/>s and exact; <see cref="Dispose"/> frees them
/// (after which the counter properties return their final values and the ring must not be used).
/// </para>
/// </summary>
/// <typeparam name="T">The item type (packet buffers); null is never a valid item.</typeparam>
public sealed class MpRing<T> : IDisposable where T : class
{
    /// <summary>
    /// mp_ring_drain_t: consume items in <c>[cidx, pidx)</c> (read them with <see cref="ItemAt"/>) and return how many
    /// were consumed from cidx on (0 to <see cref="CountBetween"/>(cidx, pidx)); 0 = no resources, the ring stalls.
    /// </summary>
    public delegate int DrainFn(MpRing<T> ring, int cidx, int pidx);

    /// <summary>mp_ring_can_drain_t: have the resources a stalled drain lacked come back?</summary>
    public delegate bool CanDrainFn(MpRing<T> ring);

    private const int ShiftTail = 16;
    private const int ShiftCidx = 32;
    private const int ShiftFlags = 48;
    private const int SleepEveryRounds = 64;

    private T[]? _items; // empty slots hold null; allocated by the first enqueue (an idle ring costs no slots)
    private readonly int _mask;
    private readonly DrainFn _drain;
    private readonly CanDrainFn _canDrain;
    private MpRingPaddedWord _state; // the only shared mutable word, alone on its cache line

    private Counter64 _enqueues;
    private Counter64 _drops;
    private Counter64 _starts;
    private Counter64 _stalls;
    private Counter64 _restarts;
    private Counter64 _abdications;
    private long[]? _final; // counter values at Dispose
    private int _disposed;

    /// <summary>
    /// Tests only: runs on the producer's thread right after its reservation [start, stop) succeeded and before it
    /// publishes — where a kernel producer would sit inside critical_enter. Blocking here simulates a preempted
    /// producer deterministically.
    /// </summary>
    internal Action<int, int>? AfterReserveHook;

    /// <summary>ifmp_ring_alloc.</summary>
    /// <param name="size">Slots; a power of two in [2, 65536].</param>
    /// <param name="drain">The consumer callback.</param>
    /// <param name="canDrain">Asked by <see cref="CheckDrainage"/> before restarting a stalled ring.</param>
    public MpRing(int size, DrainFn drain, CanDrainFn canDrain)
    {
        if (size < MpRing.MinSize || size > MpRing.MaxSize || (size & (size - 1)) != 0)
        {
            throw new ArgumentException(
                $"mp_ring size must be a power of two in [{MpRing.MinSize}, {MpRing.MaxSize}], not {size}", nameof(size));
        }

        ArgumentNullException.ThrowIfNull(drain);
        ArgumentNullException.ThrowIfNull(canDrain);

        Size = size;
        _mask = size - 1;
        _drain = drain;
        _canDrain = canDrain;

        _enqueues = Counter64.Alloc();
        _drops = Counter64.Alloc();
        _starts = Counter64.Alloc();
        _stalls = Counter64.Alloc();
        _restarts = Counter64.Alloc();
        _abdications = Counter64.Alloc();
    }

    /// <summary>Number of slots (one is always kept empty).</summary>
    public int Size { get; }

    /// <summary>A snapshot of the state word.</summary>
    public RingState State => RingState.FromRaw(Volatile.Read(ref _state.Value));

    /// <summary>iflib's <c>ring_state</c> sysctl: <c>"pidx_head: %04hd pidx_tail: %04hd cidx: %04hd state: IDLE"</c>.</summary>
    public string StateString => State.ToString();

    /// <summary>ifmp_ring_is_idle: nothing reserved, published or unconsumed, and no consumer.</summary>
    public bool IsIdle
    {
        get
        {
            ulong s = Volatile.Read(ref _state.Value);
            return PidxHead(s) == PidxTail(s) && PidxTail(s) == Cidx(s) && Flags(s) == MpRingFlags.Idle;
        }
    }

    /// <summary>ifmp_ring_is_stalled: STALLED with no producer in flight.</summary>
    public bool IsStalled
    {
        get
        {
            ulong s = Volatile.Read(ref _state.Value);
            return PidxHead(s) == PidxTail(s) && Flags(s) == MpRingFlags.Stalled;
        }
    }

    /// <summary>Items accepted (counted per item).</summary>
    public long Enqueues => Read(_enqueues, 0);

    /// <summary>Items refused with ENOBUFS (counted per item).</summary>
    public long Drops => Read(_drops, 1);

    /// <summary>Drains started by a producer (or CheckDrainage) on an IDLE ring.</summary>
    public long Starts => Read(_starts, 2);

    /// <summary>Times the consumer stalled (drain returned 0).</summary>
    public long Stalls => Read(_stalls, 3);

    /// <summary>Drains that resumed a STALLED ring and made progress.</summary>
    public long Restarts => Read(_restarts, 4);

    /// <summary>Times the consumer abdicated: budget used with producers in flight.</summary>
    public long Abdications => Read(_abdications, 5);

    /// <summary>
    /// The item in slot <paramref name="index"/> (wrapped to the ring), for the drain callback, which may read only
    /// its window <c>[cidx, pidx)</c>. Reading an empty slot throws.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T ItemAt(int index)
    {
        T? item = _items?[index & _mask];
        return item is null ? ThrowEmptySlot(index) : item;
    }

    /// <summary>
    /// Replaces the item in slot <paramref name="index"/> (wrapped), for a drain callback that substitutes a buffer
    /// in place, as iflib does through <c>ifmp_ring</c>'s item pointers when m_defrag/m_collapse returns a new mbuf.
    /// Only within the callback's window.
    /// </summary>
    public void SetItemAt(int index, T item)
    {
        ArgumentNullException.ThrowIfNull(item);
        _items![index & _mask] = item;
    }

    /// <summary>How many items lie in <c>[from, to)</c>, indices wrapping at <see cref="Size"/>.</summary>
    public int CountBetween(int from, int to) => (to - from) & _mask;

    /// <summary>ifmp_ring_enqueue with one item.</summary>
    /// <returns>0, or <see cref="MpRing.ENOBUFS"/> if the ring had no room (the item is then counted in
    /// <see cref="Drops"/> and not kept).</returns>
    public int Enqueue(T item, int budget, bool abdicate)
    {
        ArgumentNullException.ThrowIfNull(item);
        return EnqueueCore(new ReadOnlySpan<T>(in item), budget, abdicate);
    }

    /// <summary>
    /// ifmp_ring_enqueue: reserves all of <paramref name="items"/> at once (all or none), publishes them after every
    /// earlier reservation, and — unless <paramref name="abdicate"/> or a consumer is already running — drains the
    /// ring on this thread with <paramref name="budget"/>. With <paramref name="abdicate"/> an IDLE ring becomes
    /// ABDICATED and someone must call <see cref="CheckDrainage"/> (iflib's TX task does).
    /// </summary>
    /// <returns>0, or <see cref="MpRing.ENOBUFS"/> if n ≥ the free space (all n counted in <see cref="Drops"/>; a
    /// STALLED ring is then given a <c>CheckDrainage(0)</c>).</returns>
    public int Enqueue(ReadOnlySpan<T> items, int budget, bool abdicate)
    {
        if (items.IsEmpty || items.Length >= Size)
        {
            throw new ArgumentException($"an enqueue takes 1 to {Size - 1} items, not {items.Length}", nameof(items));
        }

        foreach (T item in items)
        {
            if (item is null)
            {
                // Checked before reserving: a reservation cannot be taken back.
                throw new ArgumentNullException(nameof(items), "mp_ring items must not be null");
            }
        }

        return EnqueueCore(items, budget, abdicate);
    }

    /// <summary>
    /// ifmp_ring_check_drainage: restarts the consumer on this thread if the ring is STALLED (and
    /// <c>canDrain</c> says resources came back) or ABDICATED, and no producer is in flight.
    /// </summary>
    public void CheckDrainage(int budget)
    {
        ThrowIfDisposed();
        ulong os = Volatile.Read(ref _state.Value);
        MpRingFlags flags = Flags(os);
        if ((flags != MpRingFlags.Stalled && flags != MpRingFlags.Abdicated)
            || PidxHead(os) != PidxTail(os)
            || (flags != MpRingFlags.Abdicated && !_canDrain(this)))
        {
            return;
        }

        Debug.Assert(Cidx(os) != PidxTail(os), "STALLED/ABDICATED imply unconsumed items");
        ulong ns = WithFlags(os, MpRingFlags.Busy);

        // The full fence of the CAS makes the items up to the pidx_tail we read visible.
        if (Interlocked.CompareExchange(ref _state.Value, ns, os) != os)
        {
            return;
        }

        DrainRingLockless(ns, flags, budget);
    }

    /// <summary>ifmp_ring_reset_stats (not atomic against concurrent updates, as counter_u64_zero).</summary>
    public void ResetStats()
    {
        ThrowIfDisposed();
        _enqueues.Zero();
        _drops.Zero();
        _starts.Zero();
        _stalls.Zero();
        _restarts.Zero();
        _abdications.Zero();
    }

    /// <summary>
    /// ifmp_ring_free: frees the per-CPU counters (their last values stay readable). Items still in the ring are
    /// dropped with it; the caller must first stop producers and, if it cares, drain or purge. Not safe against
    /// concurrent use of the ring.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _final = [_enqueues.Fetch(), _drops.Fetch(), _starts.Fetch(), _stalls.Fetch(), _restarts.Fetch(), _abdications.Fetch()];
        Counter64.Free(ref _enqueues);
        Counter64.Free(ref _drops);
        Counter64.Free(ref _starts);
        Counter64.Free(ref _stalls);
        Counter64.Free(ref _restarts);
        Counter64.Free(ref _abdications);
        if (_items is { } items)
        {
            Array.Clear(items);
        }
    }

    private int EnqueueCore(ReadOnlySpan<T> items, int budget, bool abdicate)
    {
        ThrowIfDisposed();
        int n = items.Length;

        // (1) Reserve [start, stop) by moving pidx_head.
        ulong os = Volatile.Read(ref _state.Value);
        ulong ns;
        for (;;)
        {
            if (n >= SpaceAvailable(os))
            {
                _drops.Add(n);
                if (Flags(os) == MpRingFlags.Stalled)
                {
                    CheckDrainage(0);
                }

                return MpRing.ENOBUFS;
            }

            ns = WithPidxHead(os, (PidxHead(os) + n) & _mask);
            ulong seen = Interlocked.CompareExchange(ref _state.Value, ns, os);
            if (seen == os)
            {
                break;
            }

            os = seen; // fcmpset semantics: retry against what is there now
            Thread.SpinWait(1);
        }

        int start = PidxHead(os);
        int stop = PidxHead(ns);
        AfterReserveHook?.Invoke(start, stop);

        // (2) Publish in reservation order: wait until every earlier producer has moved pidx_tail up to us.
        if (PidxTail(ns) != start)
        {
            WaitForTurn(start, ref ns);
        }

        // (3) Fill the reservation. Nobody else writes these slots: they are beyond pidx_tail and behind the
        // consumer's published cidx.
        T[] slots = _items ?? AllocateSlots();
        int first = Math.Min(n, Size - start);
        items[..first].CopyTo(slots.AsSpan(start, first));
        if (first < n)
        {
            items[first..].CopyTo(slots.AsSpan(0, n - first));
        }

        // (4) Move pidx_tail (the CAS is a full fence: the stores above are visible to whoever sees the new pidx).
        os = Volatile.Read(ref _state.Value);
        for (;;)
        {
            ns = WithPidxTail(os, stop);
            if (!abdicate)
            {
                ns = WithFlags(ns, MpRingFlags.Busy);
            }
            else if (Flags(os) == MpRingFlags.Idle)
            {
                ns = WithFlags(ns, MpRingFlags.Abdicated);
            }

            ulong seen = Interlocked.CompareExchange(ref _state.Value, ns, os);
            if (seen == os)
            {
                break;
            }

            os = seen;
        }

        _enqueues.Add(n);

        // (5) Become the consumer unless one is already running (or we abdicate).
        if (!abdicate && Flags(os) != MpRingFlags.Busy)
        {
            DrainRingLockless(ns, Flags(os), budget);
        }

        return 0;
    }

    /// <summary>
    /// drain_ring_lockless: the caller has set BUSY in <paramref name="os"/>, which has work
    /// (<c>cidx != pidx_tail</c>) whose items are visible to this thread; <paramref name="prev"/> is the flags
    /// value it replaced.
    /// </summary>
    private void DrainRingLockless(ulong os, MpRingFlags prev, int budget)
    {
        int cidx = Cidx(os);
        int pidx = PidxTail(os);
        Debug.Assert(Flags(os) == MpRingFlags.Busy);
        Debug.Assert(cidx != pidx);

        if (prev == MpRingFlags.Idle)
        {
            _starts.Add(1);
        }

        int pending = 0;
        int total = 0;
        while (cidx != pidx)
        {
            // Items from cidx to pidx are available for consumption.
            int available = CountBetween(cidx, pidx);
            int n;
            try
            {
                n = _drain(this, cidx, pidx);
            }
            catch
            {
                // A throwing callback is treated as "no resources": the ring is left STALLED at the last
                // consumed item (instead of BUSY forever) and CheckDrainage can restart it.
                Stall(cidx, prev, total);
                throw;
            }

            if ((uint)n > (uint)available)
            {
                Stall(cidx, prev, total);
                throw new InvalidOperationException(
                    $"mp_ring drain callback returned {n} for a window of {available} items [{cidx}, {pidx})");
            }

            if (n == 0)
            {
                Stall(cidx, prev, total);
                break;
            }

            ClearSlots(cidx, n); // before cidx is published: afterwards the slots belong to producers
            cidx = (cidx + n) & _mask;
            pending += n;
            total += n;

            // Publish cidx only when caught up with pidx, when the private cidx has got too far ahead of the one
            // everyone else sees, or when the budget is used.
            if (cidx != pidx && pending < MpRing.CidxPublishInterval && total < budget)
            {
                continue;
            }

            ulong cur = Volatile.Read(ref _state.Value);
            ulong ns;
            for (;;)
            {
                ns = WithCidx(cur, cidx);
                ns = WithFlags(ns, StateToFlags(ns, total >= budget));
                ulong seen = Interlocked.CompareExchange(ref _state.Value, ns, cur);
                if (seen == cur)
                {
                    break;
                }

                cur = seen;
            }

            MpRingFlags nf = Flags(ns);
            if (nf == MpRingFlags.Abdicated)
            {
                _abdications.Add(1);
            }

            if (nf != MpRingFlags.Busy)
            {
                if (prev == MpRingFlags.Stalled)
                {
                    Debug.Assert(total > 0);
                    _restarts.Add(1);
                }

                break;
            }

            // The CAS (a full fence) makes the items of any pidx_tail it saw visible.
            pidx = PidxTail(ns);
            pending = 0;
        }
    }

    /// <summary>
    /// cpu_spinwait until pidx_tail reaches <paramref name="start"/>. Spins, then yields (SpinWait without its
    /// Sleep(1) phase), with a Sleep(1) every <see cref="SleepEveryRounds"/> rounds as a backstop in case yielding
    /// never lets the producer we wait for back on a CPU. Sleeping on every round after a threshold — SpinWait's
    /// default — lets a convoy of sleeping waiters sustain itself (each hand-off then costs a timer tick); measured
    /// on 2 cores, that turned a 2 ms run into 14 s.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void WaitForTurn(int start, ref ulong ns)
    {
        SpinWait spin = default;
        int rounds = 0;
        do
        {
            if (++rounds % SleepEveryRounds == 0)
            {
                Thread.Sleep(1);
            }
            else
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            ns = Volatile.Read(ref _state.Value);
        }
        while (PidxTail(ns) != start);
    }

    /// <summary>The n == 0 exit of drain_ring_lockless: publish cidx with STALLED.</summary>
    private void Stall(int cidx, MpRingFlags prev, int total)
    {
        ulong os = Volatile.Read(ref _state.Value);
        for (;;)
        {
            ulong ns = WithFlags(WithCidx(os, cidx), MpRingFlags.Stalled);
            ulong seen = Interlocked.CompareExchange(ref _state.Value, ns, os);
            if (seen == os)
            {
                break;
            }

            os = seen;
        }

        if (prev != MpRingFlags.Stalled)
        {
            _stalls.Add(1);
        }
        else if (total > 0)
        {
            // Restarted, made progress, and stalled again.
            _restarts.Add(1);
            _stalls.Add(1);
        }
    }

    private void ClearSlots(int cidx, int n)
    {
        T[] slots = _items!; // n > 0: an enqueue allocated them
        int first = Math.Min(n, Size - cidx);
        Array.Clear(slots, cidx, first);
        if (first < n)
        {
            Array.Clear(slots, 0, n - first);
        }
    }

    /// <summary>
    /// The slot array, made once by whichever producer fills a slot first (the ring's size is fixed, so this is
    /// the only allocation a ring ever makes after construction). Published before the producer moves pidx_tail,
    /// so the consumer always sees it.
    /// </summary>
    private T[] AllocateSlots()
    {
        _ = Interlocked.CompareExchange(ref _items, new T[Size], null);
        return _items!;
    }

    /// <summary>space_available: size − 1 − (pidx_head − cidx).</summary>
    private int SpaceAvailable(ulong s) => _mask - CountBetween(Cidx(s), PidxHead(s));

    /// <summary>state_to_flags: what the consumer's next state is, given the state it is about to publish.</summary>
    private static MpRingFlags StateToFlags(ulong s, bool abdicate)
    {
        if (Cidx(s) == PidxTail(s))
        {
            return MpRingFlags.Idle;
        }

        if (abdicate && PidxTail(s) != PidxHead(s))
        {
            return MpRingFlags.Abdicated;
        }

        return MpRingFlags.Busy;
    }

    private static int PidxHead(ulong s) => (ushort)s;

    private static int PidxTail(ulong s) => (ushort)(s >> ShiftTail);

    private static int Cidx(ulong s) => (ushort)(s >> ShiftCidx);

    private static MpRingFlags Flags(ulong s) => (MpRingFlags)(ushort)(s >> ShiftFlags);

    private static ulong WithPidxHead(ulong s, int v) => (s & ~0xFFFFUL) | (ushort)v;

    private static ulong WithPidxTail(ulong s, int v) => (s & ~(0xFFFFUL << ShiftTail)) | ((ulong)(ushort)v << ShiftTail);

    private static ulong WithCidx(ulong s, int v) => (s & ~(0xFFFFUL << ShiftCidx)) | ((ulong)(ushort)v << ShiftCidx);

    private static ulong WithFlags(ulong s, MpRingFlags f) => (s & ~(0xFFFFUL << ShiftFlags)) | ((ulong)f << ShiftFlags);

    private long Read(Counter64 counter, int index)
    {
        long[]? final = Volatile.Read(ref _final);
        return final is not null ? final[index] : counter.Fetch();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private T ThrowEmptySlot(int index)
        => throw new InvalidOperationException($"mp_ring slot {index & _mask} (index {index}) holds no item");
}
