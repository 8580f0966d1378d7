using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using Vimage.Core;

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
    IReadOnlyList<InAddr>? RecordedRoute = null);

/// <summary>
/// A raw ICMP socket with what ping(8) needs (socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) in the vnet it was opened
/// in): echo requests with an identifier unique among open ping sockets and a timestamp at the start of the data
/// (8 bytes, when the data has room), optional TTL and Record Route; replies are matched by identifier, and ICMP
/// errors quoting one of our requests are delivered too. Each call enters the socket's vnet, whatever the
/// caller's current vnet. Received replies wait in a bounded queue (<see cref="QueueLimit"/>; the excess is counted
/// in <see cref="Dropped"/>, like a full socket buffer).
/// </summary>
public sealed class PingSocket : IDisposable
{
    /// <summary>Replies kept for <see cref="TryReceive"/> before new ones are dropped.</summary>
    public const int QueueLimit = 1024;

    /// <summary>Data bytes holding the send timestamp (ping(8)'s struct tv32 has the same size).</summary>
    public const int TimestampLength = 8;

    /// <summary>MAX_IPOPTLEN: ping -R reserves the whole option space for Record Route (9 addresses).</summary>
    private const int RecordRouteSpace = 40;

    private static readonly HashSet<ushort> IdsInUse = [];
    private static int s_nextId = Random.Shared.Next(1, 0xffff);
    private static int s_ipId = Random.Shared.Next(0, 0xffff);

    private readonly IcmpHandler _handler;
    private readonly ConcurrentQueue<PingReply> _replies = new();
    private readonly SemaphoreSlim _available = new(0);
    private long _dropped;
    private int _disposed;

    private PingSocket(Vnet vnet, ushort id)
    {
        Vnet = vnet;
        Identifier = id;
        _handler = OnIcmp;
    }

    /// <summary>The vnet the socket lives in.</summary>
    public Vnet Vnet { get; }

    /// <summary>icmp_id of our requests (ping(8) uses its pid).</summary>
    public ushort Identifier { get; }

    /// <summary>Replies dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Opens a ping socket in <paramref name="vnet"/>.</summary>
    public static PingSocket Open(Vnet vnet)
    {
        ArgumentNullException.ThrowIfNull(vnet);
        ushort id = AllocateId();
        var socket = new PingSocket(vnet, id);
        try
        {
            using (Curvnet.Set(vnet))
            {
                IcmpListeners.Add(socket._handler);
            }
        }
        catch
        {
            ReleaseId(id);
            throw;
        }

        vnet.AddSocket();
        return socket;
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

        int hlen = IpHeader.MinLength + (recordRoute ? RecordRouteSpace : 0);
        int icmpLength = Icmp.HeaderLength + payloadSize;
        if (hlen + icmpLength > IpHeader.MaxPacket)
        {
            return Errno.EMSGSIZE;
        }

        if (!Vnet.TryEnter())
        {
            return Errno.ENETDOWN;
        }

        try
        {
            using (Curvnet.Set(Vnet))
            {
                return recordRoute ? SendWithOptions(dst, sequence, icmpLength, ttl) : SendPlain(dst, sequence, icmpLength, ttl);
            }
        }
        finally
        {
            Vnet.Exit();
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> (Timeout.Infinite: forever) for the next reply.</summary>
    public bool TryReceive(int timeoutMs, out PingReply reply)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_available.Wait(timeoutMs) && _replies.TryDequeue(out reply))
        {
            return true;
        }

        reply = default;
        return false;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (Vnet.TryEnter())
        {
            try
            {
                using (Curvnet.Set(Vnet))
                {
                    IcmpListeners.Remove(_handler);
                }
            }
            finally
            {
                Vnet.Exit();
            }
        }

        Vnet.RemoveSocket();
        ReleaseId(Identifier);
        while (_replies.TryDequeue(out _))
        {
        }
    }

    /// <summary>A plain request goes through ip_output like any datagram (id, source selection, fragmentation).</summary>
    private int SendPlain(InAddr dst, ushort sequence, int icmpLength, byte ttl)
    {
        Mbuf? m = MbufPool.GetFor(IpHeader.MinLength + icmpLength);
        if (m is null)
        {
            return Errno.ENOBUFS;
        }

        WriteEcho(m.Append(icmpLength), sequence);
        return IpOutput.Send(m, InAddr.Any, dst, IpProto.Icmp, new IpOutputOptions(Ttl: ttl, AllowBroadcast: true));
    }

    /// <summary>
    /// With Record Route the header carries options, which IpOutput.Send does not build: route lookup and source
    /// selection are done here, then the finished packet goes to IpOutput.Transmit (which fragments as needed).
    /// </summary>
    private int SendWithOptions(InAddr dst, ushort sequence, int icmpLength, byte ttl)
    {
        Rtentry? route = Routes.Lookup(dst);
        if (route is null)
        {
            Ip.Stat(IpStat.ips_noroute);
            return Errno.ENETUNREACH;
        }

        if (route.IsBlackhole)
        {
            return 0;
        }

        if (route.IsReject)
        {
            return Errno.EHOSTUNREACH;
        }

        Ifnet ifp = route.Interface;
        InAddr src = InAddrs.SourceFor(ifp, dst);
        if (src.IsAny)
        {
            src = InAddrs.All.FirstOrDefault()?.Address ?? InAddr.Any;
        }

        int hlen = IpHeader.MinLength + RecordRouteSpace;
        int total = hlen + icmpLength;
        Mbuf? m = MbufPool.GetFor(total);
        if (m is null)
        {
            return Errno.ENOBUFS;
        }

        if (m.LeadingSpace < Mbuf.MaxLinkHdr)
        {
            m.Free();
            return Errno.ENOBUFS;
        }

        Span<byte> packet = m.Append(total);
        ushort id = (ushort)Interlocked.Increment(ref s_ipId);
        IpHeader.Write(packet, total, id, 0, ttl != 0 ? ttl : (byte)Ip.DefaultTtl, IpProto.Icmp, src, dst);
        packet[0] = (byte)(0x40 | (hlen >> 2));
        Span<byte> options = packet[IpHeader.MinLength..hlen];
        options.Clear();
        options[0] = IpOptions.OptRecordRoute;
        options[1] = RecordRouteSpace - 1; // 39: 3 bytes + 9 addresses, then EOL
        options[2] = 4;                   // IPOPT_MINOFF: the first free slot
        new IpHeader(packet).UpdateChecksum();
        WriteEcho(packet[hlen..], sequence);
        Ip.Stat(IpStat.ips_localout);
        return IpOutput.Transmit(m, ifp, route.NextHop(dst), InAddrs.IsBroadcast(dst));
    }

    private void WriteEcho(Span<byte> icmp, ushort sequence)
    {
        icmp[0] = IcmpType.Echo;
        icmp[1] = 0;
        icmp[2] = 0;
        icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[4..], Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], sequence);
        Span<byte> data = icmp[Icmp.HeaderLength..];
        int start = 0;
        if (data.Length >= TimestampLength)
        {
            BinaryPrimitives.WriteInt64BigEndian(data, Stopwatch.GetTimestamp());
            start = TimestampLength;
        }

        for (int i = start; i < data.Length; i++)
        {
            data[i] = (byte)i; // ping(8)'s fill pattern
        }

        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Checksum.Compute(icmp));
    }

    /// <summary>The listener: runs in the socket's vnet on the receiving thread; takes only what is ours.</summary>
    private bool OnIcmp(Mbuf m, int hlen)
    {
        ReadOnlySpan<byte> packet = m.Data;
        if (hlen < IpHeader.MinLength || packet.Length < hlen + Icmp.HeaderLength)
        {
            return false;
        }

        ReadOnlySpan<byte> icmp = packet[hlen..];
        byte type = icmp[0];
        PingReply reply;
        if (type == IcmpType.EchoReply)
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]) != Identifier)
            {
                return false;
            }

            ushort sequence = BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]);
            reply = new PingReply(PingReplyKind.EchoReply, InAddr.Read(packet[12..]), sequence, packet[8], icmp.Length,
                RttFrom(icmp[Icmp.HeaderLength..]), type, icmp[1], RecordedRoute(packet[IpHeader.MinLength..hlen]));
        }
        else if (IcmpType.IsError(type))
        {
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

            ushort sequence = BinaryPrimitives.ReadUInt16BigEndian(request[6..]);
            reply = new PingReply(PingReplyKind.Error, InAddr.Read(packet[12..]), sequence, packet[8], icmp.Length,
                RttFrom(request[Icmp.HeaderLength..]), type, icmp[1]);
        }
        else
        {
            return false;
        }

        m.Free();
        if (_replies.Count >= QueueLimit || Volatile.Read(ref _disposed) != 0)
        {
            Interlocked.Increment(ref _dropped);
            return true;
        }

        _replies.Enqueue(reply);
        _available.Release();
        return true;
    }

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
