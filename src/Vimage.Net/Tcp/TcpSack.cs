using System.Buffers.Binary;
using Vimage.Core;

namespace Vimage.Net.Tcp;

/// <summary>A hole of the scoreboard (struct sackhole): [Start, End) not SACKed, retransmitted up to Rxmit.</summary>
public readonly record struct SackHole(uint Start, uint End, uint Rxmit);

/// <summary>
/// The sender's SACK scoreboard (tcp_sack.c: tcp_sack_doack, tcp_sack_output, tcp_sack_partialack,
/// tcp_sack_adjust, tcp_free_sackholes; tcp_input.c's tcp_compute_pipe): the holes between snd_una and snd_fack
/// in sequence order, the hint of the next hole to retransmit and the RFC 6675 counters (sackhint). Holes live in a
/// per-connection array grown up to net.inet.tcp.sack.maxholes and recycled through a free list, so ACK processing
/// allocates nothing once the scoreboard has grown; the vnet-wide total is bounded by
/// net.inet.tcp.sack.globalmaxholes. Pure: the tcpcb passes its sequence numbers in; calls run with the
/// connection's vnet current (the hole counts and tcpstat are per vnet).
/// </summary>
public sealed partial class SackScoreboard
{
    private struct Node
    {
        public uint Start, End, Rxmit;
        public int Prev, Next;
    }

    private Node[] _h = [];
    private int _head = -1, _tail = -1, _free = -1;

    /// <summary>snd_numholes.</summary>
    public int Count { get; private set; }

    /// <summary>snd_fack: the highest sequence number SACKed (or cumulatively acknowledged) so far.</summary>
    public uint snd_fack { get; set; }

    /// <summary>sackhint.sack_bytes_rexmit: bytes retransmitted from holes, Σ(min(rxmit, end) − start).</summary>
    public int sack_bytes_rexmit { get; private set; }

    /// <summary>sackhint.sacked_bytes: bytes SACKed above snd_una.</summary>
    public int sacked_bytes { get; private set; }

    /// <summary>sackhint.delivered_data: bytes the last ACK newly acknowledged or SACKed.</summary>
    public int delivered_data { get; private set; }

    /// <summary>sackhint.last_sack_ack: the end of the highest block of the last ACK.</summary>
    public uint last_sack_ack { get; private set; }

    /// <summary>Holes refused because of maxholes or globalmaxholes (also counted as tcps_sack_sboverflow).</summary>
    public long Overflows { get; private set; }

    /// <summary>The holes in sequence order (a copy, for diagnostics and tests).</summary>
    public SackHole[] Holes()
    {
        var list = new SackHole[Count];
        int k = 0;
        for (int i = _head; i >= 0; i = _h[i].Next)
        {
            list[k++] = new SackHole(_h[i].Start, _h[i].End, _h[i].Rxmit);
        }

        return list;
    }

    /// <summary>The hole <paramref name="hole"/> (an index <see cref="Output"/> returned).</summary>
    public SackHole this[int hole] => new(_h[hole].Start, _h[hole].End, _h[hole].Rxmit);

    /// <summary>The RFC 6675 pipe (tcp_compute_pipe): snd_max − snd_una + sack_bytes_rexmit − sacked_bytes.</summary>
    public uint Pipe(uint snd_una, uint snd_max)
        => (uint)Math.Max(0L, (long)(uint)(snd_max - snd_una) + sack_bytes_rexmit - sacked_bytes);

    /// <summary>Decodes the SACK option's blocks (big-endian start/end pairs, as tcp_dooptions left them) into <paramref name="dest"/>.</summary>
    public static int ReadBlocks(ReadOnlySpan<byte> blocks, Span<SackBlock> dest)
    {
        int n = Math.Min(blocks.Length / SackBlock.Length, dest.Length);
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<byte> b = blocks.Slice(i * SackBlock.Length, SackBlock.Length);
            dest[i] = new SackBlock(BinaryPrimitives.ReadUInt32BigEndian(b), BinaryPrimitives.ReadUInt32BigEndian(b[4..]));
        }

        return n;
    }

    /// <summary>
    /// Writes a SACK option (kind 5, length, blocks) for tcp_addoptions; the caller aligns it (two NOPs before).
    /// Returns the bytes written, 0 when there are no blocks or no room.
    /// </summary>
    public static int WriteOption(Span<byte> dest, ReadOnlySpan<SackBlock> blocks)
    {
        int n = Math.Min(blocks.Length, SackReport.TCP_MAX_SACK);
        int len = 2 + (n * SackBlock.Length);
        if (n == 0 || dest.Length < len)
        {
            return 0;
        }

        dest[0] = TcpOptions.TCPOPT_SACK;
        dest[1] = (byte)len;
        for (int i = 0; i < n; i++)
        {
            Span<byte> b = dest.Slice(2 + (i * SackBlock.Length), SackBlock.Length);
            BinaryPrimitives.WriteUInt32BigEndian(b, blocks[i].Start);
            BinaryPrimitives.WriteUInt32BigEndian(b[4..], blocks[i].End);
        }

        return len;
    }

    /// <summary>
    /// tcp_sack_doack: updates the scoreboard from an ACK of <paramref name="th_ack"/> carrying
    /// <paramref name="sacks"/> (at most TCP_MAX_SACK are looked at). Blocks that are inverted, start at or below
    /// snd_una or th_ack, or reach beyond snd_max are ignored; a block wholly at or below th_ack is a D-SACK (RFC 2883,
    /// counted as tcps_dsack_count/bytes). Holes are split, trimmed and removed; a block beyond snd_fack appends a
    /// hole. Returns true when the ACK carried SACK information not known before (a duplicate ACK for recovery).
    /// </summary>
    public bool DoAck(uint snd_una, uint snd_max, uint th_ack, ReadOnlySpan<SackBlock> sacks)
    {
        Span<SackBlock> blocks = stackalloc SackBlock[SackReport.TCP_MAX_SACK + 1];
        int num = 0, delivered = 0, leftEdgeDelta = 0;
        bool changed = false;

        // [snd_una, th_ack) counts as a block while holes exist.
        if (TcpSeq.Lt(snd_una, th_ack) && Count > 0)
        {
            leftEdgeDelta = (int)(th_ack - snd_una);
            blocks[num++] = new SackBlock(snd_una, th_ack);
            if (TcpSeq.Lt(snd_fack, th_ack))
            {
                // Only the part beyond snd_fack is new here; holes below it are counted as they go. (FreeBSD adds
                // th_ack − snd_una, counting SACKed bytes and holes twice.)
                delivered += (int)(th_ack - snd_fack);
                snd_fack = th_ack;
                changed = true;
            }
        }

        int given = Math.Min(sacks.Length, SackReport.TCP_MAX_SACK);
        for (int i = 0; i < given; i++)
        {
            SackBlock s = sacks[i];
            if (TcpSeq.Gt(s.End, s.Start) && TcpSeq.Gt(s.Start, snd_una) && TcpSeq.Gt(s.Start, th_ack)
                && TcpSeq.Lt(s.Start, snd_max) && TcpSeq.Gt(s.End, snd_una) && TcpSeq.Leq(s.End, snd_max))
            {
                blocks[num++] = s;
            }
            else if (TcpSeq.Lt(s.Start, s.End) && TcpSeq.Leq(s.Start, th_ack) && TcpSeq.Leq(s.End, th_ack))
            {
                Tcp.Stat(TcpStat.tcps_dsack_count); // tcp_record_dsack
                Tcp.StatAdd(TcpStat.tcps_dsack_bytes, s.End - s.Start);
            }
        }

        if (given > 0)
        {
            Tcp.Stat(TcpStat.tcps_sack_rcv_blocks);
        }

        if (num == 0)
        {
            delivered_data = 0;
            return changed;
        }

        // Sort by end (at most 5: insertion sort) for one backward sweep over blocks and holes together.
        for (int i = 1; i < num; i++)
        {
            SackBlock b = blocks[i];
            int j = i - 1;
            while (j >= 0 && TcpSeq.Gt(blocks[j].End, b.End))
            {
                blocks[j + 1] = blocks[j];
                j--;
            }

            blocks[j + 1] = b;
        }

        if (Count == 0)
        {
            snd_fack = TcpSeq.Max(snd_una, th_ack);
            sacked_bytes = 0;
        }

        int sb = num - 1;
        last_sack_ack = blocks[sb].End;
        if (TcpSeq.Lt(snd_fack, blocks[sb].Start))
        {
            if (_tail >= 0 && TcpSeq.Leq(snd_fack, _h[_tail].End))
            {
                // RFC 6675 rescue retransmission succeeded: move the last hole up to the new block.
                ref Node t = ref _h[_tail];
                sack_bytes_rexmit -= Rexmitted(in t);
                t.Start = TcpSeq.Max(snd_fack, TcpSeq.Max(snd_una, th_ack));
                t.End = blocks[sb].Start;
                t.Rxmit = t.Start;
                delivered += (int)(blocks[sb].End - blocks[sb].Start);
                snd_fack = blocks[sb].End;
                sb--;
                changed = true;
            }
            else if (Insert(snd_fack, blocks[sb].Start, _tail) >= 0)
            {
                delivered += (int)(blocks[sb].End - blocks[sb].Start);
                snd_fack = blocks[sb].End;
                sb--;
                changed = true;
            }
            else
            {
                // No room for a hole: skip the blocks beyond snd_fack, trim with the rest.
                while (sb >= 0 && TcpSeq.Lt(snd_fack, blocks[sb].Start))
                {
                    sb--;
                }

                if (sb >= 0 && TcpSeq.Lt(snd_fack, blocks[sb].End))
                {
                    delivered += (int)(blocks[sb].End - snd_fack);
                    snd_fack = blocks[sb].End;
                    changed = true;
                }
            }
        }
        else if (TcpSeq.Lt(snd_fack, blocks[sb].End))
        {
            delivered += (int)(blocks[sb].End - snd_fack);
            snd_fack = blocks[sb].End;
            changed = true;
        }

        int cur = _tail;
        while (sb >= 0 && cur >= 0)
        {
            SackBlock b = blocks[sb];
            if (TcpSeq.Geq(b.Start, _h[cur].End))
            {
                sb--; // the block is above this hole
                continue;
            }

            if (TcpSeq.Leq(b.End, _h[cur].Start))
            {
                cur = _h[cur].Prev; // the block is below this hole
                continue;
            }

            sack_bytes_rexmit -= Rexmitted(in _h[cur]);
            changed = true;
            if (TcpSeq.Leq(b.Start, _h[cur].Start))
            {
                if (TcpSeq.Geq(b.End, _h[cur].End))
                {
                    // The whole hole is covered.
                    delivered += (int)(_h[cur].End - _h[cur].Start);
                    int prev = _h[cur].Prev;
                    Remove(cur);
                    cur = prev;
                    continue;
                }

                delivered += (int)(b.End - _h[cur].Start); // the hole's start moves up
                _h[cur].Start = b.End;
                _h[cur].Rxmit = TcpSeq.Max(_h[cur].Rxmit, _h[cur].Start);
            }
            else if (TcpSeq.Geq(b.End, _h[cur].End))
            {
                delivered += (int)(_h[cur].End - b.Start); // the hole's end moves down
                _h[cur].End = b.Start;
                _h[cur].Rxmit = TcpSeq.Min(_h[cur].Rxmit, _h[cur].End);
            }
            else
            {
                // The block lies inside the hole: split it.
                int split = Insert(b.End, _h[cur].End, cur);
                if (split >= 0)
                {
                    if (TcpSeq.Gt(_h[cur].Rxmit, _h[split].Rxmit))
                    {
                        _h[split].Rxmit = _h[cur].Rxmit;
                        sack_bytes_rexmit += Rexmitted(in _h[split]);
                    }

                    _h[cur].End = b.Start;
                    _h[cur].Rxmit = TcpSeq.Min(_h[cur].Rxmit, _h[cur].End);
                    delivered += (int)(b.End - b.Start);
                }
            }

            sack_bytes_rexmit += Rexmitted(in _h[cur]);
            if (TcpSeq.Leq(b.Start, _h[cur].Start))
            {
                cur = _h[cur].Prev;
            }
            else
            {
                sb--;
            }
        }

        if (sacks.Length == 0)
        {
            changed = false; // a pure cumulative ACK is no duplicate ACK
        }

        delivered_data = delivered;
        sacked_bytes = Math.Max(0, sacked_bytes + delivered - leftEdgeDelta);
        return changed;
    }

    /// <summary>
    /// tcp_sack_output: the next hole with data left to retransmit (its index, or -1), and the bytes retransmitted
    /// from holes so far. The hint moves forward past fully retransmitted holes.
    /// </summary>
    public int Output(out int sackBytesRexmit)
    {
        sackBytesRexmit = sack_bytes_rexmit;
        int hole = _nexthole;
        if (hole < 0 || TcpSeq.Lt(_h[hole].Rxmit, _h[hole].End))
        {
            return hole;
        }

        while ((hole = _h[hole].Next) >= 0)
        {
            if (TcpSeq.Lt(_h[hole].Rxmit, _h[hole].End))
            {
                _nexthole = hole;
                break;
            }
        }

        return hole;
    }

    /// <summary>tcp_output sent <paramref name="len"/> bytes from <paramref name="hole"/>'s rxmit (at most what the hole has left).</summary>
    public void Retransmitted(int hole, int len)
    {
        ref Node h = ref _h[hole];
        int left = TcpSeq.Delta(h.End, h.Rxmit);
        int n = Math.Clamp(len, 0, Math.Max(left, 0));
        h.Rxmit += (uint)n;
        sack_bytes_rexmit += n;
        Tcp.Stat(TcpStat.tcps_sack_rexmits);
        Tcp.StatAdd(TcpStat.tcps_sack_rexmit_bytes, n);
    }

    /// <summary>
    /// tcp_sack_partialack's window: a partial ACK in SACK recovery lets out at most one or two segments (two when
    /// it acknowledged two or more): cwnd = sack_bytes_rexmit + (snd_nxt − snd_recover) + segments·maxseg, capped at
    /// ssthresh. With RFC 6675 (net.inet.tcp.sack.revised) a rescue hole covering the last segment below snd_max is
    /// added when the scoreboard emptied, the ACK delivered data and nothing was sent beyond the recovery point.
    /// The tcpcb then stops the retransmit timer, clears t_rtttime, sets TF_ACKNOW and calls tcp_output.
    /// </summary>
    public uint PartialAck(uint th_ack, uint snd_una, uint snd_nxt, uint snd_recover, uint snd_max, uint snd_ssthresh, int maxseg, bool sentFin)
    {
        uint mss = (uint)Math.Max(maxseg, 1);
        uint segs = (uint)(th_ack - snd_una) / mss >= 2 ? 2u : 1u;
        long cwnd = (long)Math.Max(sack_bytes_rexmit, 0) + TcpSeq.Delta(snd_nxt, snd_recover) + (segs * mss);
        uint result = (uint)Math.Clamp(cwnd, 0, snd_ssthresh);
        if (V_tcp_do_newsack != 0 && TcpSeq.Lt(th_ack, snd_recover) && snd_recover == snd_max && Count == 0 && delivered_data > 0)
        {
            uint highdata = sentFin ? snd_max - 1 : snd_max;
            if (th_ack != highdata)
            {
                snd_fack = th_ack;
                Insert(TcpSeq.Max(th_ack, highdata - mss), highdata, _tail);
            }
        }

        return result;
    }

    /// <summary>
    /// tcp_sack_lost_retransmission's scoreboard part (lost retransmission detection): in recovery, once snd_fack is
    /// past snd_recover while the first hole was wholly retransmitted below snd_fack, that retransmission was lost.
    /// Every hole retransmitted wholly below snd_fack is made retransmittable again (its bytes leave
    /// sack_bytes_rexmit, which FreeBSD leaves counted) and the hint returns to the first hole. Returns true, counted
    /// as tcps_sack_lostrexmt; the tcpcb then sets cwnd = ssthresh, exits recovery, signals CC_NDUPACK and sets
    /// cwnd to one segment, as FreeBSD does.
    /// </summary>
    public bool LostRetransmission(bool inRecovery, uint snd_recover)
    {
        if (!inRecovery || !TcpSeq.Gt(snd_fack, snd_recover) || _head < 0)
        {
            return false;
        }

        ref Node first = ref _h[_head];
        if (!TcpSeq.Geq(first.Rxmit, first.End) || !TcpSeq.Geq(snd_fack, first.Rxmit))
        {
            return false;
        }

        Tcp.Stat(TcpStat.tcps_sack_lostrexmt);
        _nexthole = _head;
        for (int i = _head; i >= 0; i = _h[i].Next)
        {
            if (TcpSeq.Geq(snd_fack, _h[i].Rxmit) && TcpSeq.Geq(_h[i].Rxmit, _h[i].End))
            {
                sack_bytes_rexmit -= Rexmitted(in _h[i]);
                _h[i].Rxmit = _h[i].Start;
            }
        }

        return true;
    }

    /// <summary>tcp_sack_adjust: after a timeout, moves snd_nxt past data the peer already SACKed.</summary>
    public uint Adjust(uint snd_nxt)
    {
        int cur = _head;
        if (cur < 0 || TcpSeq.Geq(snd_nxt, snd_fack))
        {
            return snd_nxt;
        }

        for (int p = _h[cur].Next; p >= 0; p = _h[cur].Next)
        {
            if (TcpSeq.Lt(snd_nxt, _h[cur].End))
            {
                return snd_nxt;
            }

            if (TcpSeq.Geq(snd_nxt, _h[p].Start))
            {
                cur = p;
            }
            else
            {
                return _h[p].Start;
            }
        }

        return TcpSeq.Lt(snd_nxt, _h[cur].End) ? snd_nxt : snd_fack;
    }

    /// <summary>tcp_do_segment's "sackhint.sacked_bytes = 0" for an ACK that is no SACK recovery's: no stale count survives.</summary>
    public void ResetSackedBytes() => sacked_bytes = 0;

    /// <summary>tcp_free_sackholes: empties the scoreboard (recovery over, or the connection closes).</summary>
    public void Free()
    {
        while (_head >= 0)
        {
            Remove(_head);
        }

        sack_bytes_rexmit = 0;
        sacked_bytes = 0;
        delivered_data = 0;
    }

    private int _nexthole = -1;

    private static int Rexmitted(in Node h) => (int)(TcpSeq.Min(h.Rxmit, h.End) - h.Start);

    /// <summary>tcp_sackhole_insert: a hole after <paramref name="after"/> (or at the tail); -1 when refused.</summary>
    private int Insert(uint start, uint end, int after)
    {
        if (Count >= V_tcp_sack_maxholes || Volatile.Read(ref V_tcp_sack_globalholes) >= V_tcp_sack_globalmaxholes)
        {
            Overflows++;
            Tcp.Stat(TcpStat.tcps_sack_sboverflow);
            return -1;
        }

        int i = _free;
        if (i >= 0)
        {
            _free = _h[i].Next;
        }
        else
        {
            if (Count == _h.Length)
            {
                Array.Resize(ref _h, Math.Max(8, _h.Length * 2));
                for (int k = _h.Length - 1; k > Count; k--)
                {
                    _h[k].Next = _free;
                    _free = k;
                }

                i = Count;
            }
            else
            {
                i = _free;
            }
        }

        _h[i] = new Node { Start = start, End = end, Rxmit = start, Prev = after, Next = after >= 0 ? _h[after].Next : -1 };
        if (after >= 0)
        {
            if (_h[after].Next >= 0)
            {
                _h[_h[after].Next].Prev = i;
            }
            else
            {
                _tail = i;
            }

            _h[after].Next = i;
        }
        else
        {
            // At the tail (after == -1 only when appending; an empty list gets its first node).
            _h[i].Prev = _tail;
            if (_tail >= 0)
            {
                _h[_tail].Next = i;
            }
            else
            {
                _head = i;
            }

            _tail = i;
        }

        Count++;
        Interlocked.Increment(ref V_tcp_sack_globalholes);
        if (_nexthole < 0)
        {
            _nexthole = i;
        }

        return i;
    }

    /// <summary>tcp_sackhole_remove.</summary>
    private void Remove(int i)
    {
        if (_nexthole == i)
        {
            _nexthole = _h[i].Next;
        }

        int prev = _h[i].Prev, next = _h[i].Next;
        if (prev >= 0)
        {
            _h[prev].Next = next;
        }
        else
        {
            _head = next;
        }

        if (next >= 0)
        {
            _h[next].Prev = prev;
        }
        else
        {
            _tail = prev;
        }

        _h[i].Next = _free;
        _free = i;
        Count--;
        Interlocked.Decrement(ref V_tcp_sack_globalholes);
    }

    // net.inet.tcp.sack.* (tcp_sack.c), per vnet; sack.enable is the tcpcb's (Tcp.V_tcp_do_sack).

    [Vnet]
    [Sysctl("net.inet.tcp.sack.revised", SysctlFlags.RW | SysctlFlags.VNET, "Use revised SACK loss recovery per RFC 6675", Min = 0, Max = 1)]
    internal static int s_tcp_do_newsack = 1;

    [Vnet]
    [Sysctl("net.inet.tcp.sack.maxholes", SysctlFlags.RW | SysctlFlags.VNET, "Maximum number of TCP SACK holes allowed per connection", Min = 0, Max = 1 << 20)]
    internal static int s_tcp_sack_maxholes = 128;

    [Vnet]
    [Sysctl("net.inet.tcp.sack.globalmaxholes", SysctlFlags.RW | SysctlFlags.VNET, "Global maximum number of TCP SACK holes", Min = 0, Max = 1 << 24)]
    internal static int s_tcp_sack_globalmaxholes = 65536;

    [Vnet]
    [Sysctl("net.inet.tcp.sack.globalholes", SysctlFlags.RD | SysctlFlags.VNET, "Global number of TCP SACK holes currently allocated")]
    internal static int s_tcp_sack_globalholes;
}
