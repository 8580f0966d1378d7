using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Tcp;

/// <summary>struct xtcpcb's part netstat and sockstat print: the ends, the bytes queued and t_state.</summary>
public readonly record struct XTcpcb(PcbEnds Ends, int RecvQ, int SendQ, TcpState State);

public static partial class Tcp
{
    /// <summary>
    /// tcp_pcblist (net.inet.tcp.pcblist): every TCP PCB of <paramref name="vnet"/>, TIME_WAIT ones included.
    /// Embryonic connections still in the syncache are not PCBs and are not listed.
    /// </summary>
    public static XTcpcb[] PcbList(Vnet vnet)
    {
        InPcb[] pcbs = V_tcbinfo_In(vnet).Snapshot();
        var list = new XTcpcb[pcbs.Length];
        for (int i = 0; i < pcbs.Length; i++)
        {
            InPcb inp = pcbs[i];
            TcpState state = inp.TimeWait ? TcpState.TCPS_TIME_WAIT
                : inp.Ppcb is Tcpcb tp ? tp.t_state : TcpState.TCPS_CLOSED;
            list[i] = new XTcpcb(inp.Ends, inp.Socket.Rcv.Cc, inp.Socket.Snd.Cc, state);
        }

        return list;
    }
}
