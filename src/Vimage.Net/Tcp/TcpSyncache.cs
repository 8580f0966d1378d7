using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;

namespace Vimage.Net.Tcp;

/// <summary>One half-open connection (struct syncache): the SYN's 4-tuple and options, our ISS, retransmit state.</summary>
internal sealed class SyncacheEntry
{
    public InAddr Foreign;
    public ushort ForeignPort;
    public InAddr Local;
    public ushort LocalPort;
    public uint Irs;
    public uint Iss;
    public uint TsRecent;
    public uint TsOffset;
    public ushort PeerMss;

    /// <summary>SCF_ECN: the SYN asked for ECN and we accepted.</summary>
    public bool Ecn;
    public byte RequestedSScale;
    public byte RequestRScale;
    public TcpCbFlags Flags;
    public long RxtTime;
    public int Rxmits;
    public byte Ttl;

    /// <summary>sc_inc.inc_fibnum: the listener's so_fibnum (tcp_input sets inc_fibnum from it).</summary>
    public int Fib;
    public byte Tos;

    /// <summary>sc_wnd: the window offered, from the listener's receive buffer.</summary>
    public uint Wnd;
    public SyncacheEntry? Next;
}

/// <summary>
/// The syncache (netinet/tcp_syncache.c): a listener's half-open connections live here, not as sockets, until the
/// handshake's ACK. A hash of <see cref="HashSize"/> buckets, each at most net.inet.tcp.syncache.bucketlimit entries
/// (a full bucket loses its oldest: tcps_sc_bucketoverflow), at most net.inet.tcp.syncache.cachelimit in all
/// (tcps_sc_cacheoverflow): a SYN flood costs a bounded table, never sockets. SYN-ACKs are retransmitted from the
/// stack's 100 ms tick (rexmit_initial, backed off, at most syncache.rexmtlimit times, then tcps_sc_stale).
/// With net.inet.tcp.syncookies (the default) every SYN-ACK's ISS is a SYN cookie (syncookie_generate), so an ACK whose
/// entry was evicted by a flood still completes the handshake (syncookie_lookup) within a cookie lifetime of the last
/// overflow; net.inet.tcp.syncookies_only keeps no entries at all.
/// </summary>
internal sealed class TcpSyncache
{
    /// <summary>TCP_SYNCACHE_HASHSIZE.</summary>
    public const int HashSize = 512;

    // Every vnet has a syncache, most never see a SYN: the buckets are made by the first insert, until then
    // lookups walk these shared empty ones (never written: only an insert fills a bucket).
    private static readonly SyncacheEntry?[] NoBuckets = new SyncacheEntry?[HashSize];
    private static readonly int[] NoLengths = new int[HashSize];

    private readonly Lock _lock = new();
    private SyncacheEntry?[] _buckets = NoBuckets;
    private int[] _lengths = NoLengths;
    private readonly uint _hashSecret = (uint)Random.Shared.Next();
    private int _count;

    /// <summary>Entries now.</summary>
    public int Count => Volatile.Read(ref _count);

    private long _lastOverflowMs = long.MinValue / 2;

    /// <summary>sch_last_overflow: when an entry last had to be evicted (cookies are honoured for a lifetime after).</summary>
    public long LastOverflowMs => Volatile.Read(ref _lastOverflowMs);

    private int Bucket(InAddr faddr, ushort fport, InAddr laddr, ushort lport)
    {
        uint h = faddr.Value * 2654435761u ^ laddr.Value ^ ((uint)fport << 16 | lport) ^ _hashSecret;
        h ^= h >> 15;
        return (int)(h & (HashSize - 1));
    }

    /// <summary>Finds (and with <paramref name="remove"/> unlinks) the entry of a 4-tuple.</summary>
    public SyncacheEntry? Lookup(InAddr faddr, ushort fport, InAddr laddr, ushort lport, bool remove)
    {
        int b = Bucket(faddr, fport, laddr, lport);
        lock (_lock)
        {
            SyncacheEntry? prev = null;
            for (SyncacheEntry? sc = _buckets[b]; sc is not null; prev = sc, sc = sc.Next)
            {
                if (sc.ForeignPort == fport && sc.LocalPort == lport && sc.Foreign == faddr && sc.Local == laddr)
                {
                    if (remove)
                    {
                        Unlink(b, prev, sc);
                    }

                    return sc;
                }
            }
        }

        return null;
    }

    /// <summary>Inserts <paramref name="sc"/>; makes room first (the bucket's, then the cache's oldest entry goes). False: answered by a cookie instead.</summary>
    public bool Insert(SyncacheEntry sc, int bucketLimit, int cacheLimit)
    {
        int b = Bucket(sc.Foreign, sc.ForeignPort, sc.Local, sc.LocalPort);
        lock (_lock)
        {
            if (ReferenceEquals(_buckets, NoBuckets))
            {
                _buckets = new SyncacheEntry?[HashSize];
                _lengths = new int[HashSize];
            }

            if (_lengths[b] >= bucketLimit)
            {
                Tcp.Stat(TcpStat.tcps_sc_bucketoverflow);
                RemoveOldest(b);
                _lastOverflowMs = NetTimers.NowMs;
            }

            if (_count >= cacheLimit)
            {
                Tcp.Stat(TcpStat.tcps_sc_cacheoverflow);
                RemoveOldest(_lengths[b] > 0 ? b : FirstNonEmpty());
                _lastOverflowMs = NetTimers.NowMs;
            }

            // Newest last: the bucket list is in arrival order, so its head is the oldest.
            sc.Next = null;
            if (_buckets[b] is null)
            {
                _buckets[b] = sc;
            }
            else
            {
                SyncacheEntry tail = _buckets[b]!;
                while (tail.Next is not null)
                {
                    tail = tail.Next;
                }

                tail.Next = sc;
            }

            _lengths[b]++;
            _count++;
            return true;
        }
    }

    /// <summary>syncache_timer over the whole cache: entries due are handed to <paramref name="resend"/> or, past the limit, dropped.</summary>
    public void Timer(long now, int rexmtLimit, Action<SyncacheEntry> resend)
    {
        if (Volatile.Read(ref _count) == 0)
        {
            return;
        }

        lock (_lock)
        {
            for (int b = 0; b < HashSize; b++)
            {
                SyncacheEntry? prev = null;
                SyncacheEntry? sc = _buckets[b];
                while (sc is not null)
                {
                    SyncacheEntry? next = sc.Next;
                    if (sc.RxtTime <= now)
                    {
                        if (sc.Rxmits >= rexmtLimit)
                        {
                            Unlink(b, prev, sc);
                            Tcp.Stat(TcpStat.tcps_sc_stale);
                            sc = next;
                            continue;
                        }

                        sc.Rxmits++;
                        Tcp.Stat(TcpStat.tcps_sc_retransmitted);
                        resend(sc);
                    }

                    prev = sc;
                    sc = next;
                }
            }
        }
    }

    /// <summary>syncache_destroy: everything goes (the vnet is going).</summary>
    public void Destroy()
    {
        lock (_lock)
        {
            _buckets = NoBuckets;
            _lengths = NoLengths;
            _count = 0;
        }
    }

    private int FirstNonEmpty()
    {
        for (int i = 0; i < HashSize; i++)
        {
            if (_lengths[i] > 0)
            {
                return i;
            }
        }

        return -1;
    }

    private void RemoveOldest(int b)
    {
        if (b >= 0 && _buckets[b] is { } oldest)
        {
            Unlink(b, null, oldest);
            Tcp.Stat(TcpStat.tcps_sc_dropped);
        }
    }

    private void Unlink(int b, SyncacheEntry? prev, SyncacheEntry sc)
    {
        if (prev is null)
        {
            _buckets[b] = sc.Next;
        }
        else
        {
            prev.Next = sc.Next;
        }

        sc.Next = null;
        _lengths[b]--;
        _count--;
    }
}

public static partial class Tcp
{
    [Vnet]
    private static TcpSyncache s_tcp_syncache = new();

    private static readonly Action<SyncacheEntry> ResendSynAck = sc => SendSynAck(sc);
    private static int s_syncacheTimerRegistered;

    /// <summary>Half-open connections in <paramref name="vnet"/>'s syncache.</summary>
    public static int SyncacheCount(Vnet vnet) => V_tcp_syncache_In(vnet).Count;

    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_ANY)]
    private static void syncache_init()
    {
        if (Interlocked.Exchange(ref s_syncacheTimerRegistered, 1) == 0)
        {
            NetTimers.RegisterPerVnet(SyncacheTick);
        }
    }

    /// <summary>The per-vnet tick: SYN-ACK retransmissions (tcp_syn_backoff from rexmit_initial).</summary>
    private static void SyncacheTick()
    {
        long now = NetTimers.NowUs;
        V_tcp_syncache.Timer(now, V_tcp_syncache_rexmtlimit, ResendSynAck);
        FlushOutput();
    }

    /// <summary>
    /// syncache_add: a SYN for a listener. A retransmitted SYN (same 4-tuple) gets the SYN-ACK again
    /// (tcps_sc_dupsyn); a new one gets an entry with the options both sides support and a SYN-ACK.
    /// </summary>
    private static void SyncacheAdd(Tcpcb lp, InAddr src, ushort sport, InAddr dst, ushort dport, in TcpHeader th, in TcpOpt to)
    {
        TcpSyncache cache = V_tcp_syncache;
        if (cache.Lookup(src, sport, dst, dport, remove: false) is { } dup)
        {
            Stat(TcpStat.tcps_sc_dupsyn);
            if (dup.Irs == th.Seq)
            {
                SendSynAck(dup);
                return;
            }
        }

        var sc = new SyncacheEntry
        {
            Foreign = src,
            ForeignPort = sport,
            Local = dst,
            LocalPort = dport,
            Irs = th.Seq,
            PeerMss = (to.Flags & TcpOptFlags.TOF_MSS) != 0 ? to.Mss : (ushort)0,
            Ttl = lp.Inp.Ttl,
            Fib = lp.So.Fib,
            Tos = lp.Inp.Tos,
            Wnd = (uint)Math.Max(0, lp.So.ReceiveSpace),
            RxtTime = NetTimers.NowUs + MsToUs(V_tcp_rexmit_initial),
        };
        if (V_tcp_do_rfc1323 != 0 && (to.Flags & TcpOptFlags.TOF_SCALE) != 0)
        {
            sc.Flags |= TcpCbFlags.TF_REQ_SCALE | TcpCbFlags.TF_RCVD_SCALE;
            sc.RequestedSScale = to.WScale;
            sc.RequestRScale = RequestRScale();
        }

        if (V_tcp_do_rfc1323 != 0 && (to.Flags & TcpOptFlags.TOF_TS) != 0)
        {
            sc.Flags |= TcpCbFlags.TF_REQ_TSTMP | TcpCbFlags.TF_RCVD_TSTMP;
            sc.TsRecent = to.TsVal;
            sc.TsOffset = NewIsn(dst, dport, src, sport, 0) ^ 0x5a5a5a5a;
        }

        if (V_tcp_do_sack != 0 && (to.Flags & TcpOptFlags.TOF_SACKPERM) != 0)
        {
            sc.Flags |= TcpCbFlags.TF_SACK_PERMIT;
        }

        sc.Ecn = EcnSyncacheAdd(th.Flags);

        // syncache_add: with cookies on, the ISS is a cookie carrying the peer's MSS, window shift and SACK.
        sc.Iss = TcpSyncookies.Enabled
            ? TcpSyncookies.Generate(dst, dport, src, sport, sc.Irs, sc.PeerMss == 0 ? V_tcp_mssdflt : sc.PeerMss,
                (sc.Flags & TcpCbFlags.TF_RCVD_SCALE) != 0 ? sc.RequestedSScale : -1, (sc.Flags & TcpCbFlags.TF_SACK_PERMIT) != 0)
            : NewIsn(dst, dport, src, sport);
        if (TcpSyncookies.Enabled && TcpSyncookies.Only)
        {
            SendSynAck(sc); // stateless: nothing is kept
            return;
        }

        cache.Insert(sc, V_tcp_syncache_bucketlimit, V_tcp_syncache_cachelimit);
        Stat(TcpStat.tcps_sc_added);
        SendSynAck(sc);
    }

    /// <summary>syncache_respond: the SYN-ACK with MSS, window scale, SACK-permitted and timestamps as negotiated.</summary>
    private static void SendSynAck(SyncacheEntry sc)
    {
        var to = new TcpOpt { Flags = TcpOptFlags.TOF_MSS, Mss = (ushort)Math.Min(MssOpt(sc.Foreign, sc.Fib), 65535) };
        if ((sc.Flags & TcpCbFlags.TF_REQ_SCALE) != 0)
        {
            to.Flags |= TcpOptFlags.TOF_SCALE;
            to.WScale = sc.RequestRScale;
        }

        if ((sc.Flags & TcpCbFlags.TF_SACK_PERMIT) != 0)
        {
            to.Flags |= TcpOptFlags.TOF_SACKPERM;
        }

        if ((sc.Flags & TcpCbFlags.TF_REQ_TSTMP) != 0)
        {
            to.Flags |= TcpOptFlags.TOF_TS;
            to.TsVal = (uint)(NetTimers.NowUs / 1000) + sc.TsOffset;
            to.TsEcr = sc.TsRecent;
        }

        Span<byte> opt = stackalloc byte[TcpHeader.MaxOptionLength];
        int optlen = TcpOptions.Write(in to, opt);
        Mbuf? m = MbufPool.GetFor(TcpHeader.MinLength + optlen);
        if (m is null)
        {
            Stat(TcpStat.tcps_sc_dropped);
            return;
        }

        Span<byte> seg = m.Append(TcpHeader.MinLength + optlen);
        ushort win = (ushort)Math.Min(sc.Wnd, 65535);
        new TcpHeader(sc.LocalPort, sc.ForeignPort, sc.Iss, sc.Irs + 1, TcpHeader.MinLength + optlen, TcpFlags.TH_SYN | TcpFlags.TH_ACK | (sc.Ecn ? TcpFlags.TH_ECE : 0), win, 0).Write(seg);
        opt[..optlen].CopyTo(seg[TcpHeader.MinLength..]);
        TcpHeader.SetChecksum(seg, sc.Local, sc.Foreign);
        sc.RxtTime = NetTimers.NowUs + MsToUs(V_tcp_rexmit_initial) * Tcpcb.SynBackoff[Math.Min(sc.Rxmits, Tcpcb.TCP_MAXRXTSHIFT)];
        Stat(TcpStat.tcps_sndctrl);
        Enqueue(m, sc.Local, sc.Foreign, new IpOutputOptions(Ttl: sc.Ttl, Tos: sc.Tos, DontFragment: V_path_mtu_discovery != 0) { Fib = sc.Fib });
    }

    /// <summary>syncookie_lookup's reconstruction: the entry the cookie stands for (options from the cookie, timestamps from the ACK).</summary>
    private static SyncacheEntry FromCookie(Tcpcb lp, InAddr src, ushort sport, InAddr dst, ushort dport, in TcpHeader th, in TcpOpt to, SyncookieOptions opts)
    {
        var sc = new SyncacheEntry
        {
            Foreign = src,
            ForeignPort = sport,
            Local = dst,
            LocalPort = dport,
            Irs = th.Seq - 1,
            Iss = th.Ack - 1,
            PeerMss = (ushort)opts.Mss,
            Ttl = lp.Inp.Ttl,
            Fib = lp.So.Fib,
            Tos = lp.Inp.Tos,
            Wnd = (uint)Math.Max(0, lp.So.ReceiveSpace),
        };
        if (opts.WScale >= 0 && V_tcp_do_rfc1323 != 0)
        {
            sc.Flags |= TcpCbFlags.TF_REQ_SCALE | TcpCbFlags.TF_RCVD_SCALE;
            sc.RequestedSScale = (byte)opts.WScale;
            sc.RequestRScale = RequestRScale();
        }

        if (opts.SackOk && V_tcp_do_sack != 0)
        {
            sc.Flags |= TcpCbFlags.TF_SACK_PERMIT;
        }

        if ((to.Flags & TcpOptFlags.TOF_TS) != 0 && V_tcp_do_rfc1323 != 0)
        {
            sc.Flags |= TcpCbFlags.TF_REQ_TSTMP | TcpCbFlags.TF_RCVD_TSTMP;
            sc.TsRecent = to.TsVal;
            sc.TsOffset = NewIsn(dst, dport, src, sport, 0) ^ 0x5a5a5a5a;
        }

        return sc;
    }

    /// <summary>syncache_expand's outcome.</summary>
    private enum ExpandResult
    {
        NotFound,
        BadAck,
        SocketFailed,
        Created,
    }

    /// <summary>
    /// syncache_expand + syncache_socket: the handshake's ACK for a listener. The entry must exist and the ACK
    /// acknowledge our SYN (ack = ISS + 1, seq within the window); then sonewconn makes the socket (listen queue
    /// overflow: tcps_listendrop) and a tcpcb in SYN_RECEIVED that the ACK itself moves to ESTABLISHED.
    /// </summary>
    private static ExpandResult SyncacheExpand(Tcpcb lp, InAddr src, ushort sport, InAddr dst, ushort dport, in TcpHeader th, in TcpOpt to, out Tcpcb? ntp)
    {
        ntp = null;
        TcpSyncache cache = V_tcp_syncache;
        SyncacheEntry? sc = cache.Lookup(src, sport, dst, dport, remove: false);
        if (sc is null)
        {
            // syncookie_lookup: no entry (never kept, or evicted by a flood): the ACK may carry our cookie.
            if (!TcpSyncookies.Enabled || (!TcpSyncookies.Only && NetTimers.NowMs - cache.LastOverflowMs > TcpSyncookies.SYNCOOKIE_LIFETIME * 1000L)
                || !TcpSyncookies.TryValidate(dst, dport, src, sport, th.Seq, th.Ack, out SyncookieOptions opts))
            {
                return ExpandResult.NotFound;
            }

            sc = FromCookie(lp, src, sport, dst, dport, th, to, opts);
        }
        else
        {
            if (th.Ack != sc.Iss + 1 || TcpSeq.Leq(th.Seq, sc.Irs) || TcpSeq.Gt(th.Seq, sc.Irs + 1 + sc.Wnd))
            {
                Stat(TcpStat.tcps_sc_badack);
                return ExpandResult.BadAck;
            }

            if (cache.Lookup(src, sport, dst, dport, remove: true) is null)
            {
                return ExpandResult.NotFound; // another thread completed it
            }
        }

        Socket? so = Socket.SoNewConn(lp.So);
        if (so is null)
        {
            Stat(TcpStat.tcps_listendrop);
            Stat(TcpStat.tcps_sc_aborted);
            return ExpandResult.SocketFailed;
        }

        var inp = (InPcb)so.Pcb!;
        var tp = (Tcpcb)inp.Ppcb!;
        if (inp.Info.InsertConnected(inp, dst, dport, src, sport) != 0)
        {
            Stat(TcpStat.tcps_sc_aborted);
            so.Close();
            return ExpandResult.SocketFailed;
        }

        inp.Ttl = lp.Inp.Ttl;
        inp.Tos = lp.Inp.Tos;
        tp.t_flags = (tp.t_flags & ~(TcpCbFlags.TF_REQ_SCALE | TcpCbFlags.TF_REQ_TSTMP)) | sc.Flags | (lp.t_flags & TcpCbFlags.TF_NODELAY);
        tp.t_state = TcpState.TCPS_SYN_RECEIVED;
        EcnSyncacheSocket(tp, sc.Ecn);
        tp.iss = sc.Iss;
        tp.irs = sc.Irs;
        tp.t_ackout = tp.t_advout = sc.Irs;
        tp.snd_una = tp.snd_up = sc.Iss;
        tp.snd_nxt = tp.snd_max = sc.Iss + 1;
        tp.snd_recover = sc.Iss + 1;
        tp.rcv_nxt = tp.last_ack_sent = sc.Irs + 1;
        tp.rcv_adv = tp.rcv_nxt + Math.Min(sc.Wnd, 65535);
        tp.snd_wl1 = sc.Irs;
        if ((sc.Flags & TcpCbFlags.TF_RCVD_SCALE) != 0)
        {
            tp.snd_scale_ = sc.RequestedSScale;
            tp.rcv_scale = sc.RequestRScale;
            tp.request_r_scale = sc.RequestRScale;
        }

        if ((sc.Flags & TcpCbFlags.TF_RCVD_TSTMP) != 0)
        {
            tp.ts_recent = sc.TsRecent;
            tp.ts_recent_age = NetTimers.NowUs / 1000;
            tp.ts_offset = sc.TsOffset;
        }

        Mss(tp, sc.PeerMss);
        MssSockbufs(tp);
        tp.t_rcvtime = NetTimers.NowUs;
        TimerActivate(tp, TcpTimerKind.TT_KEEP, MsToUs(V_tcp_keepinit));
        Stat(TcpStat.tcps_accepts);
        Stat(TcpStat.tcps_sc_completed);
        ntp = tp;
        return ExpandResult.Created;
    }
}
