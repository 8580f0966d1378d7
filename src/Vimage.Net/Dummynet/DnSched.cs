using System.Diagnostics;
using Vimage.Core;
using Vimage.Net.Pfil;

namespace Vimage.Net.Dummynet;

/// <summary>Scheduler types (dn_sched modules); FreeBSD's default for <c>ipfw sched N</c> is WF2Q+.</summary>
public enum DnSchedType
{
    Wf2qPlus,
    Fifo,
}

/// <summary>
/// The scheduled path of a link (dn_sched_wf2q.c over ip_dn_io.c's serve_sched): when queues with weights feed the
/// pipe, packets wait in their queue and the link picks the next one each time it is free. WF2Q+: every backlogged
/// queue has a virtual start S and finish F (F = S + len/weight); among the queues with S &lt;= V (eligible) the one
/// with the smallest F sends, and V advances by len/(sum of backlogged weights). The link's time is exact: a packet
/// starts when the previous one has left (or when it arrives on an idle link) and takes len*8/bw, so no credit is
/// lost when the service event runs late. Service events sit on the same timer wheel as held packets.
/// </summary>
public sealed partial class DnPipe
{
    // link side
    private DnPipe[] _members = [];
    private DnSchedType _schedType;
    private long _linkFree;
    private int _backlog;
    private long _backlogBytes;
    private bool _serviceArmed;
    private Vnet? _vnet;
    private bool _dead; // deleted or replaced: arrivals racing the deletion are dropped, not stranded
    private double _vtime;
    private long _wsum;

    // queue side (a queue, or the pipe's own traffic on a scheduled link)
    private DnPacket? _qHead, _qTail;
    private int _qLen;
    private long _qBytes;
    private double _s, _f;
    private bool _backlogged;

    /// <summary>Packets and bytes that left the link from this queue (or pipe).</summary>
    public long DepartedPackets { get; private set; }

    public long DepartedBytes { get; private set; }

    /// <summary>The link's scheduler; WF2Q+ applies once queues are attached, FIFO keeps one departure line.</summary>
    public DnSchedType SchedType
    {
        get => _schedType;
        set
        {
            lock (_gate)
            {
                _schedType = value;
            }
        }
    }

    /// <summary>True when packets go through the queues and the scheduler (WF2Q+ with queues attached).</summary>
    public bool Scheduled => _schedType == DnSchedType.Wf2qPlus && Volatile.Read(ref _members).Length > 0;

    /// <summary>Attaches queue <paramref name="q"/> to this link (ipfw queue N config pipe P).</summary>
    internal void Attach(DnPipe q)
    {
        lock (_gate)
        {
            Volatile.Write(ref _members, [.. _members, q]);
        }
    }

    /// <summary>Detaches queue <paramref name="q"/> and frees what it holds.</summary>
    internal void Detach(DnPipe q)
    {
        lock (_gate)
        {
            // the queue and, for a masked queue, its flow instances
            foreach (DnPipe x in _members)
            {
                if (x == q || x.Root == q)
                {
                    x._dead = true;
                    FreeQueue(x);
                }
            }

            q._dead = true;
            Volatile.Write(ref _members, Array.FindAll(_members, x => x != q && x.Root != q));
        }
    }

    /// <summary>Frees every packet waiting in this link's queues (pipe delete or reconfiguration).</summary>
    internal void PurgeQueued()
    {
        lock (_gate)
        {
            _dead = true;
            FreeQueue(this);
            foreach (DnPipe q in _members)
            {
                FreeQueue(q);
            }
        }
    }

    private void FreeQueue(DnPipe q)
    {
        for (DnPacket? p = q._qHead; p is not null;)
        {
            DnPacket? next = p.Next;
            _backlog--;
            _backlogBytes -= p.Length;
            p.M?.Free();
            DnWheel.Return(p);
            p = next;
        }

        if (q._backlogged)
        {
            _wsum -= q.Weight;
        }

        q._qHead = q._qTail = null;
        q._qLen = 0;
        q._qBytes = 0;
        q._backlogged = false;
    }

    /// <summary>
    /// dummynet_io on a scheduled link: loss and the queue's limit, then the packet waits in
    /// <paramref name="queue"/> and the link serves what it can start now. False when dropped (the caller frees).
    /// </summary>
    internal bool EnqueueScheduled(DnPipe queue, Mbuf m, Ifnet ifp, PfilDir dir, uint hop, int resume, long now)
    {
        int length = m.Length;
        lock (_gate)
        {
            queue.TotalPackets++;
            queue.TotalBytes += length;
            if (queue != this)
            {
                TotalPackets++;
                TotalBytes += length;
            }

            DnPipeConfig limits = queue.Config;
            bool full = limits.QueueBytes > 0 ? queue._qBytes + length > limits.QueueBytes : queue._qLen >= limits.QueueSlots;
            if (_dead || queue._dead || Lost(limits) || full)
            {
                queue.Drops++;
                if (queue != this)
                {
                    Drops++;
                }

                return false;
            }

            DnPacket p = DnWheel.Rent();
            p.M = m;
            p.Ifp = ifp;
            p.Dir = dir;
            p.Hop = hop;
            p.Resume = resume;
            p.Vnet = Curvnet.Current;
            p.Owner = this;
            p.Due = now; // arrival, until it is scheduled
            p.Length = length;
            p.Next = null;
            _vnet ??= p.Vnet;
            if (queue._qTail is null)
            {
                queue._qHead = p;
            }
            else
            {
                queue._qTail.Next = p;
            }

            queue._qTail = p;
            queue._qLen++;
            queue._qBytes += length;
            _backlog++;
            _backlogBytes += length;
            if (!queue._backlogged)
            {
                // a queue becoming backlogged: S = max(F, V), F = S + len/w
                queue._backlogged = true;
                _wsum += queue.Weight;
                queue._s = Math.Max(queue._f, _vtime);
                queue._f = queue._s + ((double)length / queue.Weight);
            }

            Serve(now);
            return true;
        }
    }

    /// <summary>The wheel's service event: the link is free, serve again.</summary>
    internal void OnService()
    {
        lock (_gate)
        {
            _serviceArmed = false;
            Serve(Stopwatch.GetTimestamp());
        }
    }

    /// <summary>Serves as of <paramref name="now"/> (tests drive the scheduler on their own clock).</summary>
    internal void ServeAt(long now)
    {
        lock (_gate)
        {
            Serve(now);
        }
    }

    /// <summary>serve_sched: starts every packet the link can start by <paramref name="now"/>, then arms the next event.</summary>
    private void Serve(long now)
    {
        DnPipeConfig c = Config;
        _linkFree = Math.Max(_linkFree, _busyUntil); // packets the FIFO line sent before the queues came still hold the link
        while (_backlog > 0 && _linkFree <= now)
        {
            DnPipe q = Pick();
            DnPacket p = q._qHead!;
            q._qHead = p.Next;
            if (q._qHead is null)
            {
                q._qTail = null;
            }

            p.Next = null;
            q._qLen--;
            q._qBytes -= p.Length;
            _backlog--;
            _backlogBytes -= p.Length;
            _vtime += (double)p.Length / Math.Max(1, _wsum);
            if (q._qHead is null)
            {
                q._backlogged = false;
                _wsum -= q.Weight;
            }
            else
            {
                q._s = q._f;
                q._f = q._s + ((double)q._qHead.Length / q.Weight);
            }

            long start = Math.Max(_linkFree, p.Due);
            long departure = c.Bandwidth > 0 ? start + (long)((double)p.Length * 8 * Stopwatch.Frequency / c.Bandwidth) : start;
            _linkFree = departure;
            q.DepartedPackets++;
            q.DepartedBytes += p.Length;
            var v = new Verdict { CorruptBit = -1 };
            AfterDeparture(departure, p.Length, ref v);
            Release(p, in v);
        }

        if (_backlog > 0 && !_serviceArmed)
        {
            _serviceArmed = true;
            DnPacket e = DnWheel.Rent();
            e.Service = this;
            e.Owner = this;
            e.Vnet = _vnet;
            e.Due = _linkFree;
            DnWheel.Schedule(e);
        }
    }

    /// <summary>WF2Q+'s choice: the eligible backlogged queue (S &lt;= V) with the smallest F; none eligible moves V up.</summary>
    private DnPipe Pick()
    {
        DnPipe? best = null;
        double minS = double.MaxValue;
        for (int k = -1; k < _members.Length; k++)
        {
            DnPipe q = k < 0 ? this : _members[k];
            if (!q._backlogged)
            {
                continue;
            }

            minS = Math.Min(minS, q._s);
            if (q._s <= _vtime && (best is null || q._f < best._f))
            {
                best = q;
            }
        }

        if (best is not null)
        {
            return best;
        }

        _vtime = minS; // no queue eligible: V jumps to the smallest start
        return Pick();
    }

    private void Release(DnPacket p, in Verdict v)
    {
        if (v.CorruptBit >= 0 && p.M is { } m)
        {
            MbufCsum.Complete(m); // the bit flips on the wire, after checksums: the receiver must verify
            Span<byte> data = m.Data;
            data[v.CorruptBit >> 3] ^= (byte)(1 << (v.CorruptBit & 7));
        }

        if (v.Duplicate && p.M is { } orig && MbufDup.Dup(orig) is { } copy)
        {
            DnPacket d = DnWheel.Rent();
            d.M = copy;
            d.Ifp = p.Ifp;
            d.Dir = p.Dir;
            d.Hop = p.Hop;
            d.Resume = p.Resume;
            d.Vnet = p.Vnet;
            d.Owner = this;
            d.Due = v.DuplicateRelease;
            DnWheel.Schedule(d);
        }

        p.Due = v.Release;
        DnWheel.Schedule(p);
    }
}
