using System.Runtime.CompilerServices;

namespace Vimage.Net;

/// <summary>
/// A packet buffer (struct mbuf with its cluster): one contiguous byte array with headroom in front, so
/// headers can be prepended without copying. Buffers come from <see cref="MbufPool"/> and go back with
/// <see cref="Free"/>; in steady state nothing is allocated per packet.
/// </summary>
public sealed class Mbuf
{
    /// <summary>Headroom left in front of received or built data (max_linkhdr + room for IP options).</summary>
    public const int Headroom = 128;

    /// <summary>max_linkhdr: the largest link-layer header any interface prepends (Ethernet's 14 bytes).</summary>
    public const int MaxLinkHdr = 14;

    private readonly byte[] _buffer;
    private int _state; // 0 = free (in the pool), 1 = owned

    internal Mbuf(int capacity, MbufPool pool)
    {
        _buffer = GC.AllocateUninitializedArray<byte>(capacity, pinned: true);
        Pool = pool;
    }

    internal MbufPool Pool { get; }

    /// <summary>The vnet share this buffer is charged to (<see cref="MbufShare"/>); null when uncharged.</summary>
    internal MbufAccount? Account { get; set; }

    /// <summary>Bytes the buffer can hold in all.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>Where the data starts in the buffer.</summary>
    public int Offset { get; private set; }

    /// <summary>m_len (and m_pkthdr.len: one buffer holds the whole packet).</summary>
    public int Length { get; private set; }

    /// <summary>The packet's bytes.</summary>
    public Span<byte> Data
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _buffer.AsSpan(Offset, Length);
    }

    /// <summary>m_pkthdr.rcvif: the interface it arrived on.</summary>
    public object? ReceiveInterface { get; set; }

    /// <summary>
    /// M_GETFIB / M_SETFIB: the routing table of the packet: the socket's on output, the receiving interface's on
    /// input (ether_input); a looped packet keeps its sender's.
    /// </summary>
    public int Fib { get; set; }

    /// <summary>m_pkthdr.flowid, valid when <see cref="HasFlowId"/>.</summary>
    public uint FlowId { get; set; }

    /// <summary>M_HASHTYPE_GET(m) != M_HASHTYPE_NONE.</summary>
    public bool HasFlowId { get; set; }

    /// <summary>M_BCAST / M_MCAST and friends.</summary>
    public MbufFlags Flags { get; set; }

    /// <summary>m_pkthdr.csum_flags: offload requests on output, what was verified on input.</summary>
    public CsumFlags CsumFlags { get; set; }

    /// <summary>m_pkthdr.csum_data: on output, the offset of the checksum field from the transport header.</summary>
    public int CsumData { get; set; }

    /// <summary>m_pkthdr.tso_segsz: the payload of each segment a CSUM_TSO packet is cut into.</summary>
    public int TsoSegsz { get; set; }

    /// <summary>m_nextpkt: links packets in a batch or queue.</summary>
    public Mbuf? NextPacket { get; set; }

    /// <summary>A socket buffer record's source address (the MT_SONAME mbuf sbappendaddr puts in front).</summary>
    public Sockaddr Name { get; set; }

    /// <summary>Bytes free in front of the data.</summary>
    public int LeadingSpace => Offset;

    /// <summary>Bytes free after the data.</summary>
    public int TrailingSpace => _buffer.Length - Offset - Length;

    /// <summary>Starts an empty packet with <paramref name="headroom"/> bytes free in front.</summary>
    public void Reset(int headroom = Headroom)
    {
        Offset = Math.Min(headroom, _buffer.Length);
        Length = 0;
        ReceiveInterface = null;
        Fib = 0;
        FlowId = 0;
        HasFlowId = false;
        Flags = MbufFlags.None;
        CsumFlags = CsumFlags.None;
        CsumData = 0;
        TsoSegsz = 0;
        NextPacket = null;
    }

    /// <summary>Copies <paramref name="bytes"/> in as the whole packet. False if it does not fit.</summary>
    public bool SetData(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _buffer.Length - Offset)
        {
            return false;
        }

        bytes.CopyTo(_buffer.AsSpan(Offset));
        Length = bytes.Length;
        return true;
    }

    /// <summary>Grows the data at the end by <paramref name="count"/> bytes and returns them (m_append).</summary>
    public Span<byte> Append(int count)
    {
        if (count < 0 || count > TrailingSpace)
        {
            throw new InvalidOperationException($"mbuf: cannot append {count} bytes ({TrailingSpace} free at the end)");
        }

        Span<byte> tail = _buffer.AsSpan(Offset + Length, count);
        Length += count;
        return tail;
    }

    /// <summary>M_PREPEND: grows the data at the front and returns the new header bytes.</summary>
    public Span<byte> Prepend(int count)
    {
        if (count < 0 || count > Offset)
        {
            throw new InvalidOperationException($"mbuf: cannot prepend {count} bytes ({Offset} free in front)");
        }

        Offset -= count;
        Length += count;
        return _buffer.AsSpan(Offset, count);
    }

    /// <summary>m_adj: trims <paramref name="count"/> bytes from the front (positive) or the end (negative).</summary>
    public void Adjust(int count)
    {
        int n = (int)Math.Min(Math.Abs((long)count), Length);
        if (count >= 0)
        {
            Offset += n;
        }

        Length -= n;
    }

    /// <summary>Cuts the packet to <paramref name="length"/> bytes (drops trailing padding).</summary>
    public void Truncate(int length)
    {
        if (length < Length && length >= 0)
        {
            Length = length;
        }
    }

    /// <summary>m_freem: back to the pool. Freeing twice is a bug and throws.</summary>
    public void Free()
    {
        if (Interlocked.Exchange(ref _state, 0) != 1)
        {
            throw new InvalidOperationException("mbuf freed twice");
        }

        ReceiveInterface = null;
        NextPacket = null;
        Pool.Return(this);
    }

    /// <summary>Frees a chain linked by <see cref="NextPacket"/> (m_freem on a packet list).</summary>
    public static void FreeChain(Mbuf? head)
    {
        while (head is not null)
        {
            Mbuf? next = head.NextPacket;
            head.Free();
            head = next;
        }
    }

    internal void MarkOwned() => Volatile.Write(ref _state, 1);
}

[Flags]
public enum MbufFlags
{
    None = 0,

    /// <summary>M_BCAST: sent or received as link-level broadcast.</summary>
    Broadcast = 1,

    /// <summary>M_MCAST: link-level multicast.</summary>
    Multicast = 2,

    /// <summary>M_LOOP: looped back locally.</summary>
    Loop = 4,
}
