using Vimage.Core;

namespace Vimage.Net.Tcp;

/// <summary>
/// A connection's reassembly queue (t_segq, netinet/tcp_reass.c): out-of-order segments, their data already
/// stripped of headers, sorted by sequence number with overlaps trimmed on entry. Bounded by
/// net.inet.tcp.reass.maxqueuelen segments (beyond: tcps_rcvreassfull) and, since input trims to the window first,
/// by the receive window.
/// </summary>
internal sealed class TcpReassQueue
{
    private Entry[] _q = [];
    private int _count;

    private struct Entry
    {
        public uint Seq;
        public Mbuf M;
        public bool Fin;
    }

    public int Count => _count;

    public bool IsEmpty => _count == 0;

    /// <summary>Frees every queued segment.</summary>
    public void Flush()
    {
        for (int i = 0; i < _count; i++)
        {
            _q[i].M.Free();
            _q[i] = default;
        }

        _count = 0;
    }

    /// <summary>
    /// Queues <paramref name="m"/> (data only) at <paramref name="seq"/>, trimming what earlier entries hold and
    /// dropping later entries it covers. False (and <paramref name="m"/> freed) when it was a duplicate or the queue is full.
    /// </summary>
    public bool Insert(uint seq, Mbuf m, bool fin, int limit)
    {
        int i = 0;
        while (i < _count && TcpSeq.Lt(_q[i].Seq, seq))
        {
            i++;
        }

        // The previous entry may cover our front.
        if (i > 0)
        {
            ref Entry p = ref _q[i - 1];
            int overlap = TcpSeq.Delta(p.Seq + (uint)p.M.Length, seq);
            if (overlap > 0)
            {
                if (overlap >= m.Length && !(fin && !p.Fin))
                {
                    m.Free();
                    return false;
                }

                m.Adjust(Math.Min(overlap, m.Length));
                seq += (uint)Math.Min(overlap, m.Length);
            }
        }

        // Later entries we cover go; one we partly cover is trimmed at its front.
        uint end = seq + (uint)m.Length;
        while (i < _count && TcpSeq.Gt(end, _q[i].Seq))
        {
            ref Entry q = ref _q[i];
            int covered = TcpSeq.Delta(end, q.Seq);
            if (covered < q.M.Length)
            {
                q.M.Adjust(covered);
                q.Seq += (uint)covered;
                break;
            }

            fin |= q.Fin;
            q.M.Free();
            RemoveAt(i);
        }

        if (_count >= limit)
        {
            m.Free();
            return false;
        }

        if (_q.Length == _count)
        {
            Array.Resize(ref _q, Math.Max(8, _count * 2));
        }

        Array.Copy(_q, i, _q, i + 1, _count - i);
        _q[i] = new Entry { Seq = seq, M = m, Fin = fin };
        _count++;
        return true;
    }

    /// <summary>The first entry if it starts at or before <paramref name="rcvNxt"/>: unlinked and trimmed to start there.</summary>
    public Mbuf? TakeInOrder(uint rcvNxt, out bool fin)
    {
        fin = false;
        while (_count > 0 && TcpSeq.Leq(_q[0].Seq, rcvNxt))
        {
            Entry e = _q[0];
            RemoveAt(0);
            int stale = TcpSeq.Delta(rcvNxt, e.Seq);
            if (stale >= e.M.Length && !(e.Fin && stale == e.M.Length))
            {
                e.M.Free();
                continue;
            }

            e.M.Adjust(Math.Min(stale, e.M.Length));
            fin = e.Fin;
            return e.M;
        }

        return null;
    }

    private void RemoveAt(int i)
    {
        _count--;
        Array.Copy(_q, i + 1, _q, i, _count - i);
        _q[_count] = default;
    }
}

public static partial class Tcp
{
    /// <summary>
    /// tcp_reass: queues an out-of-order segment (<paramref name="m"/> holds only its data), or with null
    /// <paramref name="m"/> delivers whatever the queue now holds in order. Returns TH_FIN when the delivered data
    /// ends with the peer's FIN.
    /// </summary>
    internal static TcpFlags Reass(Tcpcb tp, uint seq, Mbuf? m, bool fin)
    {
        if (m is not null)
        {
            int len = m.Length;
            // The limit is for segments beyond a hole (tcp_reass: th_seq != rcv_nxt): the one that fills the first
            // hole is always taken, or a full queue would wait forever for the segment it refuses.
            int limit = TcpSeq.Leq(seq, tp.rcv_nxt) ? int.MaxValue : V_tcp_reass_maxqueuelen;
            if (!tp.t_segq.Insert(seq, m, fin, limit))
            {
                if (tp.t_segq.Count >= V_tcp_reass_maxqueuelen)
                {
                    Stat(TcpStat.tcps_rcvreassfull);
                }

                return TcpFlags.None;
            }

            Stat(TcpStat.tcps_rcvoopack);
            StatAdd(TcpStat.tcps_rcvoobyte, len);
            return TcpFlags.None;
        }

        TcpFlags flags = TcpFlags.None;
        while (tp.t_segq.TakeInOrder(tp.rcv_nxt, out bool segFin) is { } d)
        {
            tp.rcv_nxt += (uint)d.Length;
            tp.So.SbAppendStream(d);
            if (segFin)
            {
                flags |= TcpFlags.TH_FIN;
                break;
            }
        }

        return flags;
    }
}
