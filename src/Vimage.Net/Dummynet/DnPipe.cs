using System.Diagnostics;

namespace Vimage.Net.Dummynet;

/// <summary>
/// One pipe (dn_link + its FIFO scheduler) or one queue feeding a pipe (dn_fs). The bandwidth queue is modelled
/// by departure times: a packet leaves the link when the ones before it have, plus its own transmission time
/// (len*8/bw); it is in the queue until then, so the queue's length at an arrival is the packets not yet departed,
/// and a full queue drops the arrival (tail drop). After departure comes the delay line (dummynet's delay is
/// applied after the bandwidth queue), then the netem extras. One lock per pipe; decisions draw from the pipe's own
/// seeded stream in arrival order.
/// </summary>
public sealed partial class DnPipe
{
    private readonly Lock _gate = new();
    private readonly long[] _departures; // ring: departure times of packets still in the bandwidth queue
    private readonly int[] _lengths;
    private int _head, _count;
    private long _queuedBytes;
    private long _busyUntil;
    private bool _geBad;
    private long _lastRelease;
    private readonly DnRandom _random;

    public DnPipe(int number, DnPipeConfig config, int slotLimit)
    {
        Number = number;
        Config = config;
        int ring = Math.Max(1, Math.Max(config.QueueSlots, slotLimit));
        _departures = new long[config.QueueBytes > 0 ? Math.Max(ring, config.QueueBytes / 60 + 1) : ring];
        _lengths = new int[_departures.Length];
        _random = new DnRandom(config.Seed ?? (ulong)Random.Shared.NextInt64());
    }

    public int Number { get; }

    public DnPipeConfig Config { get; }

    /// <summary>For a queue: the pipe it feeds (the link whose bandwidth and delay it uses); null for a pipe.</summary>
    public DnPipe? Parent { get; init; }

    /// <summary>For a queue: its weight in the link's WF2Q+ scheduler (1..100).</summary>
    public int Weight { get; init; } = 1;

    public long TotalPackets { get; private set; }

    public long TotalBytes { get; private set; }

    public long Drops { get; private set; }

    /// <summary>Packets the pipe sent twice (dup, a Vimage extension).</summary>
    public long Duplicates { get; private set; }

    /// <summary>
    /// Stopwatch ticks the link sat idle between a departure and the next arrival (FIFO path): the bandwidth a sender
    /// left unused. A link that is never idle delivers exactly its configured rate.
    /// </summary>
    public long IdleTicks { get; private set; }

    /// <summary>Packets and bytes in the bandwidth queue now.</summary>
    public (int Packets, long Bytes) Occupancy
    {
        get
        {
            DnPipe link = Parent ?? this;
            lock (link._gate)
            {
                if (link.Scheduled || Parent is not null)
                {
                    return Parent is null ? (link._backlog, link._backlogBytes) : (_qLen, _qBytes);
                }

                Expire(Stopwatch.GetTimestamp());
                return (_count, _queuedBytes);
            }
        }
    }

    /// <summary>The verdicts of one arrival, all drawn under the pipe's lock.</summary>
    internal struct Verdict
    {
        public bool Drop;
        public long Release;
        public bool Duplicate;
        public long DuplicateRelease;
        public int CorruptBit; // -1 none
    }

    /// <summary>dummynet_io for one packet of <paramref name="length"/> bytes arriving at <paramref name="now"/>.</summary>
    internal Verdict Arrive(int length, long now)
    {
        DnPipe link = Parent ?? this;
        DnPipeConfig limits = Config;
        DnPipeConfig c = link.Config;
        var v = new Verdict { CorruptBit = -1 };
        lock (link._gate)
        {
            TotalPackets++;
            TotalBytes += length;
            if (link != this)
            {
                link.TotalPackets++;
                link.TotalBytes += length;
            }

            bool lost = link.Lost(limits);
            link.Expire(now);
            bool full = limits.QueueBytes > 0 ? link._queuedBytes + length > limits.QueueBytes : link._count >= limits.QueueSlots;
            if (lost || full || link._count >= link._departures.Length)
            {
                v.Drop = true;
                Drops++;
                if (link != this)
                {
                    link.Drops++;
                }

                return v;
            }

            long departure = now;
            if (c.Bandwidth > 0)
            {
                if (link._busyUntil != 0 && now > link._busyUntil)
                {
                    link.IdleTicks += now - link._busyUntil;
                }

                long tx = (long)((double)length * 8 * Stopwatch.Frequency / c.Bandwidth);
                departure = Math.Max(now, link._busyUntil) + tx;
                link._busyUntil = departure;
                int tail = (link._head + link._count) % link._departures.Length;
                link._departures[tail] = departure;
                link._lengths[tail] = length;
                link._count++;
                link._queuedBytes += length;
            }

            link.AfterDeparture(departure, length, ref v);
            return v;
        }
    }

    /// <summary>Loss first, as dummynet does (plr on arrival: the queue's, else the pipe's), then Gilbert-Elliott.</summary>
    private bool Lost(DnPipeConfig limits)
    {
        DnPipeConfig c = Config;
        bool lost = _random.Chance(limits.Plr > 0 ? limits.Plr : c.Plr);
        if (!lost && c.HasGilbert)
        {
            _geBad = _geBad ? !_random.Chance(c.GeR) : _random.Chance(c.GeP);
            lost = _random.Chance(_geBad ? c.GeLossBad : c.GeLossGood);
        }

        return lost;
    }

    /// <summary>
    /// What happens after the bandwidth queue (dummynet: the delay line), then the netem extras: jitter, reorder,
    /// duplicate, corrupt, all drawn from the link's stream. Called under the link's lock.
    /// </summary>
    private void AfterDeparture(long departure, int length, ref Verdict v)
    {
        DnPipeConfig c = Config;
        long delay = c.DelayUs * Stopwatch.Frequency / 1_000_000;
        if (c.JitterUs > 0)
        {
            double j = c.JitterDistribution == DnJitter.Normal ? _random.NextNormal() : (_random.NextDouble() * 2) - 1;
            delay = Math.Max(0, delay + (long)(j * c.JitterUs * Stopwatch.Frequency / 1_000_000));
        }

        bool reorder = _random.Chance(c.Reorder);
        v.Release = reorder ? departure : departure + delay;
        if (c.JitterUs > 0 && !reorder && c.Reorder == 0)
        {
            v.Release = Math.Max(v.Release, _lastRelease); // netem keeps order under jitter unless reorder is asked
        }

        _lastRelease = Math.Max(_lastRelease, v.Release);
        v.Duplicate = _random.Chance(c.Dup);
        Duplicates += v.Duplicate ? 1 : 0;
        v.DuplicateRelease = v.Release;
        if (_random.Chance(c.Corrupt))
        {
            v.CorruptBit = _random.NextInt(Math.Max(1, length * 8));
        }
    }

    /// <summary>Packets whose departure has passed leave the bandwidth queue.</summary>
    private void Expire(long now)
    {
        while (_count > 0 && _departures[_head] <= now)
        {
            _queuedBytes -= _lengths[_head];
            _head = (_head + 1) % _departures.Length;
            _count--;
        }
    }

}
