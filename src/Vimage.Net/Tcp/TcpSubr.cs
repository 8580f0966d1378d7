using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp.Cc;

namespace Vimage.Net.Tcp;

/// <summary>
/// tcp_subr.c and tcp_input.c's helpers: V_tcbinfo, tcp_newtcpcb, tcp_close, tcp_drop, tcp_twstart,
/// tcp_usrclosed, the RTT estimator (tcp_xmit_timer) and the congestion-control wrappers (cc_conn_init,
/// cc_ack_received, cc_cong_signal, cc_post_recovery, cc_after_idle) that call the connection's mod_cc module.
/// </summary>
public static partial class Tcp
{
    /// <summary>V_tcbinfo: every TCP PCB of the vnet, with the 4-tuple hash input looks connections up in.</summary>
    [Vnet]
    private static InPcbInfo s_tcbinfo = new(exactHash: true);

    /// <summary>The current vnet's TCP PCB table.</summary>
    internal static InPcbInfo TcbInfo => V_tcbinfo;

    /// <summary>TCP PCBs (connections, listeners, TIME_WAIT) in <paramref name="vnet"/>.</summary>
    public static int PcbCount(Vnet vnet) => V_tcbinfo_In(vnet).Count;

    /// <summary>tcp_newtcpcb: a CLOSED connection with FreeBSD's initial timers, windows and congestion control.</summary>
    internal static Tcpcb NewTcpcb(InPcb inp)
    {
        var tp = new Tcpcb(inp, Curvnet.Current!)
        {
            t_state = TcpState.TCPS_CLOSED,
            maxseg = V_tcp_mssdflt,
            t_rxtcur = MsToUs(V_tcp_rexmit_initial),
            t_rttmin = MsToUs(V_tcp_rexmit_min),
            _snd_cwnd = CcModules.TCP_MAXWIN << Tcp.MaxWinShift,
            _snd_ssthresh = CcModules.TCP_MAXWIN << Tcp.MaxWinShift,
            t_rcvtime = NetTimers.NowUs,
        };
        if (V_tcp_do_rfc1323 != 0)
        {
            tp.t_flags |= TcpCbFlags.TF_REQ_SCALE | TcpCbFlags.TF_REQ_TSTMP;
        }

        tp.t_ccv.Algo = CcModules.Default; // net.inet.tcp.cc.algorithm of the vnet (CUBIC unless changed)
        if (tp.t_ccv.Algo.cb_init(tp.t_ccv) != 0)
        {
            tp.t_ccv.Algo = NewReno.Instance;
        }
        inp.Ppcb = tp;
        return tp;
    }

    /// <summary>TCP_MAX_WINSHIFT.</summary>
    internal const int MaxWinShift = 14;

    /// <summary>The window shift that lets the largest receive buffer (kern.ipc.maxsockbuf) be advertised (tcp_connect, syncache_add).</summary>
    internal static byte RequestRScale()
    {
        byte s = 0;
        while (s < MaxWinShift && (CcModules.TCP_MAXWIN << s) < SockBuf.MaxSockBuf)
        {
            s++;
        }

        return s;
    }

    /// <summary>
    /// tcp_close: the connection is over: timers stopped, reassembly queue freed, out of the lookup tables (out of
    /// V_tcbinfo too once the user closed the socket), the socket disconnected.
    /// </summary>
    internal static void TcpClose(Tcpcb tp)
    {
        if ((tp.t_flags & TcpCbFlags.TF_CLOSED) != 0)
        {
            return;
        }

        TimersStop(tp);
        tp.t_segq.Flush();
        tp.snd_holes.Free(); // tcp_free_sackholes
        tp.t_state = TcpState.TCPS_CLOSED;
        tp.t_flags |= TcpCbFlags.TF_CLOSED;
        tp.t_ccv.Algo?.cb_destroy(tp.t_ccv);
        Stat(TcpStat.tcps_closed);
        InPcb inp = tp.Inp;
        inp.TimeWait = false;
        if ((tp.So.State & SocketState.SS_NOFDREF) != 0)
        {
            inp.Info.Detach(inp);
        }
        else
        {
            inp.Info.Unhash(inp);
        }

        tp.So.SoIsDisconnected();
    }

    /// <summary>tcp_drop: a synchronized connection gets a RST; the user sees <paramref name="errno"/> (0: none).</summary>
    internal static void TcpDrop(Tcpcb tp, int errno)
    {
        if (TcpFsm.HaveReceivedSyn(tp.t_state))
        {
            tp.t_state = TcpState.TCPS_CLOSED;
            Output(tp);
            Stat(TcpStat.tcps_drops);
        }
        else
        {
            Stat(TcpStat.tcps_conndrops);
        }

        if (errno != 0)
        {
            // SetError wakes the waiters at once (FreeBSD's wake-up comes later, from tcp_close's soisdisconnected,
            // under the same lock): the state a woken connect or receive reads must already be CLOSED.
            tp.t_state = TcpState.TCPS_CLOSED;
            tp.So.SetError(errno);
        }

        TcpClose(tp);
    }

    /// <summary>tcp_twstart: TIME_WAIT for 2·MSL (net.inet.tcp.msl); its address may be reused with SO_REUSEADDR.</summary>
    internal static void TwStart(Tcpcb tp)
    {
        tp.t_state = TcpState.TCPS_TIME_WAIT;
        tp.Inp.TimeWait = true;
        TimersStop(tp);
        tp.t_segq.Flush();
        tp.snd_holes.Free();
        TimerActivate(tp, TcpTimerKind.TT_2MSL, 2 * MsToUs(V_tcp_msl));
        tp.So.SoIsDisconnected();
    }

    /// <summary>tcp_usrclosed: the user has no more to send (close or SHUT_WR): the FIN states.</summary>
    internal static void UsrClosed(Tcpcb tp)
    {
        switch (tp.t_state)
        {
            case TcpState.TCPS_CLOSED:
            case TcpState.TCPS_LISTEN:
            case TcpState.TCPS_SYN_SENT:
                TcpClose(tp);
                return;
            case TcpState.TCPS_SYN_RECEIVED:
                tp.t_flags |= TcpCbFlags.TF_NEEDFIN;
                break;
            case TcpState.TCPS_ESTABLISHED:
                tp.t_state = TcpState.TCPS_FIN_WAIT_1;
                break;
            case TcpState.TCPS_CLOSE_WAIT:
                tp.t_state = TcpState.TCPS_LAST_ACK;
                break;
        }

        if (tp.t_state >= TcpState.TCPS_FIN_WAIT_2)
        {
            tp.So.SoIsDisconnected();
            if (tp.t_state == TcpState.TCPS_FIN_WAIT_2)
            {
                TimerActivate(tp, TcpTimerKind.TT_2MSL, MsToUs(V_tcp_finwait2_timeout));
            }
        }
    }

    /// <summary>tcp_xmit_timer: an RTT sample of <paramref name="rtt"/> µs updates SRTT and RTTVAR (RFC 6298 §2) and the RTO.</summary>
    internal static void XmitTimer(Tcpcb tp, long rtt)
    {
        rtt = Math.Max(rtt, 1);
        Stat(TcpStat.tcps_rttupdated);
        tp.t_rttupdated_++;
        if (tp.t_srtt != 0)
        {
            long delta = Math.Abs(tp.t_srtt - rtt);
            tp.t_rttvar = (3 * tp.t_rttvar + delta) / 4;
            tp.t_srtt = (7 * tp.t_srtt + rtt) / 8;
        }
        else
        {
            tp.t_srtt = rtt;
            tp.t_rttvar = rtt / 2;
        }

        tp.t_rttlow = tp.t_rttlow == 0 ? rtt : Math.Min(tp.t_rttlow, rtt);
        tp.t_rtttime = 0;
        tp.t_rxtshift_ = 0;
        tp.t_rxtcur = RangeSet(Math.Max(tp.t_rttmin, tp.t_srtt + 4 * tp.t_rttvar), Math.Max(tp.t_rttmin, rtt + 2000), Tcpcb.TCPTV_REXMTMAX);
        tp.t_softerror = 0;
    }

    /// <summary>TCP_CONGESTION: switches the connection to module <paramref name="name"/> (ESRCH when no module has that name).</summary>
    internal static int SetCongestion(Tcpcb tp, string name)
    {
        CcAlgo? algo = CcModules.Find(name);
        if (algo is null)
        {
            return Errno.ESRCH;
        }

        if (algo == tp.t_ccv.Algo)
        {
            return 0;
        }

        tp.t_ccv.Algo?.cb_destroy(tp.t_ccv);
        tp.t_ccv.Algo = algo;
        int error = algo.cb_init(tp.t_ccv);
        if (error != 0)
        {
            tp.t_ccv.Algo = NewReno.Instance;
            return error;
        }

        if (TcpFsm.HaveEstablished(tp.t_state))
        {
            algo.conn_init(tp.t_ccv);
        }

        return 0;
    }

    /// <summary>cc_conn_init: the initial window (RFC 6928, net.inet.tcp.initcwnd_segments) once established.</summary>
    internal static void CcConnInit(Tcpcb tp)
    {
        tp.snd_cwnd = CcModules.InitialWindow(tp.t_maxseg, V_tcp_initcwnd_segments);
        tp.t_ccv.Algo?.conn_init(tp.t_ccv);
    }

    /// <summary>cc_ack_received: CCF_CWND_LIMITED and RFC 3465's byte counting (CCF_ABC_SENTAWND), then the module.</summary>
    internal static void CcAckReceived(Tcpcb tp, uint acked, CcAckType type)
    {
        CcVar ccv = tp.t_ccv;
        ccv.nsegs = 1;
        ccv.bytes_this_ack = (int)acked;
        ccv.curack = tp.snd_una;
        if (tp.snd_cwnd <= tp.snd_wnd)
        {
            ccv.flags |= CcFlags.CCF_CWND_LIMITED;
        }
        else
        {
            ccv.flags &= ~CcFlags.CCF_CWND_LIMITED;
        }

        if (type == CcAckType.CC_ACK)
        {
            if (tp.snd_cwnd > tp.snd_ssthresh)
            {
                tp.t_bytes_acked += acked;
                if (tp.t_bytes_acked >= tp.snd_cwnd)
                {
                    tp.t_bytes_acked -= tp.snd_cwnd;
                    ccv.flags |= CcFlags.CCF_ABC_SENTAWND;
                }
            }
            else
            {
                ccv.flags &= ~CcFlags.CCF_ABC_SENTAWND;
                tp.t_bytes_acked = 0;
            }
        }

        ccv.Algo?.ack_received(ccv, type);
    }

    /// <summary>cc_cong_signal: the tcpcb's part (RTO: back to one segment, recovery point, bytes_acked reset), then the module's.</summary>
    internal static void CcCongSignal(Tcpcb tp, CcSignal type)
    {
        switch (type)
        {
            case CcSignal.CC_NDUPACK:
                if (!tp.InFastRecovery)
                {
                    tp.snd_recover = tp.snd_max;
                }

                break;
            case CcSignal.CC_ECN:
                if (!tp.InCongRecovery)
                {
                    Stat(TcpStat.tcps_ecn_rcwnd);
                    tp.snd_recover = tp.snd_max;
                    if ((tp.t_flags2 & TcpCbFlags2.TF2_ECN_PERMIT) != 0)
                    {
                        tp.t_flags2 |= TcpCbFlags2.TF2_ECN_SND_CWR;
                    }
                }

                break;
            case CcSignal.CC_RTO:
                tp.t_dupacks_ = 0;
                tp.t_bytes_acked = 0;
                tp.snd_holes.Free(); // tcp_free_sackholes: after a timeout everything from snd_una goes again
                tp.InFastRecovery = false;
                tp.InCongRecovery = false;
                break;
        }

        tp.t_ccv.Algo?.cong_signal(tp.t_ccv, type);
    }

    /// <summary>cc_post_recovery: the module deflates cwnd, then recovery ends.</summary>
    internal static void CcPostRecovery(Tcpcb tp)
    {
        tp.t_ccv.Algo?.post_recovery(tp.t_ccv);
        tp.t_bytes_acked = 0;
        tp.InFastRecovery = false;
        tp.InCongRecovery = false;
    }

    /// <summary>cc_after_idle: sending resumes after an idle RTO (RFC 5681 §4.1).</summary>
    internal static void CcAfterIdle(Tcpcb tp) => tp.t_ccv.Algo?.after_idle(tp.t_ccv);

    /// <summary>tcp_destroy: the vnet is going: every connection is closed without a segment, every socket left aborted.</summary>
    [VnetSysuninit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_THIRD)]
    private static void tcp_vnet_destroy()
    {
        V_tcp_syncache.Destroy();
        foreach (InPcb inp in V_tcbinfo.DetachAll())
        {
            if (inp.Ppcb is Tcpcb tp)
            {
                lock (tp.Lock)
                {
                    TimersStop(tp);
                    tp.t_segq.Flush();
                    tp.t_state = TcpState.TCPS_CLOSED;
                    tp.t_flags |= TcpCbFlags.TF_CLOSED;
                    tp.So.SoIsDisconnected();
                }

                tp.t_outq.Purge();
            }

            inp.Socket.Abort("its vnet was destroyed");
        }

        FlushOutput();
    }
}
