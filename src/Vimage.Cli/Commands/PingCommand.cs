using System.Diagnostics;
using System.Globalization;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;

namespace Vimage.Cli.Commands;

/// <summary>
/// ping(8): ping [-qR] [-c count] [-i wait] [-m ttl] [-s packetsize] [-t timeout] [-W waittime] host.
/// Exit 0 when a reply was heard, 2 when none was, 68 (EX_NOHOST) for a bad address, 64 for bad usage.
/// </summary>
public sealed class PingCommand : ICommand
{
    /// <summary>128 + SIGKILL: how a command ends when its jail is removed under it.</summary>
    public const int ExitKilled = 137;

    public string Name => "ping";

    public string Usage => "ping [-qR] [-c count] [-i wait] [-m ttl] [-s packetsize] [-t timeout] [-W waittime] host";

    public int Run(CommandContext context, string[] args)
    {
        var o = PingOptions.Parse(args);
        if (!InAddr.TryParse(o.Host, out InAddr dst))
        {
            throw new CommandException($"ping: cannot resolve {o.Host}: Unknown host", 68);
        }

        using PingSocket socket = PingSocket.Open(context.Vnet);
        TextWriter output = context.Out;
        output.WriteLine($"PING {dst} ({dst}): {o.PacketSize} data bytes");
        var rtts = new List<double>();
        int received = 0, errors = 0;
        long sent = 0;
        var total = Stopwatch.StartNew();

        // ntransmitted counts the requests; icmp_seq is its low 16 bits and wraps (ping.c keeps the two apart).
        for (long ntransmitted = 0; o.Count == 0 || ntransmitted < o.Count; ntransmitted++)
        {
            if (context.Cancel.IsCancellationRequested || (o.TimeoutSeconds > 0 && total.Elapsed.TotalSeconds >= o.TimeoutSeconds))
            {
                break;
            }

            ushort seq = (ushort)ntransmitted;
            int error = socket.Send(dst, seq, o.PacketSize, o.Ttl, o.RecordRoute);
            if (error != 0)
            {
                context.Err.WriteLine($"ping: sendto: {Errno.Message(error)}");
            }
            else
            {
                sent++;
            }

            bool last = o.Count != 0 && ntransmitted + 1 == o.Count;
            var window = Stopwatch.StartNew();
            int waitMs = last ? o.WaitTimeMs : (int)(o.IntervalSeconds * 1000);
            while (!context.Cancel.IsCancellationRequested)
            {
                // Wait in short slices so a removed jail or a gone client ends ping promptly; a zero interval
                // (ping -i 0) still drains the replies already queued.
                int remaining = Math.Max(0, waitMs - (int)window.ElapsedMilliseconds);
                if (!socket.TryReceive(Math.Min(remaining, 100), out PingReply reply))
                {
                    if (remaining > 100)
                    {
                        continue;
                    }

                    break;
                }

                if (reply.Kind == PingReplyKind.EchoReply)
                {
                    received++;
                    rtts.Add(reply.Rtt.TotalMilliseconds);
                    if (!o.Quiet)
                    {
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{reply.Bytes} bytes from {reply.From}: icmp_seq={reply.Sequence} ttl={reply.Ttl} time={reply.Rtt.TotalMilliseconds:0.000} ms"));
                    }
                }
                else
                {
                    errors++;
                    if (!o.Quiet)
                    {
                        output.WriteLine($"{reply.Bytes} bytes from {reply.From}: {Describe(reply.IcmpType, reply.IcmpCode)}");
                    }
                }

                if (last && received + errors >= sent)
                {
                    break;
                }
            }
        }

        if (context.JailRemoved)
        {
            // jail -r kills the jail's processes: ping's last word is the error its next sendto would get.
            context.Err.WriteLine($"ping: sendto: {Errno.Message(Errno.ENETDOWN)}");
            return ExitKilled;
        }

        output.WriteLine();
        output.WriteLine($"--- {dst} ping statistics ---");
        double loss = sent == 0 ? 100.0 : 100.0 * (sent - received) / sent;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{sent} packets transmitted, {received} packets received, {loss:0.0}% packet loss"));
        if (rtts.Count > 0)
        {
            double avg = rtts.Average();
            double stddev = Math.Sqrt(rtts.Average(r => (r - avg) * (r - avg)));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"round-trip min/avg/max/stddev = {rtts.Min():0.000}/{avg:0.000}/{rtts.Max():0.000}/{stddev:0.000} ms"));
        }

        return received > 0 ? 0 : 2;
    }

    private static string Describe(byte type, byte code) => (type, code) switch
    {
        (IcmpType.Unreach, IcmpCode.UnreachNet) => "Destination Net Unreachable",
        (IcmpType.Unreach, IcmpCode.UnreachHost) => "Destination Host Unreachable",
        (IcmpType.Unreach, IcmpCode.UnreachProtocol) => "Destination Protocol Unreachable",
        (IcmpType.Unreach, IcmpCode.UnreachPort) => "Destination Port Unreachable",
        (IcmpType.Unreach, IcmpCode.UnreachNeedFrag) => "Frag needed and DF set",
        (IcmpType.Unreach, _) => $"Dest Unreachable, Unknown Code: {code}",
        (IcmpType.TimeExceeded, IcmpCode.TimeExceededInTransit) => "Time to live exceeded",
        (IcmpType.TimeExceeded, _) => "Frag reassembly time exceeded",
        (IcmpType.Redirect, _) => "Redirect Host",
        (IcmpType.ParameterProblem, _) => "Parameter problem",
        _ => $"Bad ICMP type: {type}",
    };

    private sealed record PingOptions(string Host, long Count, double IntervalSeconds, int WaitTimeMs, byte Ttl, int PacketSize,
        bool Quiet, bool RecordRoute, double TimeoutSeconds)
    {
        public static PingOptions Parse(string[] args)
        {
            long count = 0;
            int size = 56, waitMs = 10_000;
            double interval = 1, timeout = 0;
            byte ttl = 0;
            bool quiet = false, rr = false;
            string? host = null;
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                string Next() => i + 1 < args.Length ? args[++i] : throw new UsageException($"ping: option requires an argument -- {a.TrimStart('-')}");
                switch (a)
                {
                    case "-c": count = Long(Next(), 1, long.MaxValue, "count of packets to transmit"); break;
                    case "-i": interval = Real(Next(), 0, 3600, "timing interval"); break; // root may go below 1 s, even to 0
                    case "-W": waitMs = (int)Long(Next(), 1, 3_600_000, "timing interval"); break;
                    case "-t": timeout = Real(Next(), 1, 86400, "timeout"); break;
                    case "-m": ttl = (byte)Long(Next(), 1, 255, "TTL"); break;
                    case "-s": size = (int)Long(Next(), 8, 65_467, "packet size"); break;
                    case "-q": quiet = true; break;
                    case "-R": rr = true; break;
                    case "-n": break;
                    default:
                        if (a.StartsWith('-') || host is not null)
                        {
                            throw new UsageException($"ping: illegal option or extra argument: {a}");
                        }

                        host = a;
                        break;
                }
            }

            return new PingOptions(host ?? throw new UsageException("ping: no host given"), count, interval, waitMs, ttl, size, quiet, rr, timeout);
        }

        private static long Long(string text, long min, long max, string what)
            => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v >= min && v <= max
                ? v
                : throw new UsageException($"ping: invalid {what}: `{text}'");

        private static double Real(string text, double min, double max, string what)
            => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v >= min && v <= max
                ? v
                : throw new UsageException($"ping: invalid {what}: `{text}'");
    }
}
