using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Udp;

public static partial class Udp
{
    /// <summary>udp_pcblist (net.inet.udp.pcblist): the UDP sockets of <paramref name="vnet"/>.</summary>
    public static XInpcb[] PcbList(Vnet vnet)
    {
        InPcb[] pcbs = V_udbinfo_In(vnet).Snapshot();
        var list = new XInpcb[pcbs.Length];
        for (int i = 0; i < pcbs.Length; i++)
        {
            list[i] = new XInpcb(pcbs[i].Ends, pcbs[i].Socket.Rcv.Cc, pcbs[i].Socket.Snd.Cc);
        }

        return list;
    }
}
