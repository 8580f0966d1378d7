using System.Globalization;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;
using Vimage.Net.Udp;

namespace Vimage.Cli.Commands;

/// <summary>
/// netstat's active-socket listing (usr.bin/netstat/inet.c protopr and inetprint) for TCP and UDP over IPv4:
/// <c>Proto Recv-Q Send-Q Local Address Foreign Address (state)</c>, addresses as a.b.c.d.port with * for the
/// wildcard, TCP states as tcpstates[]. Without -a, listeners and sockets bound to the wildcard address are left
/// out; -A narrows the address columns to 18 and -W widens nothing for IPv4 (22, as FreeBSD). Rows come sorted by
/// local then foreign end (FreeBSD walks its PCB list, newest first). TCP connections still in the syncache
/// (SYN_RCVD) are not PCBs here and are not shown.
/// </summary>
internal static class NetstatSockets
{
    /// <summary>The protocols with a socket listing, in FreeBSD's order.</summary>
    public static readonly string[] Protocols = ["tcp", "udp"];

    public static void Print(TextWriter o, Vnet vnet, bool aflag, bool narrow, string? protocol)
    {
        bool first = true;
        if (protocol is null or "tcp")
        {
            XTcpcb[] tcp = Tcp.PcbList(vnet);
            Array.Sort(tcp, (x, y) => Compare(x.Ends, y.Ends));
            foreach (XTcpcb t in tcp)
            {
                if (!aflag && (t.State == TcpState.TCPS_LISTEN || t.Ends.Local.IsAny))
                {
                    continue;
                }

                Header(o, ref first, aflag, narrow);
                o.WriteLine(Row("tcp4", t.RecvQ, t.SendQ, t.Ends, narrow) + TcpFsm.Name(t.State).PadRight(11));
            }
        }

        if (protocol is null or "udp")
        {
            XInpcb[] udp = Udp.PcbList(vnet);
            Array.Sort(udp, (x, y) => Compare(x.Ends, y.Ends));
            foreach (XInpcb u in udp)
            {
                if (!aflag && u.Ends.Local.IsAny)
                {
                    continue;
                }

                Header(o, ref first, aflag, narrow);
                o.WriteLine(Row("udp4", u.RecvQ, u.SendQ, u.Ends, narrow));
            }
        }
    }

    /// <summary>"a.b.c.d.port", "*" for INADDR_ANY and port 0 (inetprint -n).</summary>
    public static string Address(InAddr a, ushort port, char separator = '.')
        => (a.IsAny ? "*" : a.ToString()) + separator + (port == 0 ? "*" : port.ToString(CultureInfo.InvariantCulture));

    private static void Header(TextWriter o, ref bool first, bool aflag, bool narrow)
    {
        if (!first)
        {
            return;
        }

        first = false;
        o.WriteLine(aflag ? "Active Internet connections (including servers)" : "Active Internet connections");
        int w = narrow ? 18 : 22;
        o.WriteLine($"{"Proto",-5} {"Recv-Q",-6} {"Send-Q",-6} {Fit("Local Address", w)} {Fit("Foreign Address", w)} {"(state)",-11}");
    }

    private static string Row(string proto, int recvq, int sendq, PcbEnds e, bool narrow)
    {
        int w = narrow ? 18 : 22;
        string local = Address(e.Local, e.LocalPort) + " ", foreign = Address(e.Foreign, e.ForeignPort) + " ";
        return string.Create(CultureInfo.InvariantCulture, $"{proto,-5} {recvq,6} {sendq,6} {Fit(local, w)} {Fit(foreign, w)} ");
    }

    /// <summary>printf's %-w.ws: padded to w, cut at w.</summary>
    private static string Fit(string s, int w) => s.Length > w ? s[..w] : s.PadRight(w);

    private static int Compare(PcbEnds x, PcbEnds y)
    {
        int c = x.Local.CompareTo(y.Local);
        c = c != 0 ? c : x.LocalPort.CompareTo(y.LocalPort);
        c = c != 0 ? c : x.Foreign.CompareTo(y.Foreign);
        return c != 0 ? c : x.ForeignPort.CompareTo(y.ForeignPort);
    }
}
