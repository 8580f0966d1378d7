using CsCheck;
using Vimage.Net.Iflib;

namespace Vimage.Net.Tests;

public sealed class MpRingTests
{
    private sealed class Pkt(int producer, int seq)
    {
        public int Producer { get; } = producer;

        public int Seq { get; } = seq;

        public override string ToString() => $"{Producer}:{Seq}";
    }

    /// <summary>
    /// A drain callback with a resource model: it consumes up to <see cref="Chunk"/> items per call while
    /// <see cref="Credit"/> lasts (0 = no resources: the ring stalls), records what it consumed and checks that it is
    /// never run on two threads at once.
    /// </summary>
    private sealed class Consumer
    {
        private int _inDrain;

        public List<Pkt> Consumed { get; } = [];

        public int Chunk { get; set; } = int.MaxValue;

        public long Credit { get; set; } = long.MaxValue;

        public int Calls { get; private set; }

        public int Overlaps { get; private set; }

        public Action<int>? OnCall { get; set; } // gets the call number (1-based)

        public Exception? ThrowNext { get; set; }

        public int Drain(MpRing<Pkt> ring, int cidx, int pidx)
        {
            if (Interlocked.Exchange(ref _inDrain, 1) != 0)
            {
                Overlaps++;
            }

            try
            {
                Calls++;
                OnCall?.Invoke(Calls);
                if (ThrowNext is { } e)
                {
                    ThrowNext = null;
                    throw e;
                }

                int n = (int)Math.Min(Math.Min(ring.CountBetween(cidx, pidx), Chunk), Credit);
                for (int i = 0; i < n; i++)
                {
                    Consumed.Add(ring.ItemAt(cidx + i));
                }

                Credit -= n;
                return n;
            }
            finally
            {
                Volatile.Write(ref _inDrain, 0);
            }
        }

        public bool CanDrain(MpRing<Pkt> ring) => Credit > 0;

        public MpRing<Pkt> NewRing(int size) => new(size, Drain, CanDrain);
    }

    private static Pkt[] Pkts(int producer, int from, int count)
        => Enumerable.Range(from, count).Select(i => new Pkt(producer, i)).ToArray();

    private static void AssertOnlyWindowHoldsItems(MpRing<Pkt> ring)
    {
        RingState s = ring.State;
        int held = ring.CountBetween(s.Cidx, s.PidxTail);
        for (int i = 0; i < ring.Size; i++)
        {
            bool inWindow = ring.CountBetween(s.Cidx, i) < held;
            if (inWindow)
            {
                Assert.NotNull(ring.ItemAt(i));
            }
            else
            {
                Assert.Throws<InvalidOperationException>(() => ring.ItemAt(i)); // consumed slots were cleared
            }
        }
    }

    [Theory]
    [InlineData(-4)]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(2047)]
    [InlineData(65537)]
    [InlineData(131072)]
    public void SizeMustBeAPowerOfTwoInRange(int size)
    {
        var c = new Consumer();
        ArgumentException e = Assert.Throws<ArgumentException>(() => new MpRing<Pkt>(size, c.Drain, c.CanDrain));
        Assert.Contains("power of two", e.Message);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(2048)]
    [InlineData(65536)]
    public void ValidSizesAreAccepted(int size)
    {
        using MpRing<Pkt> ring = new Consumer().NewRing(size);
        Assert.Equal(size, ring.Size);
        Assert.True(ring.IsIdle);
        Assert.False(ring.IsStalled);
        Assert.Equal(new RingState(0, 0, 0, MpRingFlags.Idle), ring.State);
    }

    [Fact]
    public void NullCallbacksAndBadBatchesAreRefused()
    {
        var c = new Consumer();
        Assert.Throws<ArgumentNullException>(() => new MpRing<Pkt>(8, null!, c.CanDrain));
        Assert.Throws<ArgumentNullException>(() => new MpRing<Pkt>(8, c.Drain, null!));
        using MpRing<Pkt> ring = c.NewRing(8);
        Assert.Throws<ArgumentNullException>(() => ring.Enqueue((Pkt)null!, 32, false));
        Assert.Throws<ArgumentException>(() => ring.Enqueue(ReadOnlySpan<Pkt>.Empty, 32, false));
        Assert.Throws<ArgumentException>(() => ring.Enqueue(Pkts(0, 0, 8), 32, false));
        Assert.Throws<ArgumentNullException>(() => ring.Enqueue(new Pkt[] { new(0, 0), null! }, 32, false));
        Assert.True(ring.IsIdle); // nothing was reserved
        Assert.Equal(0, ring.Enqueues + ring.Drops);
    }

    [Fact]
    public void SingleProducerIsFifoAndEachEnqueueOnAnIdleRingStartsADrain()
    {
        var c = new Consumer();
        using MpRing<Pkt> ring = c.NewRing(16);
        Pkt[] sent = Pkts(0, 0, 100);
        foreach (Pkt p in sent)
        {
            Assert.Equal(0, ring.Enqueue(p, 32, abdicate: false));
            Assert.True(ring.IsIdle);
        }

        Assert.Equal(sent, c.Consumed);
        Assert.Equal(100, ring.Enqueues);
        Assert.Equal(100, ring.Starts);
        Assert.Equal(0, ring.Drops + ring.Stalls + ring.Restarts + ring.Abdications);
        Assert.Equal(new RingState(100 & 15, 100 & 15, 100 & 15, MpRingFlags.Idle), ring.State);
        AssertOnlyWindowHoldsItems(ring);
    }

    [Fact]
    public void BatchesWrapAroundTheEndOfTheRing()
    {
        var c = new Consumer { Chunk = 3 };
        using MpRing<Pkt> ring = c.NewRing(8);
        var sent = new List<Pkt>();
        for (int i = 0; i < 40; i++)
        {
            Pkt[] batch = Pkts(0, sent.Count, 1 + (i % 5));
            Assert.Equal(0, ring.Enqueue(batch, 1, abdicate: false));
            sent.AddRange(batch);
        }

        Assert.Equal(sent, c.Consumed);
        Assert.True(ring.IsIdle);
        Assert.Equal(sent.Count, ring.Enqueues);
    }

    [Fact]
    public void FullRingRefusesWithEnobufsAndCountsEveryDroppedItem()
    {
        // mp_ring refuses n items when n >= space (space = size - 1 - used): at most size - 2 items are held.
        var c = new Consumer { Credit = 0 };
        using MpRing<Pkt> ring = c.NewRing(8);
        Pkt[] sent = Pkts(0, 0, 6);
        foreach (Pkt p in sent)
        {
            Assert.Equal(0, ring.Enqueue(p, 32, abdicate: false));
        }

        Assert.True(ring.IsStalled);
        Assert.Equal(1, ring.Stalls); // stalling again while already STALLED is not another stall
        Assert.Equal(new RingState(6, 6, 0, MpRingFlags.Stalled), ring.State);

        Assert.Equal(MpRing.ENOBUFS, ring.Enqueue(new Pkt(0, 99), 32, abdicate: false));
        Assert.Equal(MpRing.ENOBUFS, ring.Enqueue(Pkts(1, 0, 3), 32, abdicate: false));
        Assert.Equal(MpRing.ENOBUFS, ring.Enqueue(new Pkt(0, 100), 32, abdicate: true));
        Assert.Equal(6, ring.Enqueues);
        Assert.Equal(5, ring.Drops);
        Assert.Equal(new RingState(6, 6, 0, MpRingFlags.Stalled), ring.State);
        Assert.Empty(c.Consumed);

        // The drop path pokes a stalled ring with CheckDrainage(0): with resources back, a refused enqueue drains.
        c.Credit = long.MaxValue;
        Assert.Equal(MpRing.ENOBUFS, ring.Enqueue(new Pkt(0, 101), 32, abdicate: false));
        Assert.Equal(6, ring.Drops);
        Assert.Equal(sent, c.Consumed);
        Assert.True(ring.IsIdle);
        Assert.Equal(1, ring.Restarts);

        // An empty ring takes a batch of size - 2 but not size - 1.
        Assert.Equal(MpRing.ENOBUFS, ring.Enqueue(Pkts(2, 0, 7), 32, abdicate: true));
        Assert.Equal(0, ring.Enqueue(Pkts(2, 0, 6), 32, abdicate: true));
        Assert.Equal(13, ring.Drops);
        Assert.Equal(12, ring.Enqueues);
    }

    [Fact]
    public void StallAndRestartDeliverEverythingInOrder()
    {
        var c = new Consumer { Credit = 0 };
        using MpRing<Pkt> ring = c.NewRing(16);
        Pkt[] sent = Pkts(0, 0, 10);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(0, ring.Enqueue(sent[i], 32, abdicate: false));
        }

        Assert.True(ring.IsStalled);
        Assert.Equal(1, ring.Starts);
        Assert.Equal(1, ring.Stalls);
        Assert.Equal(0, ring.Restarts);
        Assert.Equal("pidx_head: 0005 pidx_tail: 0005 cidx: 0000 state: STALLED", ring.StateString);

        ring.CheckDrainage(32); // can_drain says no: nothing happens
        Assert.True(ring.IsStalled);
        Assert.Empty(c.Consumed);

        // Resources come back for three items only: the restart makes progress and stalls again.
        c.Credit = 3;
        ring.CheckDrainage(32);
        Assert.Equal(sent[..3], c.Consumed);
        Assert.True(ring.IsStalled);
        Assert.Equal(1, ring.Restarts);
        Assert.Equal(2, ring.Stalls);
        Assert.Equal(new RingState(5, 5, 3, MpRingFlags.Stalled), ring.State);

        // Full resources: the stalled ring restarts and runs to completion.
        c.Credit = long.MaxValue;
        ring.CheckDrainage(32);
        Assert.Equal(sent[..5], c.Consumed);
        Assert.True(ring.IsIdle);
        Assert.Equal(2, ring.Restarts);
        Assert.Equal(2, ring.Stalls);

        // A producer finding the ring STALLED takes over as consumer (a restart, not a start).
        c.Credit = 0;
        ring.Enqueue(sent[5], 32, abdicate: false);
        Assert.Equal(2, ring.Starts);
        Assert.Equal(3, ring.Stalls);
        c.Credit = long.MaxValue;
        ring.Enqueue(sent[6], 32, abdicate: false);
        Assert.Equal(3, ring.Restarts);
        Assert.Equal(2, ring.Starts);
        ring.Enqueue(sent[7..], 32, abdicate: false);
        Assert.Equal(sent, c.Consumed);
        Assert.True(ring.IsIdle);
        Assert.Equal(3, ring.Starts);
        Assert.Equal(0, c.Overlaps);
        AssertOnlyWindowHoldsItems(ring);
    }

    [Fact]
    public void AbdicatingProducerLeavesTheDrainToCheckDrainage()
    {
        var c = new Consumer();
        using MpRing<Pkt> ring = c.NewRing(16);
        Pkt[] sent = Pkts(0, 0, 4);
        Assert.Equal(0, ring.Enqueue(sent[0], 32, abdicate: true));
        Assert.Equal(MpRingFlags.Abdicated, ring.State.Flags);
        Assert.Equal(0, ring.Enqueue(sent[1..], 32, abdicate: true));
        Assert.Equal(0, c.Calls);
        Assert.False(ring.IsIdle);
        Assert.False(ring.IsStalled);
        Assert.Equal("pidx_head: 0004 pidx_tail: 0004 cidx: 0000 state: ABDICATED", ring.StateString);

        ring.CheckDrainage(32);
        Assert.Equal(sent, c.Consumed);
        Assert.True(ring.IsIdle);
        Assert.Equal(4, ring.Enqueues);
        Assert.Equal(0, ring.Starts); // taking over from ABDICATED is not a start ...
        Assert.Equal(0, ring.Abdications); // ... and a producer's abdication is not a consumer's
        ring.CheckDrainage(32); // IDLE: nothing to do
        Assert.Equal(1, c.Calls);
    }

    [Fact]
    public void NonAbdicatingProducerTakesOverAnAbdicatedRing()
    {
        var c = new Consumer();
        using MpRing<Pkt> ring = c.NewRing(16);
        Pkt[] sent = Pkts(0, 0, 3);
        ring.Enqueue(sent[..2], 32, abdicate: true);
        ring.Enqueue(sent[2], 32, abdicate: false);
        Assert.Equal(sent, c.Consumed);
        Assert.True(ring.IsIdle);
        Assert.Equal(0, ring.Starts);
    }

    [Fact]
    public void BudgetIsNotAHardCapWithoutAnotherProducerToInherit()
    {
        var c = new Consumer { Chunk = 1 };
        using MpRing<Pkt> ring = c.NewRing(64);
        Pkt[] sent = Pkts(0, 0, 20);
        ring.Enqueue(sent, 32, abdicate: true);
        ring.CheckDrainage(1);
        Assert.Equal(sent, c.Consumed);
        Assert.True(ring.IsIdle);
        Assert.Equal(0, ring.Abdications);
        Assert.Equal(20, c.Calls);
    }

    [Fact]
    public void ConsumerAbdicatesWhenItsBudgetIsUsedAndAProducerIsInFlight()
    {
        var c = new Consumer { Chunk = 1 };
        using MpRing<Pkt> ring = c.NewRing(64);
        Pkt[] sent = Pkts(0, 0, 5);
        ring.Enqueue(sent[..4], 32, abdicate: true);

        using var reserved = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int producerResult = -1;
        var producer = new Thread(() => producerResult = ring.Enqueue(sent[4], 32, abdicate: false));
        c.OnCall = call =>
        {
            if (call == 1)
            {
                // While the consumer runs, a producer reserves a slot and is "preempted" before publishing it.
                ring.AfterReserveHook = (_, _) =>
                {
                    reserved.Set();
                    release.Wait();
                };
                producer.Start();
                Assert.True(reserved.Wait(TimeSpan.FromSeconds(10)));
                ring.AfterReserveHook = null;
            }
        };

        ring.CheckDrainage(2); // budget 2: two calls of one item, then pidx_tail != pidx_head -> ABDICATED
        c.OnCall = null;
        Assert.Equal(sent[..2], c.Consumed);
        Assert.Equal(new RingState(5, 4, 2, MpRingFlags.Abdicated), ring.State);
        Assert.Equal(1, ring.Abdications);
        Assert.False(ring.IsStalled);

        ring.CheckDrainage(32); // a producer is in flight: CheckDrainage must leave the ring to it
        Assert.Equal(2, c.Consumed.Count);

        release.Set(); // the producer publishes, sees ABDICATED and inherits the consumer role
        Assert.True(producer.Join(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, producerResult);
        Assert.Equal(sent, c.Consumed);
        Assert.True(ring.IsIdle);
        Assert.Equal(1, ring.Abdications);
        Assert.Equal(0, ring.Starts);
        Assert.Equal(0, c.Overlaps);
    }

    [Fact]
    public void ProducersPublishInReservationOrder()
    {
        var c = new Consumer();
        using MpRing<Pkt> ring = c.NewRing(16);
        using var reserved = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        ring.AfterReserveHook = (_, _) =>
        {
            ring.AfterReserveHook = null; // only the first producer is held
            reserved.Set();
            release.Wait();
        };

        var first = new Thread(() => ring.Enqueue(new Pkt(1, 0), 32, abdicate: false));
        first.Start();
        Assert.True(reserved.Wait(TimeSpan.FromSeconds(10)));

        var second = new Thread(() => ring.Enqueue(Pkts(2, 0, 2), 32, abdicate: false));
        second.Start();
        SpinWait.SpinUntil(() => ring.State.PidxHead == 3, TimeSpan.FromSeconds(10));
        Assert.Equal(new RingState(3, 0, 0, MpRingFlags.Idle), ring.State);
        Assert.False(ring.IsIdle);

        // The second producer cannot publish past the first one's unpublished reservation.
        Assert.False(second.Join(TimeSpan.FromMilliseconds(50)));
        Assert.Equal(0, ring.State.PidxTail);
        Assert.Empty(c.Consumed);

        release.Set();
        Assert.True(first.Join(TimeSpan.FromSeconds(10)));
        Assert.True(second.Join(TimeSpan.FromSeconds(10)));
        SpinWait.SpinUntil(() => ring.IsIdle, TimeSpan.FromSeconds(10));
        Assert.True(ring.IsIdle);
        Assert.Equal(["1:0", "2:0", "2:1"], c.Consumed.Select(p => p.ToString()));
        Assert.Equal(3, ring.Enqueues);
    }

    [Fact]
    public void ThrowingDrainLeavesTheRingStalledAndRestartable()
    {
        var c = new Consumer { Chunk = 2 };
        using MpRing<Pkt> ring = c.NewRing(16);
        Pkt[] sent = Pkts(0, 0, 6);
        ring.Enqueue(sent[..4], 32, abdicate: true);
        c.OnCall = call =>
        {
            if (call == 2)
            {
                throw new InvalidDataException("driver fault");
            }
        };

        Assert.Throws<InvalidDataException>(() => ring.CheckDrainage(32));
        c.OnCall = null;
        Assert.Equal(sent[..2], c.Consumed);
        Assert.Equal(new RingState(4, 4, 2, MpRingFlags.Stalled), ring.State);
        Assert.Equal(1, ring.Stalls);

        ring.CheckDrainage(32);
        Assert.True(ring.IsIdle);
        ring.Enqueue(sent[4..], 32, abdicate: false);
        Assert.Equal(sent, c.Consumed);
        Assert.Equal(1, ring.Restarts);
    }

    [Fact]
    public void DrainClaimingMoreThanItsWindowIsRefused()
    {
        using var ring = new MpRing<Pkt>(8, (r, cidx, pidx) => r.CountBetween(cidx, pidx) + 1, _ => true);
        Assert.Throws<InvalidOperationException>(() => ring.Enqueue(new Pkt(0, 0), 32, abdicate: false));
        Assert.Equal(new RingState(1, 1, 0, MpRingFlags.Stalled), ring.State);
    }

    [Fact]
    public void StateStringUsesIflibsFormat()
    {
        Assert.Equal("pidx_head: 0000 pidx_tail: 0000 cidx: 0000 state: IDLE", new RingState(0, 0, 0, MpRingFlags.Idle).ToString());
        Assert.Equal("pidx_head: 2047 pidx_tail: 0012 cidx: 0003 state: BUSY", new RingState(2047, 12, 3, MpRingFlags.Busy).ToString());
        Assert.Equal("pidx_head: 32767 pidx_tail: 0000 cidx: 0000 state: STALLED", new RingState(32767, 0, 0, MpRingFlags.Stalled).ToString());

        // %04hd: indices of 32768 and up print as negative shorts, zero-padded to width 4 including the sign.
        Assert.Equal("pidx_head: -001 pidx_tail: -25536 cidx: -32768 state: ABDICATED", new RingState(65535, 40000, 32768, MpRingFlags.Abdicated).ToString());

        var s = new RingState(0x1234, 0xABCD, 0x0042, MpRingFlags.Stalled);
        Assert.Equal(0x0002_0042_ABCD_1234UL, s.Raw);
        Assert.Equal(s, RingState.FromRaw(s.Raw));

        using MpRing<Pkt> ring = new Consumer().NewRing(2048);
        Assert.Equal("pidx_head: 0000 pidx_tail: 0000 cidx: 0000 state: IDLE", ring.StateString);
        ring.Enqueue(Pkts(0, 0, 7), 32, abdicate: false);
        Assert.Equal("pidx_head: 0007 pidx_tail: 0007 cidx: 0007 state: IDLE", ring.StateString);
    }

    [Fact]
    public void CountersCanBeResetAndSurviveDispose()
    {
        var c = new Consumer { Credit = 0 };
        MpRing<Pkt> ring = c.NewRing(4);
        ring.Enqueue(new Pkt(0, 0), 32, false);
        ring.Enqueue(new Pkt(0, 1), 32, false);
        ring.Enqueue(new Pkt(0, 2), 32, false);
        Assert.Equal((2L, 1L, 1L, 1L), (ring.Enqueues, ring.Drops, ring.Starts, ring.Stalls));
        ring.ResetStats();
        Assert.Equal(0, ring.Enqueues + ring.Drops + ring.Starts + ring.Stalls + ring.Restarts + ring.Abdications);
        ring.Enqueue(new Pkt(0, 3), 32, false);
        ring.Dispose();
        ring.Dispose();
        Assert.Equal(1, ring.Drops);
        Assert.Throws<ObjectDisposedException>(() => ring.Enqueue(new Pkt(0, 4), 32, false));
        Assert.Throws<ObjectDisposedException>(() => ring.CheckDrainage(32));
    }

    /// <summary>
    /// Runs <paramref name="producers"/> threads of <paramref name="perProducer"/> sequenced items each (retrying on
    /// ENOBUFS), plus an optional "TX task" thread calling CheckDrainage; checks exactly-once, per-producer FIFO
    /// delivery and exact counters.
    /// </summary>
    private static void RunProducers(int size, int producers, int perProducer, int budget, Func<int, int, bool> abdicate,
        Func<int, int>? drainLimit, bool txTask)
    {
        var next = new int[producers];
        long consumed = 0;
        int overlaps = 0, inDrain = 0, calls = 0;
        string? error = null;
        int noResources = 0;

        int Drain(MpRing<Pkt> r, int cidx, int pidx)
        {
            if (Interlocked.Exchange(ref inDrain, 1) != 0)
            {
                Interlocked.Increment(ref overlaps);
            }

            int call = ++calls;
            int n = r.CountBetween(cidx, pidx);
            if (Volatile.Read(ref noResources) != 0 && call % 3 == 0)
            {
                n = 0;
            }
            else if (drainLimit is not null)
            {
                n = Math.Min(n, drainLimit(call));
            }

            for (int i = 0; i < n; i++)
            {
                Pkt p = r.ItemAt(cidx + i);
                if (p.Seq != next[p.Producer])
                {
                    error ??= $"producer {p.Producer}: got seq {p.Seq}, expected {next[p.Producer]}";
                }

                next[p.Producer] = p.Seq + 1;
            }

            consumed += n;
            Volatile.Write(ref inDrain, 0);
            return n;
        }

        using var ring = new MpRing<Pkt>(size, Drain, _ => true);
        var attempts = new long[producers];
        using var done = new CountdownEvent(producers);
        var threads = Enumerable.Range(0, producers).Select(p => new Thread(() =>
        {
            try
            {
                for (int seq = 0; seq < perProducer; seq++)
                {
                    var pkt = new Pkt(p, seq);
                    SpinWait backoff = default; // ENOBUFS: let the consumer (or the TX task) run, then retry
                    for (;;)
                    {
                        attempts[p]++;
                        if (ring.Enqueue(pkt, budget, abdicate(p, seq)) == 0)
                        {
                            break;
                        }

                        backoff.SpinOnce();
                    }
                }
            }
            finally
            {
                done.Signal();
            }
        })).ToList();

        Thread? tx = txTask
            ? new Thread(() =>
            {
                int i = 0;
                while (!done.IsSet)
                {
                    Volatile.Write(ref noResources, (i++ / 50) % 2);
                    ring.CheckDrainage(32);
                    Thread.Sleep(i % 16 == 0 ? 1 : 0); // a timer-like task, not a CPU hog
                }

                Volatile.Write(ref noResources, 0);
            })
            : null;

        tx?.Start();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(60))));
        Assert.True(tx?.Join(TimeSpan.FromSeconds(60)) ?? true);

        // No item may be stranded: whatever state the last consumer left, CheckDrainage finishes the job.
        ring.CheckDrainage(int.MaxValue);
        Assert.True(ring.IsIdle, ring.StateString);
        Assert.Null(error);
        Assert.Equal(0, overlaps);
        Assert.Equal((long)producers * perProducer, consumed);
        Assert.All(next, n => Assert.Equal(perProducer, n));
        Assert.Equal((long)producers * perProducer, ring.Enqueues);
        Assert.Equal(attempts.Sum(), ring.Enqueues + ring.Drops);
        Assert.True(ring.Restarts <= ring.Stalls);
    }

    [Fact]
    public void ManyProducersDeliverEveryItemExactlyOnceInPerProducerOrder()
        => RunProducers(size: 256, producers: 6, perProducer: 4_000, budget: 32, abdicate: (_, _) => false,
            drainLimit: null, txTask: false);

    [Fact]
    public void ManyProducersOnATinyRingWithPartialDrains()
        => RunProducers(size: 8, producers: 4, perProducer: 3_000, budget: 4, abdicate: (_, _) => false,
            drainLimit: call => 1 + (call % 3), txTask: false);

    [Fact]
    public void AbdicatingProducersWithStallsAndATxTaskStrandNothing()
        => RunProducers(size: 64, producers: 4, perProducer: 3_000, budget: 8, abdicate: (p, seq) => (p + seq) % 3 == 0,
            drainLimit: call => 1 + (call % 5), txTask: true);

    private abstract record Op;

    private sealed record EnqueueOp(int N, bool Abdicate, int Budget) : Op;

    private sealed record CreditOp(long Credit) : Op;

    private sealed record CheckOp(int Budget) : Op;

    [Fact]
    public void SingleThreadedOperationsMatchAQueueModel()
    {
        Gen<Op> op = Gen.Frequency(
            (6, Gen.Select(Gen.Int[1, 5], Gen.Bool, Gen.Int[0, 8], (n, a, b) => (Op)new EnqueueOp(n, a, b))),
            (2, Gen.OneOf(Gen.Const(0L), Gen.Long[1, 6], Gen.Const(long.MaxValue)).Select(k => (Op)new CreditOp(k))),
            (2, Gen.Int[0, 8].Select(b => (Op)new CheckOp(b))));

        Gen.Select(Gen.Int[2, 4].Select(e => 1 << e), Gen.Int[1, 4], op.Array[1, 80])
            .Sample((size, chunk, ops) =>
            {
                var c = new Consumer { Chunk = chunk };
                using MpRing<Pkt> ring = c.NewRing(size);

                var q = new Queue<Pkt>();
                var expectedConsumed = new List<Pkt>();
                MpRingFlags flags = MpRingFlags.Idle;
                long credit = c.Credit;
                long enqueues = 0, drops = 0, starts = 0, stalls = 0, restarts = 0;
                int seq = 0;

                // drain_ring_lockless with no producer in flight: the budget never stops it, so it consumes until
                // the ring is empty (IDLE) or the resources run out (STALLED).
                void ModelDrain(MpRingFlags prev)
                {
                    if (prev == MpRingFlags.Idle)
                    {
                        starts++;
                    }

                    int total = 0;
                    while (q.Count > 0 && credit > 0)
                    {
                        expectedConsumed.Add(q.Dequeue());
                        credit--;
                        total++;
                    }

                    if (q.Count == 0)
                    {
                        flags = MpRingFlags.Idle;
                        if (prev == MpRingFlags.Stalled)
                        {
                            restarts++;
                        }
                    }
                    else
                    {
                        flags = MpRingFlags.Stalled;
                        if (prev != MpRingFlags.Stalled)
                        {
                            stalls++;
                        }
                        else if (total > 0)
                        {
                            restarts++;
                            stalls++;
                        }
                    }
                }

                void ModelCheckDrainage()
                {
                    if ((flags == MpRingFlags.Stalled && credit > 0) || flags == MpRingFlags.Abdicated)
                    {
                        ModelDrain(flags);
                    }
                }

                foreach (Op o in ops)
                {
                    switch (o)
                    {
                        case EnqueueOp e:
                        {
                            int n = Math.Min(e.N, size - 1); // a batch of size - 1 is always refused; size is an error
                            Pkt[] batch = Pkts(0, seq, n);
                            int rc = ring.Enqueue(batch, e.Budget, e.Abdicate);
                            if (n >= size - 1 - q.Count)
                            {
                                Assert.Equal(MpRing.ENOBUFS, rc);
                                drops += n;
                                if (flags == MpRingFlags.Stalled)
                                {
                                    ModelCheckDrainage();
                                }
                            }
                            else
                            {
                                Assert.Equal(0, rc);
                                seq += n;
                                enqueues += n;
                                foreach (Pkt p in batch)
                                {
                                    q.Enqueue(p);
                                }

                                if (e.Abdicate)
                                {
                                    if (flags == MpRingFlags.Idle)
                                    {
                                        flags = MpRingFlags.Abdicated;
                                    }
                                }
                                else
                                {
                                    ModelDrain(flags); // never BUSY between single-threaded operations
                                }
                            }

                            break;
                        }

                        case CreditOp k:
                            c.Credit = credit = k.Credit;
                            break;
                        case CheckOp k:
                            ring.CheckDrainage(k.Budget);
                            ModelCheckDrainage();
                            break;
                    }

                    Assert.Equal(expectedConsumed, c.Consumed);
                    Assert.Equal(credit, c.Credit);
                    RingState s = ring.State;
                    Assert.Equal(flags, s.Flags);
                    Assert.Equal(s.PidxHead, s.PidxTail);
                    Assert.Equal(q.Count, ring.CountBetween(s.Cidx, s.PidxTail));
                    Assert.Equal(flags == MpRingFlags.Idle && q.Count == 0, ring.IsIdle);
                    Assert.Equal(flags == MpRingFlags.Stalled, ring.IsStalled);
                    Assert.Equal(
                        (enqueues, drops, starts, stalls, restarts, 0L),
                        (ring.Enqueues, ring.Drops, ring.Starts, ring.Stalls, ring.Restarts, ring.Abdications));
                    AssertOnlyWindowHoldsItems(ring);
                }

                Assert.Equal(0, c.Overlaps);
            }, iter: 300);
    }
}
