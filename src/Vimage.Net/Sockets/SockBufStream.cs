namespace Vimage.Net.Sockets;

/// <summary>
/// The stream half of struct sockbuf (uipc_sockbuf.c): a byte stream kept in the pooled mbufs it arrived in (receive)
/// or was copied into (send), linked by <see cref="Mbuf.NextPacket"/>. <see cref="AppendStream"/> is sbappendstream
/// (small pieces are copied into the last buffer's free tail, sbcompress), <see cref="AppendCopy"/> copies user data
/// into pooled clusters, <see cref="Drop"/> is sbdrop (acknowledged or consumed bytes leave the front) and
/// <see cref="CopyOut"/> is m_copydata at an offset with FreeBSD's sb_sndptr cursor, so a transmission never walks the
/// buffer from its head. The owning socket's lock protects all of it.
/// </summary>
public sealed partial class SockBuf
{
    /// <summary>Pieces up to this size are copied into the previous buffer's free tail instead of holding a cluster each.</summary>
    private const int CompressBelow = 512;

    /// <summary>SB_AUTOSIZE: the protocol may grow the buffer (cleared when the user sets SO_SNDBUF / SO_RCVBUF).</summary>
    public bool AutoSize { get; internal set; } = true;

    /// <summary>sbspace: bytes (and buffer storage) left before hiwat / mbmax.</summary>
    public int Space => (int)Math.Max(0, Math.Min(Hiwat - Cc, MbMax - MbCnt));

    /// <summary>sbappendstream: <paramref name="m"/>'s data goes at the end of the stream; the buffer is taken (or freed once copied).</summary>
    internal void AppendStream(Mbuf m)
    {
        int n = m.Length;
        if (n == 0)
        {
            m.Free();
            return;
        }

        m.NextPacket = null;
        if (_tail is { } tail && n <= CompressBelow && tail.TrailingSpace >= n)
        {
            m.Data.CopyTo(tail.Append(n));
            Cc += n;
            m.Free();
            return;
        }

        Link(m);
        Cc += n;
    }

    /// <summary>
    /// sosend's copy into the send buffer: up to <paramref name="data"/>.Length bytes into the last buffer's free tail,
    /// then fresh pooled clusters (no headroom). Returns the bytes taken (fewer when the zone is exhausted).
    /// </summary>
    internal int AppendCopy(ReadOnlySpan<byte> data)
    {
        int done = 0;
        if (_tail is { } tail && tail.TrailingSpace > 0)
        {
            int n = Math.Min(tail.TrailingSpace, data.Length);
            data[..n].CopyTo(tail.Append(n));
            done = n;
        }

        while (done < data.Length)
        {
            Mbuf? m = MbufPool.Clusters.Get();
            if (m is null)
            {
                break;
            }

            m.Reset(0);
            int n = Math.Min(m.TrailingSpace, data.Length - done);
            data.Slice(done, n).CopyTo(m.Append(n));
            done += n;
            Link(m);
        }

        Cc += done;
        return done;
    }

    /// <summary>sbdrop: <paramref name="n"/> bytes leave the front of the stream (acknowledged, or read); emptied buffers are freed.</summary>
    internal void Drop(int n)
    {
        n = Math.Min(n, Cc);
        int total = n;
        Cc -= n;
        while (n > 0 && _head is { } m)
        {
            if (m.Length > n)
            {
                m.Adjust(n);
                break;
            }

            n -= m.Length;
            if (_cursor == m)
            {
                _cursor = null;
            }

            _head = m.NextPacket;
            if (_head is null)
            {
                _tail = null;
            }

            MbCnt -= m.Capacity;
            m.NextPacket = null;
            m.Free();
        }

        // The cursor's buffer started _cursorOffset bytes in; everything moved down by what was dropped.
        _cursorOffset = _cursor is null ? 0 : Math.Max(0, _cursorOffset - total);
    }

    /// <summary>
    /// m_copydata: copies <paramref name="dst"/>.Length bytes starting <paramref name="offset"/> bytes into the stream
    /// (the caller checked they exist). Starts from the cursor the previous copy left when it lies at or before
    /// <paramref name="offset"/> (sb_sndptr), else from the head.
    /// </summary>
    internal void CopyOut(int offset, Span<byte> dst)
    {
        Mbuf? m = _head;
        int start = 0;
        if (_cursor is not null && _cursorOffset <= offset)
        {
            m = _cursor;
            start = _cursorOffset;
        }

        while (m is not null && start + m.Length <= offset)
        {
            start += m.Length;
            m = m.NextPacket;
        }

        int done = 0;
        while (m is not null && done < dst.Length)
        {
            int skip = offset + done - start;
            int n = Math.Min(m.Length - skip, dst.Length - done);
            m.Data.Slice(skip, n).CopyTo(dst[done..]);
            done += n;
            if (skip + n == m.Length)
            {
                _cursor = m;
                _cursorOffset = start;
                start += m.Length;
                m = m.NextPacket;
            }
            else
            {
                _cursor = m;
                _cursorOffset = start;
            }
        }
    }

    /// <summary>soreceive_stream's copy: up to <paramref name="dst"/>.Length bytes from the front, consumed. Returns the count.</summary>
    internal int Read(Span<byte> dst)
    {
        int n = Math.Min(dst.Length, Cc);
        if (n > 0)
        {
            CopyOut(0, dst[..n]);
            Drop(n);
        }

        return n;
    }

    private void Link(Mbuf m)
    {
        if (_tail is null)
        {
            _head = m;
        }
        else
        {
            _tail.NextPacket = m;
        }

        _tail = m;
        MbCnt += m.Capacity;
    }
}
