using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp.Cc;

namespace Vimage.Net.Tcp;

#pragma warning disable CA1707, IDE1006, SA1307, SA1310 // FreeBSD's tcpcb field and flag names (netinet/tcp_var.h).

/// <summary>t_flags (netinet/tcp_var.h), FreeBSD's values.</summary>
[Flags]
public enum TcpCbFlags : uint
{
    None = 0,
    TF_ACKNOW = 0x00000001,
    TF_DELACK = 0x00000002,
    TF_NODELAY = 0x00000004,
    TF_NOOPT = 0x00000008,
    TF_SENTFIN = 0x00000010,
    TF_REQ_SCALE = 0x00000020,
    TF_RCVD_SCALE = 0x00000040,
    TF_REQ_TSTMP = 0x00000080,
    TF_RCVD_TSTMP = 0x00000100,
    TF_SACK_PERMIT = 0x00000200,
    TF_NEEDSYN = 0x00000400,
    TF_NEEDFIN = 0x00000800,
    TF_NOPUSH = 0x00001000,
    TF_PREVVALID = 0x00002000,
    TF_MORETOCOME = 0x00010000,
    TF_LASTIDLE = 0x00040000,
    TF_RXWIN0SENT = 0x00080000,
    TF_FASTRECOVERY = 0x00100000,
    TF_WASFRECOVERY = 0x00200000,
    TF_FORCEDATA = 0x00800000,

    /// <summary>TF_TSO: the route's interface segments for us (tcp_mss saw CSUM_TSO in its if_hwassist).</summary>
    TF_TSO = 0x01000000,
    TF_CLOSED = 0x04000000,
    TF_CONGRECOVERY = 0x20000000,
    TF_WASCRECOVERY = 0x40000000,
}

/// <summary>The tcpcb's timers (tt_which in tcp_timer.h): one callout per connection fires the earliest.</summary>
public enum TcpTimerKind
{
    TT_DELACK = 0,
    TT_REXMT = 1,
    TT_PERSIST = 2,
    TT_KEEP = 3,
    TT_2MSL = 4,

    /// <summary>
    /// A full interface queue (ENOBUFS) left nothing in flight whose ACK would clock the backed-out data out again:
    /// tcp_output runs again after a millisecond, as FreeBSD's RACK stack retries ENOBUFS from its pacing timer.
    /// </summary>
    TT_ENOBUFS = 5,
}

/// <summary>
/// struct tcpcb (netinet/tcp_var.h): one TCP connection's state with FreeBSD's field names. Times are microseconds of
/// <see cref="NetTimers.NowUs"/> (FreeBSD keeps ticks); sequence numbers are raw 32-bit values compared with
/// <see cref="TcpSeq"/>. Every field is read and written under <see cref="Lock"/> (INP_WLOCK): input segments, user
/// calls and timers for one connection serialize on it. It is also what congestion-control modules see
/// (<see cref="ICcConnection"/>).
/// </summary>
public sealed class Tcpcb : ICcConnection
{
    /// <summary>TCP_MAXRXTSHIFT.</summary>
    public const int TCP_MAXRXTSHIFT = 12;

    /// <summary>TCPTV_REXMTMAX: 64 s.</summary>
    public const long TCPTV_REXMTMAX = 64_000_000;

    internal const int TimerCount = 6;

    /// <summary>tcp_backoff[] (tcp_timer.c).</summary>
    internal static readonly int[] Backoff = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512, 512];

    /// <summary>tcp_syn_backoff[] (tcp_timer.c): SYNs back off more gently at first.</summary>
    internal static readonly int[] SynBackoff = [1, 1, 1, 1, 1, 2, 4, 8, 16, 32, 64, 64, 64];

    internal Tcpcb(InPcb inp, Vnet vnet)
    {
        Inp = inp;
        Vnet = vnet;
        t_ccv = new CcVar(this);
        t_callout = new TcpCallout(this);
        for (int i = 0; i < TimerCount; i++)
        {
            t_timers[i] = 0;
        }
    }

    /// <summary>INP_WLOCK.</summary>
    internal readonly Lock Lock = new();

    /// <summary>t_inpcb.</summary>
    public InPcb Inp { get; }

    public Vnet Vnet { get; }

    /// <summary>The socket (so); after close it stays referenced with SS_NOFDREF set, as the inpcb outlives it.</summary>
    public Socket So => Inp.Socket;

    public TcpState t_state;
    public TcpCbFlags t_flags;
    public TcpCbFlags2 t_flags2;

    public uint snd_una;
    public uint snd_nxt;
    public uint snd_max;
    public uint snd_up;
    public uint snd_wl1;
    public uint snd_wl2;
    public uint iss;
    public uint snd_wnd;
    public uint max_sndwnd;
    public uint rcv_nxt;
    public uint rcv_adv;
    public uint rcv_wnd;
    public uint rcv_up;
    public uint irs;
    public uint last_ack_sent;

    /// <summary>
    /// The highest ACK number and window edge ip_output accepted (written by the output drainer without the lock,
    /// read under it; irs until then): an ACK or window update a full interface queue refused is sent again only
    /// while no later segment has carried as much.
    /// </summary>
    internal uint t_ackout;
    internal uint t_advout;

    public uint _snd_cwnd;
    public uint _snd_ssthresh;
    public uint _snd_recover;

    /// <summary>t_maxseg: the peer's MSS limited by ours (options every segment carries are subtracted when sending).</summary>
    public int maxseg;

    /// <summary>t_tsomax: the largest TSO packet (IP header included) the route's interface takes (if_hw_tsomax).</summary>
    public int t_tsomax;

    public byte snd_scale_;
    public byte rcv_scale;
    public byte request_r_scale;
    public byte requested_s_scale;

    public uint ts_recent;
    public long ts_recent_age;
    public uint ts_offset;

    /// <summary>t_rcvtime: when the last segment arrived (keepalive, idle restart).</summary>
    public long t_rcvtime;

    /// <summary>t_rtttime: when the timed segment went (0: none timed, Karn).</summary>
    public long t_rtttime;

    /// <summary>t_rtseq: the sequence number being timed.</summary>
    public uint t_rtseq;

    /// <summary>t_srtt, µs (0: no sample yet).</summary>
    public long t_srtt;

    /// <summary>t_rttvar, µs.</summary>
    public long t_rttvar;

    /// <summary>t_rxtcur: the current retransmit timeout, µs.</summary>
    public long t_rxtcur;

    /// <summary>t_rttmin: net.inet.tcp.rexmit_min, µs.</summary>
    public long t_rttmin;

    /// <summary>The smallest RTT seen, µs.</summary>
    public long t_rttlow;

    public uint t_rttupdated_;
    public int t_rxtshift_;
    public int t_dupacks_;
    public uint t_bytes_acked_;
    public int t_softerror;

    /// <summary>RFC 5961 §7 challenge-ACK limit (tcp_send_challenge_ack): window start and count.</summary>
    public long t_challenge_ack_end;
    public int t_challenge_ack_cnt;

    /// <summary>t_badrxtwin: until then an ACK of the first retransmission shows it was spurious.</summary>
    public long t_badrxtwin;

    /// <summary>rfbuf_ts / rfbuf_cnt: receive-buffer autotuning's measurement (start, bytes in order since).</summary>
    public long rfbuf_ts;
    public int rfbuf_cnt;

    public readonly CcVar t_ccv;

    /// <summary>t_timers[]: when each timer expires, µs (0: off).</summary>
    internal readonly long[] t_timers = new long[TimerCount];

    internal readonly TcpCallout t_callout;

    /// <summary>Segments built under the lock, waiting for ip_output (sent in order by one thread).</summary>
    internal readonly TcpOutQueue t_outq = new();

    /// <summary>sackblks / rcv_numsacks: the SACK blocks we report while data is queued out of order (RFC 2018 §4).</summary>
    internal readonly SackReport t_sackreport = new();

    /// <summary>snd_holes, snd_fack and sackhint: the sender's SACK scoreboard (tcp_sack.c), used in SACK recovery.</summary>
    internal readonly SackScoreboard snd_holes = new();

    /// <summary>
    /// sackhint.recover_fs, prr_delivered, prr_out: Proportional Rate Reduction's state for one recovery episode
    /// (RFC 6937; FreeBSD's tcp_do_prr_ack): the flight size when it began, bytes the peer got since, bytes we sent since.
    /// </summary>
    internal uint sackhint_recover_fs;
    internal int sackhint_prr_delivered;
    internal int sackhint_prr_out;

    /// <summary>t_segq: the reassembly queue (RFC 9293 §3.10.7.4).</summary>
    internal readonly TcpReassQueue t_segq = new();

    /// <summary>The listening connection this one came from until accept (debugging, netstat -L).</summary>
    internal bool t_orphan;

    public uint snd_cwnd { get => _snd_cwnd; set => _snd_cwnd = value; }

    public uint snd_ssthresh { get => _snd_ssthresh; set => _snd_ssthresh = value; }

    uint ICcConnection.snd_una => snd_una;

    uint ICcConnection.snd_nxt => snd_nxt;

    uint ICcConnection.snd_max => snd_max;

    public uint snd_recover { get => _snd_recover; set => _snd_recover = value; }

    uint ICcConnection.snd_wnd => snd_wnd;

    public int snd_scale => snd_scale_;

    /// <summary>tcp_maxseg: the MSS less the options every segment carries (timestamps: 12 bytes).</summary>
    public int t_maxseg => maxseg - ((t_flags & (TcpCbFlags.TF_REQ_TSTMP | TcpCbFlags.TF_RCVD_TSTMP)) == (TcpCbFlags.TF_REQ_TSTMP | TcpCbFlags.TF_RCVD_TSTMP) ? 12 : 0);

    public int t_rxtshift => t_rxtshift_;

    public int t_dupacks => t_dupacks_;

    public uint t_bytes_acked { get => t_bytes_acked_; set => t_bytes_acked_ = value; }

    public long t_srtt_us => t_srtt;

    public long t_rttmin_us => t_rttlow;

    public uint t_rttupdated => t_rttupdated_;

    public bool InFastRecovery
    {
        get => (t_flags & TcpCbFlags.TF_FASTRECOVERY) != 0;
        set => t_flags = value ? t_flags | TcpCbFlags.TF_FASTRECOVERY : t_flags & ~TcpCbFlags.TF_FASTRECOVERY;
    }

    public bool InCongRecovery
    {
        get => (t_flags & TcpCbFlags.TF_CONGRECOVERY) != 0;
        set => t_flags = value ? t_flags | TcpCbFlags.TF_CONGRECOVERY : t_flags & ~TcpCbFlags.TF_CONGRECOVERY;
    }

    public bool SackPermitted => (t_flags & TcpCbFlags.TF_SACK_PERMIT) != 0;

    public uint Pipe => snd_max - snd_una;

    public long NowUs => NetTimers.NowUs;

    /// <summary>Whether a timer is running (tcp_timer_active).</summary>
    public bool TimerActive(TcpTimerKind which) => t_timers[(int)which] != 0;

    public override string ToString()
    {
        PcbEnds e = Inp.Ends;
        return $"tcp {e.Local}:{e.LocalPort} {e.Foreign}:{e.ForeignPort} {TcpFsm.Name(t_state)}";
    }
}
