using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;

namespace Vimage.Bench.Net;

/// <summary>
/// The Vimage side of the tcp mode: vnets <c>vtcp-a</c> (192.0.2.1/24 and 192.0.2.3/24) and <c>vtcp-b</c>
/// (192.0.2.2/24) joined by one epair; <c>TcpSocket</c>'s blocking calls. Without VIMAGE both are vnet0 (lo0).
/// </summary>
internal sealed class TcpVimage : TcpSide
{
    private const int Timeout = 10_000; // ms: every blocking call fails instead of hanging the bench
    private static readonly InAddr AddrB = InAddr.Parse("192.0.2.2");
    private static readonly InAddr[] Clients = [InAddr.Parse("192.0.2.1"), InAddr.Parse(SecondClient)];
    private readonly Vnet _va;
    private readonly Vnet _vb;
    private readonly Ifnet _a;
    private readonly Ifnet _b;

    /// <summary>
    /// Vnets <c>vtcp-a{suffix}</c> and <c>vtcp-b{suffix}</c> (a fresh pair has no TIME_WAIT left from an earlier row),
    /// with net.inet.tcp.tso = <paramref name="tso"/> in both.
    /// </summary>
    public TcpVimage(string suffix = "", int tso = 1)
    {
        (_va, _vb) = VnetPair.Create("vtcp-a" + suffix, "vtcp-b" + suffix);
        (_a, _b) = VnetPair.Epair(_va, _vb, a =>
        {
            InAddrs.Add(a, Clients[0], 24);
            InAddrs.Add(a, Clients[1], 24);
        }, b => InAddrs.Add(b, AddrB, 24));

        // The same ephemeral range and accept queue as the Linux side (ip_local_port_range, somaxconn).
        Sysctl.Set("net.inet.ip.portrange.first", "10000", _va);
        Sysctl.Set("net.inet.ip.portrange.last", "65535", _va);
        Sysctl.Set("kern.ipc.soacceptqueue", "4096");
        Sysctl.Set("net.inet.tcp.tso", tso.ToString(System.Globalization.CultureInfo.InvariantCulture), _va);
        Sysctl.Set("net.inet.tcp.tso", tso.ToString(System.Globalization.CultureInfo.InvariantCulture), _vb);
        Description = _va != _vb
            ? $"{_a.Name} 192.0.2.1/24 + 192.0.2.3/24 in vnet {_va.Name} <-> {_b.Name} 192.0.2.2/24 in vnet {_vb.Name}; TcpSocket, cc {Sysctl.Get("net.inet.tcp.cc.algorithm", _va)}, " +
              $"sendspace/recvspace {Sysctl.Get("net.inet.tcp.sendspace", _va)}/{Sysctl.Get("net.inet.tcp.recvspace", _va)} (autotuned), MTU {_a.Mtu}, net.inet.tcp.tso {tso}"
            : $"{_a.Name} and {_b.Name} both in vnet0 (non-VIMAGE build: traffic goes through lo0)";
    }

    public override string Name => "vimage";

    public override string Description { get; }

    public override string MemoryParts => "GC.GetTotalMemory(true) after a full GC: every TcpSocket, Socket, InPcb, tcpcb, sockbuf and pooled mbuf (mbufs are pinned managed arrays)";

    public override IBenchSocket Listen(ushort port, int backlog)
    {
        TcpSocket s = TcpSocket.Create(_vb);
        s.ReuseAddress = true;
        s.Bind(InAddr.Any, port);
        s.Listen(backlog);
        return new Sock(s);
    }

    public override IBenchSocket Connect(ushort port, int client = 0)
    {
        TcpSocket s = TcpSocket.Create(_va);
        try
        {
            if (client != 0)
            {
                s.Bind(Clients[client], 0);
            }

            s.Connect(AddrB, port, Timeout);
            return new Sock(s);
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    public override T OnClient<T>(Func<T> body) => TcpMeasure.OnThread("vimage client", body);

    public override (long Bytes, string Parts) Memory()
    {
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        return (heap, $"managed heap {heap:N0} B (mbufs out of the pool: {MbufPool.Clusters.Outstanding:N0} clusters, {MbufPool.Jumbo.Outstanding:N0} jumbo)");
    }

    public override (long A, long B) TimeWait()
    {
        static long Count(Vnet v) => Tcp.PcbList(v).Count(x => x.State == TcpState.TCPS_TIME_WAIT);
        return _va == _vb ? (Count(_va), 0) : (Count(_va), Count(_vb));
    }

    public override (long Sent, long Retransmitted) Segments()
        => (Tcp.Fetch(_va, TcpStat.tcps_sndpack), Tcp.Fetch(_va, TcpStat.tcps_sndrexmitpack));

    /// <summary>netstat -s -p tcp of A and of B (every TcpStat, "A." / "B." prefixed) and both epair ends' counters.</summary>
    public override IReadOnlyDictionary<string, long> Counters()
    {
        var c = new Dictionary<string, long>();
        foreach (TcpStat f in Enum.GetValues<TcpStat>())
        {
            c["A." + f] = Tcp.Fetch(_va, f);
            c["B." + f] = _va == _vb ? 0 : Tcp.Fetch(_vb, f);
        }

        foreach (IfCounter f in Enum.GetValues<IfCounter>())
        {
            c["A." + f] = _a.Counter(f);
            c["B." + f] = _b.Counter(f);
        }

        return c;
    }

    /// <summary>Each established connection's tcpcb and socket buffers (VIMAGE_TCP_DEBUG, diagnosis only).</summary>
    public override string Connections()
    {
        var sb = new System.Text.StringBuilder();
        foreach (Vnet v in _va == _vb ? [_va] : new[] { _va, _vb })
        {
            InPcb[] pcbs;
            using (Curvnet.Set(v))
            {
                pcbs = Tcp.TcbInfo.Snapshot();
            }

            foreach (InPcb inp in pcbs)
            {
                if (inp.Ppcb is Tcpcb tp && tp.t_state == TcpState.TCPS_ESTABLISHED)
                {
                    sb.Append($"\n    {v.Name} {inp.Ends}: cwnd {tp.snd_cwnd} ssthresh {tp.snd_ssthresh} snd_wnd {tp.snd_wnd} rcv_wnd {tp.rcv_wnd} " +
                        $"flight {tp.snd_max - tp.snd_una} nxt-una {tp.snd_nxt - tp.snd_una} srtt {tp.t_srtt}us rxtcur {tp.t_rxtcur}us dupacks {tp.t_dupacks_} flags {tp.t_flags} " +
                        $"snd cc/hiwat/mbcnt {inp.Socket.Snd.Cc}/{inp.Socket.Snd.Hiwat}/{inp.Socket.Snd.MbCnt} rcv {inp.Socket.Rcv.Cc}/{inp.Socket.Rcv.Hiwat}/{inp.Socket.Rcv.MbCnt} segq {tp.t_segq.Count} outq {tp.t_outq.Count}");
                }
            }
        }

        foreach (Ifnet ifp in new[] { _a, _b })
        {
            if (ifp.Driver is Vimage.Net.Iflib.IflibContext ctx)
            {
                sb.Append($"\n    {ifp.Name}: rx rings in use {string.Join(",", ctx.RxQueues.Select(q => q.Ring.InUse))}, tx mp_ring stalls {string.Join(",", ctx.TxQueues.Select(q => q.Ring.Stalls))}");
            }
        }

        return sb.ToString();
    }

    public override void Dispose()
    {
        if (!_a.IsDetached && _va.State == VnetState.Live)
        {
            using (Curvnet.Set(_va))
            {
                Ifnets.Destroy(_a.Name);
            }
        }

        VnetPair.Destroy(_va, _vb);
    }

    private sealed class Sock(TcpSocket s) : IBenchSocket
    {
        public int Send(ReadOnlySpan<byte> data) => s.Send(data, Timeout);

        public int Receive(Span<byte> buffer) => s.Receive(buffer, Timeout);

        public IBenchSocket Accept() => new Sock(s.Accept(Timeout));

        public void SetNoDelay() => s.NoDelay = true;

        public void Dispose() => s.Dispose();
    }
}
