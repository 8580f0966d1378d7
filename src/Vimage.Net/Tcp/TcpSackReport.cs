namespace Vimage.Net.Tcp;

/// <summary>struct sackblk: one SACK block [Start, End) in sequence space.</summary>
public readonly record struct SackBlock(uint Start, uint End)
{
    /// <summary>TCPOLEN_SACK: one block on the wire.</summary>
    public const int Length = 8;

    public bool IsEmpty => !TcpSeq.Lt(Start, End);
}

/// <summary>
/// The receiver's SACK list (tp->sackblks, rcv_numsacks; tcp_sack.c's tcp_update_sack_list, tcp_update_dsack_list,
/// tcp_clean_dsack_blocks, tcp_clean_sackreport): up to MAX_SACK_BLKS blocks of out-of-order data above rcv_nxt,
/// the most recently changed first (RFC 2018 §4), plus a D-SACK block first when a duplicate arrived (RFC 2883).
/// A segment carries at most 4 of them, 3 beside timestamps (<see cref="CopyForOption"/>). Fixed storage, no
/// allocation after construction.
/// </summary>
public sealed class SackReport
{
    /// <summary>MAX_SACK_BLKS: blocks remembered.</summary>
    public const int MAX_SACK_BLKS = 6;

    /// <summary>TCP_MAX_SACK: blocks that fit the 40 option bytes (2 + 4·8 = 34).</summary>
    public const int TCP_MAX_SACK = 4;

    private readonly SackBlock[] _blks = new SackBlock[MAX_SACK_BLKS];

    /// <summary>rcv_numsacks.</summary>
    public int Count { get; private set; }

    /// <summary>The blocks, in the order they are reported.</summary>
    public ReadOnlySpan<SackBlock> Blocks => _blks.AsSpan(0, Count);

    /// <summary>
    /// The blocks for the next segment's SACK option: at most 4, or 3 when the segment also carries timestamps
    /// (10 + 2 bytes of them leave room for 2 + 3·8). Returns how many were copied.
    /// </summary>
    public int CopyForOption(Span<SackBlock> dest, bool timestamps)
    {
        int n = Math.Min(Math.Min(Count, timestamps ? TCP_MAX_SACK - 1 : TCP_MAX_SACK), dest.Length);
        _blks.AsSpan(0, n).CopyTo(dest);
        return n;
    }

    /// <summary>tcp_dsack_block_exists: the first block lies at or below rcv_nxt (a D-SACK).</summary>
    public bool DsackBlockExists(uint rcv_nxt) => Count > 0 && TcpSeq.Leq(_blks[0].End, rcv_nxt);

    /// <summary>tcp_clean_sackreport.</summary>
    public void Clean()
    {
        Count = 0;
        Array.Clear(_blks);
    }

    /// <summary>
    /// tcp_update_sack_list: data [rcv_start, rcv_end) arrived out of order (above rcv_nxt). It becomes the first
    /// block, merged with the blocks it touches; blocks now at or below rcv_nxt are dropped; the oldest block falls
    /// off when the list is full. An empty range (rcv_start == rcv_end) only cleans up, keeping a D-SACK block that
    /// ends there. An inverted range is ignored.
    /// </summary>
    public void Update(uint rcv_nxt, uint rcv_start, uint rcv_end)
    {
        if (TcpSeq.Gt(rcv_start, rcv_end))
        {
            return;
        }

        bool keepDsack = rcv_start == rcv_end && Count >= 1 && rcv_end == _blks[0].End;
        uint headStart = keepDsack ? _blks[0].Start : rcv_start;
        uint headEnd = keepDsack ? _blks[0].End : rcv_end;
        Span<SackBlock> saved = stackalloc SackBlock[MAX_SACK_BLKS];
        int numSaved = 0;
        for (int i = 0; i < Count; i++)
        {
            uint start = _blks[i].Start, end = _blks[i].End;
            if (TcpSeq.Geq(start, end) || TcpSeq.Leq(start, rcv_nxt))
            {
                continue; // stale: empty, or now cumulatively acknowledged
            }

            if (TcpSeq.Leq(headStart, end) && TcpSeq.Geq(headEnd, start))
            {
                if (headStart == end)
                {
                    headStart = start; // adjacent on the left: merge
                }
                else if (headEnd == start)
                {
                    headEnd = end; // adjacent on the right: merge
                }
                else
                {
                    // Overlap: the head keeps the overlapping (duplicate) part, the union is saved (RFC 2883).
                    if (TcpSeq.Lt(headStart, start))
                    {
                        (start, headStart) = (headStart, start);
                    }

                    if (TcpSeq.Gt(headEnd, end))
                    {
                        (end, headEnd) = (headEnd, end);
                    }

                    if (headStart != start || headEnd != end)
                    {
                        numSaved = Save(saved, numSaved, start, end);
                    }
                }
            }
            else
            {
                numSaved = Save(saved, numSaved, start, end);
            }
        }

        int numHead = 0;
        if (TcpSeq.Lt(rcv_start, rcv_end))
        {
            _blks[0] = new SackBlock(headStart, headEnd);
            numHead = 1;
            if (numSaved >= MAX_SACK_BLKS)
            {
                numSaved--;
            }
        }
        else if (keepDsack)
        {
            numHead = 1;
            numSaved = Math.Min(numSaved, MAX_SACK_BLKS - 1);
        }

        saved[..numSaved].CopyTo(_blks.AsSpan(numHead));
        Count = numHead + numSaved;
    }

    /// <summary>
    /// tcp_update_dsack_list: [rcv_start, rcv_end) arrived again. Report it first as a D-SACK block (RFC 2883 §4):
    /// the whole range when it lies below rcv_nxt, else its overlap with the blocks held; then the block it
    /// duplicated (if still above rcv_nxt), then the other blocks.
    /// </summary>
    public void UpdateDsack(uint rcv_nxt, uint rcv_start, uint rcv_end)
    {
        if (!TcpSeq.Lt(rcv_start, rcv_end))
        {
            return;
        }

        Span<SackBlock> saved = stackalloc SackBlock[MAX_SACK_BLKS];
        saved[0] = TcpSeq.Lt(rcv_end, rcv_nxt) || (rcv_end == rcv_nxt && Count > 0 && _blks[0].End == rcv_nxt)
            ? new SackBlock(rcv_start, rcv_end) : default;
        uint headStart = 0, headEnd = 0;
        uint midStart = rcv_start, midEnd = rcv_end;
        bool identical = false;
        for (int i = 0; i < Count; i++)
        {
            uint start = _blks[i].Start, end = _blks[i].End;
            if (TcpSeq.Lt(rcv_end, start) || TcpSeq.Gt(rcv_start, end))
            {
                continue; // no contact
            }

            if (TcpSeq.Gt(rcv_nxt, end))
            {
                // A block already acknowledged: only the overlap can be a D-SACK.
                uint lo = TcpSeq.Max(rcv_start, start), hi = TcpSeq.Min(rcv_end, end);
                if (lo != hi && (TcpSeq.Gt(headStart, lo) || headStart == headEnd))
                {
                    (headStart, headEnd) = (lo, hi);
                }

                continue;
            }

            if ((headStart == headEnd || TcpSeq.Lt(start, headStart)) && TcpSeq.Gt(end, rcv_start) && TcpSeq.Leq(start, rcv_end))
            {
                (headStart, headEnd) = (start, end);
            }

            midStart = TcpSeq.Min(midStart, start);
            midEnd = TcpSeq.Max(midEnd, end);
            identical |= midStart == start && midEnd == end;
        }

        if (TcpSeq.Lt(headStart, headEnd))
        {
            saved[0] = new SackBlock(TcpSeq.Max(rcv_start, headStart), TcpSeq.Min(rcv_end, headEnd));
        }

        int n = 1;
        if ((TcpSeq.Lt(rcv_nxt, midEnd) && !(midStart == saved[0].Start && midEnd == saved[0].End)) || identical)
        {
            saved[n++] = new SackBlock(midStart, midEnd);
        }

        for (int j = 0; j < Count && n < MAX_SACK_BLKS; j++)
        {
            SackBlock b = _blks[j];
            if ((TcpSeq.Lt(b.End, midStart) || TcpSeq.Gt(b.Start, midEnd)) && TcpSeq.Gt(b.Start, rcv_nxt))
            {
                saved[n++] = b;
            }
        }

        int k = 0;
        for (int i = 0; i < n; i++)
        {
            if (!saved[i].IsEmpty)
            {
                _blks[k++] = saved[i];
            }
        }

        Count = k;
    }

    /// <summary>tcp_clean_dsack_blocks: drops D-SACK blocks (and anything else at or below rcv_nxt) once sent.</summary>
    public void CleanDsack(uint rcv_nxt)
    {
        int k = 0;
        for (int i = 0; i < Count; i++)
        {
            SackBlock b = _blks[i];
            if (TcpSeq.Lt(b.Start, b.End) && TcpSeq.Gt(b.Start, rcv_nxt))
            {
                _blks[k++] = b;
            }
        }

        Count = k;
    }

    /// <summary>A saved block supersedes the one saved just before it when it contains it.</summary>
    private static int Save(Span<SackBlock> saved, int numSaved, uint start, uint end)
    {
        if (numSaved >= 1 && TcpSeq.Geq(saved[numSaved - 1].Start, start) && TcpSeq.Leq(saved[numSaved - 1].End, end))
        {
            numSaved--;
        }

        if (numSaved < saved.Length)
        {
            saved[numSaved++] = new SackBlock(start, end);
        }

        return numSaved;
    }
}
