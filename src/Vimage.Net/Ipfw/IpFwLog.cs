using System.Globalization;

namespace Vimage.Net.Ipfw;

/// <summary>ipfw_log (ip_fw_log.c): one line per logged match, limited per rule by logamount or verbose_limit.</summary>
internal static class IpFwLog
{
    public static void Log(IpFwRule rule, in IpFwPacket pkt, Ifnet ifp, Pfil.PfilDir dir)
    {
        if (!IpFw.Verbose)
        {
            return;
        }

        int limit = rule.LogAmount != 0 ? rule.LogAmount : IpFw.VerboseLimit;
        long n = Interlocked.Increment(ref rule.Logged);
        if (limit != 0 && n > limit)
        {
            return;
        }

        string action = rule.Action switch
        {
            IpFwAction.Allow => "Accept",
            IpFwAction.Deny => "Deny",
            IpFwAction.Reject or IpFwAction.UnreachHost => "Reject",
            IpFwAction.Count => "Count",
            IpFwAction.Pipe => $"Pipe {rule.Argument}",
            IpFwAction.Queue => $"Queue {rule.Argument}",
            IpFwAction.Skipto => $"SkipTo {rule.Argument}",
            _ => "Check-State",
        };
        string src = new Inet.InAddr(pkt.Source).ToString(), dst = new Inet.InAddr(pkt.Destination).ToString();
        string proto = pkt.Protocol switch
        {
            1 => string.Create(CultureInfo.InvariantCulture, $"ICMP:{pkt.IcmpType}.{pkt.IcmpCode} {src} {dst}"),
            _ when pkt.HasPorts => string.Create(CultureInfo.InvariantCulture,
                $"{(pkt.Protocol == 17 ? "UDP" : pkt.Protocol == 6 ? "TCP" : "P:" + pkt.Protocol)} {src}:{pkt.SourcePort} {dst}:{pkt.DestinationPort}"),
            _ => string.Create(CultureInfo.InvariantCulture, $"P:{pkt.Protocol} {src} {dst}"),
        };
        string way = dir == Pfil.PfilDir.In ? "in via" : "out via";
        IpFw.Emit(string.Create(CultureInfo.InvariantCulture, $"ipfw: {rule.Number} {action} {proto} {way} {ifp.Name}"));
        if (limit != 0 && n == limit)
        {
            IpFw.Emit(string.Create(CultureInfo.InvariantCulture, $"ipfw: limit {limit} reached on entry {rule.Number}"));
        }
    }
}
