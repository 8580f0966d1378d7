using System.Globalization;

namespace Vimage.Net.Ipfw;

/// <summary>
/// ipfw_log (ip_fw_log.c) with net.inet.ip.fw.verbose set: one line per logged match into the vnet's message buffer
/// (<see cref="MsgBuf"/>, read with dmesg), in FreeBSD's format, e.g.
/// <c>ipfw: 100 Deny UDP 192.0.2.1:5000 192.0.2.2:9 in via epair0b</c>, limited per rule by logamount or
/// net.inet.ip.fw.verbose_limit, then "ipfw: limit N reached on entry R".
/// </summary>
internal static class IpFwLog
{
    public static void Log(IpFwRule rule, in IpFwPacket pkt, Ifnet ifp, Pfil.PfilDir dir)
    {
        if (!IpFw.Verbose)
        {
            return; // FreeBSD then taps the ipfw0 bpf interface; Vimage has none
        }

        int limit = rule.LogAmount != 0 ? rule.LogAmount : IpFw.VerboseLimit;
        long n = Interlocked.Increment(ref rule.Logged);
        if (limit != 0 && n > limit)
        {
            return;
        }

        var inv = CultureInfo.InvariantCulture;
        string action = rule.Action switch
        {
            IpFwAction.Allow => "Accept",
            IpFwAction.Deny => "Deny",
            IpFwAction.Reject when rule.Argument == 1 => "Reject", // ICMP_UNREACH_HOST
            IpFwAction.Reject => string.Create(inv, $"Unreach {rule.Argument}"),
            IpFwAction.Count => "Count",
            IpFwAction.Pipe => string.Create(inv, $"Pipe {rule.Argument}"),
            IpFwAction.Queue => string.Create(inv, $"Queue {rule.Argument}"),
            IpFwAction.Skipto => string.Create(inv, $"SkipTo {rule.Argument}"),
            _ => "UNKNOWN",
        };
        string src = new Inet.InAddr(pkt.Source).ToString(), dst = new Inet.InAddr(pkt.Destination).ToString();
        string proto = pkt.Protocol switch
        {
            6 or 17 when pkt.Offset == 0 && pkt.HasPorts =>
                string.Create(inv, $"{(pkt.Protocol == 6 ? "TCP" : "UDP")} {src}:{pkt.SourcePort} {dst}:{pkt.DestinationPort}"),
            6 or 17 => string.Create(inv, $"{(pkt.Protocol == 6 ? "TCP" : "UDP")} {src} {dst}"),
            1 when pkt.Offset == 0 && pkt.IcmpType >= 0 => string.Create(inv, $"ICMP:{pkt.IcmpType}.{pkt.IcmpCode} {src} {dst}"),
            1 => $"ICMP {src} {dst}",
            _ => string.Create(inv, $"P:{pkt.Protocol} {src} {dst}"),
        };
        string fragment = pkt.Offset != 0 || pkt.MoreFragments
            ? string.Create(inv, $" (frag {pkt.Id}:{pkt.Length - pkt.HeaderLength}@{pkt.Offset << 3}{(pkt.MoreFragments ? "+" : "")})")
            : "";
        string way = dir == Pfil.PfilDir.In ? "in" : "out";
        MsgBuf.Log(string.Create(inv, $"ipfw: {rule.Number} {action} {proto} {way} via {ifp.Name}{fragment}"));
        if (limit != 0 && n == limit)
        {
            MsgBuf.Log(string.Create(inv, $"ipfw: limit {limit} reached on entry {rule.Number}"));
        }
    }
}
