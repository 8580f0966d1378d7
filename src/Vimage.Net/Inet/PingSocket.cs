using System.Buffers.Binary;
using System.Diagnostics;
using Vimage.Core;
using Vimage.Net.Sockets;

namespace Vimage.Net.Inet;

/// <summary>What came back for a <see cref="PingSocket"/>.</summary>
public enum PingReplyKind
{
    /// <summary>ICMP echo reply carrying our identifier.</summary>
    EchoReply,

    /// <summary>An ICMP error (unreachable, time exceeded, parameter problem, redirect) quoting one of our echo requests.</summary>
    Error,
}

/// <summary>
/// One reply as ping(8) prints it: "64 bytes from 192.0.2.2: icmp_seq=0 ttl=64 time=0.1 ms". <see cref="Bytes"/>
/// is the ICMP length (header + data). For errors, <see cref="Sequence"/> and <see cref="Rtt"/> come from the
/// quoted request, <see cref="From"/> is the router or host that sent the error. <see cref="RecordedRoute"/> holds
/// the addresses of a Record Route option in the reply, if it carried one.
/// </summary>
public readonly record struct PingReply(
    PingReplyKind Kind,
    InAddr From,
    ushort Sequence,
    byte Ttl,
    int Bytes,
    TimeSpan Rtt,
    byte IcmpType,
    byte IcmpCode,
    IReadOnlyList<InAddr>? RecordedRoute = null)
{
    /// <summary>The reply's IP options as received (pr_pack prints them), or null when it had none.</summary>
    public byte[]? IpOptions { get; init; }

    /// <summary>Mask reply (ping -M m): icmp_mask.</summary>
    public InAddr Mask { get; init; }

    /// <summary>Timestamp reply (ping -M t): icmp_otime, icmp_rtime, icmp_ttime (ms since midnight).</summary>
    public uint OriginateTime { get; init; }

    /// <inheritdoc cref="OriginateTime"/>
    public uint ReceiveTime { get; init; }

    /// <inheritdoc cref="OriginateTime"/>
    public uint TransmitTime { get; init; }
}

/// <summary>
/// What ping(8) does with its socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), in the vnet it was opened in: echo requests
/// with an identifier unique among open ping sockets and a timestamp at the start of the data (8 bytes, when the
/// data has room), optional TTL and Record Route (the request then carries its own header, IP_HDRINCL). The raw
/// socket receives every echo reply and ICMP error of the vnet (rip_input); <see cref="TryReceive"/> reads them and
/// keeps replies with our identifier and errors quoting one of our requests, as ping(8) does. Each call enters the
/// socket's vnet, whatever the caller's current vnet. Both buffers are IP_MAXPACKET + 128 bytes (ping(8)'s
/// SO_SNDBUF / SO_RCVBUF); what does not fit is dropped and counted in <see cref="Dropped"/>.
/// </summary>
public sealed class PingSocket : IDisposable
{
    /// <summary>Data bytes holding the send timestamp (ping(8)'s struct tv32 has the same size).</summary>
    public const int TimestampLength = 8;

    /// <summary>ping(8)'s socket buffer size: IP_MAXPACKET + 128.</summary>
    public const int BufferSize = IpHeader.MaxPacket + 128;

    /// <summary>MAX_IPOPTLEN: ping -R reserves the whole option space for Record Route (9 addresses).</summary>
    private const int RecordRouteSpace = 40;

    private static readonly HashSet<ushort> IdsInUse = [];
    private static int s_nextId = Random.Shared.Next(1, 0xffff);

    private readonly Socket _so;
    private readonly object _sendLock = new();
    private readonly byte[] _send = new byte[IpHeader.MaxPacket];
    private readonly byte[] _receive = new byte[IpHeader.MaxPacket];
    private readonly object _receiveLock = new();
    private int _ttl = -1;
    private int _tos;
    private bool _headerIncluded;
    private byte[] _pattern = [];
    private InAddr _source = InAddr.Any;
    private int _disposed;
    private byte _requestType = IcmpType.Echo;

    private PingSocket(Socket so, ushort id)
    {
        _so = so;
        Identifier = id;
    }

    /// <summary>The vnet the socket lives in.</summary>
    public Vnet Vnet => _so.Vnet;

    /// <summary>icmp_id of our requests (ping(8) uses its pid).</summary>
    public ushort Identifier { get; }

    /// <summary>Replies (ours or not) dropped because the receive buffer was full.</summary>
    public long Dropped => _so.ReceiveDrops;

    /// <summary>
    /// ping -M: the request sent (ICMP_ECHO, ICMP_TSTAMP or ICMP_MASKREQ); the reply of the matching type is ours.
    /// Timestamp and mask requests carry their fields (12 and 4 bytes, ping.c's phdr_len) before the data.
    /// </summary>
    public byte RequestType
    {
        get => _requestType;
        set => _requestType = value is IcmpType.Echo or IcmpType.Timestamp or IcmpType.MaskRequest
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "ping sends echo, timestamp or mask requests");
    }

    /// <summary>Bytes between the ICMP header and the data for <see cref="RequestType"/> (ping.c's phdr_len).</summary>
    public int RequestFieldsLength => _requestType switch
    {
        IcmpType.Timestamp => Icmp.TimestampLength - Icmp.HeaderLength,
        IcmpType.MaskRequest => Icmp.MaskLength - Icmp.HeaderLength,
        _ => 0,
    };

    /// <summary>ping -z: the type of service of the requests (IP_TOS).</summary>
    public byte Tos { get; set; }

    /// <summary>ping -D: set IP_DF on the requests (they then carry their own header, IP_HDRINCL, as in ping.c).</summary>
    public bool DontFragment { get; set; }

    /// <summary>ping -p: up to 16 bytes repeated over the data after the timestamp (ping.c's fill()).</summary>
    public ReadOnlySpan<byte> Pattern
    {
        get => _pattern;
        set => _pattern = value.Length <= 16 ? value.ToArray() : throw new ArgumentException("a ping pattern is at most 16 bytes", nameof(value));
    }

    /// <summary>ping -S: bind(2) the socket to a local address; throws <see cref="NetSocketException"/> (EADDRNOTAVAIL) otherwise.</summary>
    public void Bind(InAddr source)
    {
        _so.Bind(source.ToSockaddr());
        _source = source;
    }

    /// <summary>Opens a ping socket in <paramref name="vnet"/>.</summary>
    public static PingSocket Open(Vnet vnet)
    {
        ArgumentNullException.ThrowIfNull(vnet);
        ushort id = AllocateId();
        try
        {
            Socket so = Socket.Create(vnet, SaFamily.AF_INET, SockType.SOCK_RAW, IpProto.Icmp, nameof(PingSocket));
            so.SetOption(SoOption.SO_SNDBUF, BufferSize);
            so.SetOption(SoOption.SO_RCVBUF, BufferSize);
            so.SetOption(SoOption.SO_BROADCAST, 1); // ping 192.0.2.255 is allowed, as for root
            return new PingSocket(so, id);
        }
        catch
        {
            ReleaseId(id);
            throw;
        }
    }

    /// <summary>
    /// Sends one echo request of <paramref name="payloadSize"/> data bytes to <paramref name="dst"/> (ping -s), with
    /// <paramref name="ttl"/> (0: net.inet.ip.ttl; ping -m) and optionally a Record Route option (ping -R). Returns
    /// 0 or an errno: ENETUNREACH (no route), EHOSTUNREACH (reject route), EHOSTDOWN (ARP gave up), EMSGSIZE (too
    /// big for an IP datagram), EINVAL (negative size), ENOBUFS, ENETDOWN (interface down, or the vnet is gone).
    /// </summary>
    public int Send(InAddr dst, ushort sequence, int payloadSize = 56, byte ttl = 0, bool recordRoute = false)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (payloadSize < 0)
        {
            return Errno.EINVAL;
        }

        bool headerIncluded = recordRoute || DontFragment;
        int hlen = recordRoute ? IpHeader.MinLength + RecordRouteSpace : headerIncluded ? IpHeader.MinLength : 0;
        int icmpLength = Icmp.HeaderLength + RequestFieldsLength + payloadSize;
        if (Math.Max(hlen, IpHeader.MinLength) + icmpLength > IpHeader.MaxPacket)
        {
            return Errno.EMSGSIZE;
        }

        lock (_sendLock)
        {
            try
            {
                if (ttl != _ttl)
                {
                    _so.ProtocolOption(InOptions.IPPROTO_IP, InOptions.IP_TTL, set: true, ttl);
                    _ttl = ttl;
                }

                if (Tos != _tos)
                {
                    _so.ProtocolOption(InOptions.IPPROTO_IP, InOptions.IP_TOS, set: true, Tos);
                    _tos = Tos;
                }

                if (headerIncluded != _headerIncluded)
                {
                    _so.ProtocolOption(InOptions.IPPROTO_IP, InOptions.IP_HDRINCL, set: true, headerIncluded ? 1 : 0);
                    _headerIncluded = headerIncluded;
                }

                Span<byte> packet = _send.AsSpan(0, hlen + icmpLength);
                if (headerIncluded)
                {
                    WriteHeader(packet, hlen, dst, ttl != 0 ? ttl : DefaultTtl(), recordRoute);
                }

                WriteEcho(packet[hlen..], sequence);
                _so.SendTo(packet, dst.ToSockaddr());
                return 0;
            }
            catch (NetSocketException e)
            {
                return e.Errno;
            }
            catch (ObjectDisposedException) when (Volatile.Read(ref _disposed) == 0)
            {
                return Errno.ENETDOWN; // the vnet is going away
            }
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> (Timeout.Infinite: forever) for the next reply of ours.</summary>
    public bool TryReceive(int timeoutMs, out PingReply reply)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        long deadline = timeoutMs > 0 ? Environment.TickCount64 + timeoutMs : 0;
        lock (_receiveLock)
        {
            while (true)
            {
                int wait = timeoutMs > 0 ? (int)Math.Max(0, deadline - Environment.TickCount64) : timeoutMs;
                SocketReceiveResult r;
                try
                {
                    r = _so.Receive(_receive, wait);
                }
                catch (NetSocketException e) when (e.Errno == NetSocketException.EAGAIN)
                {
                    reply = default;
                    return false;
                }
                catch (ObjectDisposedException) when (Volatile.Read(ref _disposed) == 0)
                {
                    reply = default;
                    return false; // the vnet was destroyed: nothing will come
                }

                if (TryParse(_receive.AsSpan(0, r.BytesReceived), out reply))
                {
                    return true;
                }
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _so.Close();
        ReleaseId(Identifier);
    }

    /// <summary>net.inet.ip.ttl of the socket's vnet (ENETDOWN-worthy ObjectDisposedException when it is gone).</summary>
    private byte DefaultTtl()
    {
        if (!Vnet.TryEnter())
        {
            throw new ObjectDisposedException(nameof(PingSocket), $"socket closed: {Vnet} is shutting down or destroyed");
        }

        try
        {
            using (Curvnet.Set(Vnet))
            {
                return (byte)Ip.DefaultTtl;
            }
        }
        finally
        {
            Vnet.Exit();
        }
    }

    /// <summary>
    /// ping -R / -D: the request's own IP header (TOS, DF, the bound source) with, for -R, a Record Route option;
    /// rip_output fills in id, a zero source and the checksum.
    /// </summary>
    private void WriteHeader(Span<byte> packet, int hlen, InAddr dst, byte ttl, bool recordRoute)
    {
        IpHeader.Write(packet, packet.Length, 0, DontFragment ? (ushort)0x4000 : (ushort)0, ttl, IpProto.Icmp, _source, dst, Tos);
        if (!recordRoute)
        {
            return;
        }

        packet[0] = (byte)(0x40 | (hlen >> 2));
        Span<byte> options = packet[IpHeader.MinLength..hlen];
        options.Clear();
        options[0] = IpOptions.OptRecordRoute;
        options[1] = RecordRouteSpace - 1; // 39: 3 bytes + 9 addresses, then EOL
        options[2] = 4;                   // IPOPT_MINOFF: the first free slot
    }

    private void WriteEcho(Span<byte> icmp, ushort sequence)
    {
        icmp[0] = _requestType;
        icmp[1] = 0;
        icmp[2] = 0;
        icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], sequence);
        int fields = RequestFieldsLength;
        icmp.Slice(Icmp.HeaderLength, fields).Clear();
        if (_requestType == IcmpType.Timestamp)
        {
            // pinger(): icmp_otime from CLOCK_MONOTONIC, seconds modulo a day, in ms.
            long ms = Environment.TickCount64;
            BinaryPrimitives.WriteUInt32BigEndian(icmp[8..], (uint)(ms / 1000 % 86400 * 1000 + ms % 1000));
        }

        Span<byte> data = icmp[(Icmp.HeaderLength + fields)..];
        int start = 0;
        if (data.Length >= TimestampLength)
        {
            BinaryPrimitives.WriteInt64BigEndian(data, Stopwatch.GetTimestamp());
            start = TimestampLength;
        }

        for (int i = start; i < data.Length; i++)
        {
            // ping(8)'s default fill is the offset; -p repeats the user's bytes from the end of the timestamp.
            data[i] = _pattern.Length == 0 ? (byte)i : _pattern[(i - start) % _pattern.Length];
        }

        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
    }

    /// <summary>pr_pack: an echo reply with our identifier, or an error quoting one of our requests.</summary>
    private bool TryParse(ReadOnlySpan<byte> packet, out PingReply reply)
    {
        reply = default;
        int hlen = packet.Length >= IpHeader.MinLength ? (packet[0] & 0x0f) * 4 : 0;
        if (hlen < IpHeader.MinLength || packet.Length < hlen + Icmp.HeaderLength)
        {
            return false;
        }

        ReadOnlySpan<byte> icmp = packet[hlen..];
        byte type = icmp[0];
        if (type == ReplyType)
        {
            int fields = RequestFieldsLength;
            if (BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]) != Identifier || icmp.Length < Icmp.HeaderLength + fields)
            {
                return false;
            }

            ushort sequence = BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]);
            ReadOnlySpan<byte> options = packet[IpHeader.MinLength..hlen];
            reply = new PingReply(PingReplyKind.EchoReply, InAddr.Read(packet[12..]), sequence, packet[8], icmp.Length,
                RttFrom(icmp[(Icmp.HeaderLength + fields)..]), type, icmp[1], RecordedRoute(options))
            {
                IpOptions = options.IsEmpty ? null : options.ToArray(),
                Mask = fields == 4 ? InAddr.Read(icmp[8..]) : default,
                OriginateTime = fields == 12 ? BinaryPrimitives.ReadUInt32BigEndian(icmp[8..]) : 0,
                ReceiveTime = fields == 12 ? BinaryPrimitives.ReadUInt32BigEndian(icmp[12..]) : 0,
                TransmitTime = fields == 12 ? BinaryPrimitives.ReadUInt32BigEndian(icmp[16..]) : 0,
            };
            return true;
        }

        if (!IcmpType.IsError(type))
        {
            return false;
        }

        // The quote: the request's IP header (options included) and at least its 8-byte ICMP header.
        ReadOnlySpan<byte> quote = icmp[Icmp.HeaderLength..];
        if (quote.Length < IpHeader.MinLength || quote[0] >> 4 != 4)
        {
            return false;
        }

        int qhlen = (quote[0] & 0x0f) * 4;
        if (qhlen < IpHeader.MinLength || quote.Length < qhlen + Icmp.HeaderLength || quote[9] != IpProto.Icmp)
        {
            return false;
        }

        ReadOnlySpan<byte> request = quote[qhlen..];
        if (request[0] != IcmpType.Echo || BinaryPrimitives.ReadUInt16BigEndian(request[4..]) != Identifier)
        {
            return false;
        }

        reply = new PingReply(PingReplyKind.Error, InAddr.Read(packet[12..]), BinaryPrimitives.ReadUInt16BigEndian(request[6..]),
            packet[8], icmp.Length, RttFrom(request[Icmp.HeaderLength..]), type, icmp[1]);
        return true;
    }

    /// <summary>ping.c's icmp_type_rsp: the reply type that answers <see cref="RequestType"/>.</summary>
    private byte ReplyType => _requestType switch
    {
        IcmpType.Timestamp => IcmpType.TimestampReply,
        IcmpType.MaskRequest => IcmpType.MaskReply,
        _ => IcmpType.EchoReply,
    };

    private static TimeSpan RttFrom(ReadOnlySpan<byte> data)
    {
        if (data.Length < TimestampLength)
        {
            return TimeSpan.Zero;
        }

        long sent = BinaryPrimitives.ReadInt64BigEndian(data);
        long now = Stopwatch.GetTimestamp();
        return sent <= 0 || sent > now ? TimeSpan.Zero : Stopwatch.GetElapsedTime(sent, now);
    }

    /// <summary>The addresses recorded in a Record Route option, or null when there is none.</summary>
    private static InAddr[]? RecordedRoute(ReadOnlySpan<byte> options)
    {
        for (int i = 0; i < options.Length;)
        {
            byte type = options[i];
            if (type == IpOptions.EndOfList)
            {
                return null;
            }

            if (type == IpOptions.NoOp)
            {
                i++;
                continue;
            }

            if (i + 1 >= options.Length || options[i + 1] < 2 || options[i + 1] > options.Length - i)
            {
                return null;
            }

            int length = options[i + 1];
            if (type == IpOptions.OptRecordRoute && length >= 3)
            {
                int usedEnd = Math.Min(options[i + 2] - 1, length); // the pointer is 1-based: the first slot is at 4
                var route = new List<InAddr>();
                for (int at = 3; at + 4 <= usedEnd; at += 4)
                {
                    route.Add(InAddr.Read(options[(i + at)..]));
                }

                return [.. route];
            }

            i += length;
        }

        return null;
    }

    private static ushort AllocateId()
    {
        lock (IdsInUse)
        {
            if (IdsInUse.Count >= 0xffff)
            {
                throw new InvalidOperationException("ping: no free ICMP identifier (65535 ping sockets open)");
            }

            while (true)
            {
                ushort id = (ushort)s_nextId;
                s_nextId = s_nextId >= 0xffff ? 1 : s_nextId + 1;
                if (id != 0 && IdsInUse.Add(id))
                {
                    return id;
                }
            }
        }
    }

    private static void ReleaseId(ushort id)
    {
        lock (IdsInUse)
        {
            IdsInUse.Remove(id);
        }
    }
}
