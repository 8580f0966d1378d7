namespace Vimage.Net.Sockets;

/// <summary>
/// struct sockbuf (uipc_sockbuf.c): a socket's send or receive buffer. Records are mbufs linked by
/// <see cref="Mbuf.NextPacket"/> (m_nextpkt), each holding one datagram's data with its sender in
/// <see cref="Mbuf.Name"/>. Accounting follows sbappendaddr: <see cref="Cc"/> charges data plus a sockaddr per
/// record against <see cref="Hiwat"/> (SO_RCVBUF / SO_SNDBUF), <see cref="MbCnt"/> charges buffer storage against
/// <see cref="MbMax"/> (hiwat × kern.ipc.sockbuf_waste_factor). The owning <see cref="Socket"/> locks it.
/// </summary>
public sealed partial class SockBuf
{
    /// <summary>kern.ipc.sockbuf_waste_factor (sb_efficiency).</summary>
    public const int SbEfficiency = 8;

    /// <summary>kern.ipc.maxsockbuf: the largest SO_SNDBUF / SO_RCVBUF.</summary>
    public const int MaxSockBuf = 2 * 1024 * 1024;

    /// <summary>sizeof(struct sockaddr_in): what a record's address costs (sbappendaddr's MT_SONAME mbuf).</summary>
    public const int SockaddrLength = 16;

    private Mbuf? _head;
    private Mbuf? _tail;

    // sb_sndptr / sb_sndptroff: where the last stream copy-out ended, so (re)transmission does not walk from the head.
    private Mbuf? _cursor;
    private int _cursorOffset;

    /// <summary>sb_hiwat.</summary>
    public int Hiwat { get; internal set; }

    /// <summary>sb_lowat: bytes a receive waits for (stream sockets; a datagram is always one record).</summary>
    public int Lowat { get; internal set; } = 1;

    /// <summary>sb_mbmax.</summary>
    public long MbMax => (long)Hiwat * SbEfficiency;

    /// <summary>sb_ccc: data plus record addresses.</summary>
    public int Cc { get; private set; }

    /// <summary>sb_ctl: the record addresses' share of <see cref="Cc"/>.</summary>
    public int Ctl { get; private set; }

    /// <summary>sb_mbcnt: buffer storage held.</summary>
    public int MbCnt { get; private set; }

    /// <summary>sbavail: data bytes (FIONREAD).</summary>
    public int Available => Cc - Ctl;

    /// <summary>Records queued.</summary>
    public int Records { get; private set; }

    public bool IsEmpty => _head is null;

    /// <summary>A record is queued (read without the socket lock: a hint for spinning, rechecked under it).</summary>
    internal bool HasData => Volatile.Read(ref _head) is not null;

    /// <summary>sbspace for one more record of <paramref name="m"/>: false when it would pass hiwat or mbmax.</summary>
    internal bool HasSpaceFor(Mbuf m, int nameLength)
        => Cc + m.Length + nameLength <= Hiwat && MbCnt + m.Capacity <= MbMax;

    /// <summary>sbappendaddr_locked's append: <paramref name="m"/> becomes the last record.</summary>
    internal void AppendRecord(Mbuf m, int nameLength)
    {
        m.NextPacket = null;
        if (_tail is null)
        {
            _head = m;
        }
        else
        {
            _tail.NextPacket = m;
        }

        _tail = m;
        Records++;
        Cc += m.Length + nameLength;
        Ctl += nameLength;
        MbCnt += m.Capacity;
    }

    /// <summary>The first record, unlinked and uncharged (soreceive_dgram's take), or null.</summary>
    internal Mbuf? TakeRecord(int nameLength)
    {
        Mbuf? m = _head;
        if (m is null)
        {
            return null;
        }

        _head = m.NextPacket;
        if (_head is null)
        {
            _tail = null;
        }

        m.NextPacket = null;
        Records--;
        Cc -= m.Length + nameLength;
        Ctl -= nameLength;
        MbCnt -= m.Capacity;
        return m;
    }

    /// <summary>sbflush: every record, unlinked (the caller frees the chain).</summary>
    internal Mbuf? TakeAll()
    {
        Mbuf? all = _head;
        _head = _tail = null;
        _cursor = null;
        _cursorOffset = 0;
        Records = Cc = Ctl = MbCnt = 0;
        return all;
    }
}
