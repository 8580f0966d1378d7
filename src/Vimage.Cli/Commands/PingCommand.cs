using System.Globalization;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;

namespace Vimage.Cli.Commands;

/// <summary>
/// ping(8) for IPv4, options parsed by getopt with FreeBSD 14's PING4OPTS: -c -i -W -t -m -s -l -q -Q -R -f -o -a -A
/// -S -z -D -p -M m|t
/// (and -4 -n -H -d -v, which change nothing here). -t bounds the whole run, final wait included. Options of
/// features Vimage lacks (-C, sweeps, multicast) fail with exit 1 before
/// anything is sent. Vimage's user owns the stacks, so root's rules apply (-f, -l, short -i, big -s).
/// Exit 0 when a reply was heard, 2 when none was, 68 (EX_NOHOST) for a bad address, 64 for bad usage.
/// </summary>
public sealed class PingCommand : ICommand
{
    /// <summary>128 + SIGKILL: how a command ends when its jail is removed under it.</summary>
    public const int ExitKilled = 137;

    public string Name => "ping";

    public string Usage => "ping [-4AaDdfHnoQqRv] [-C pcp] [-c count] [-G sweepmaxsize] [-g sweepminsize] [-h sweepincrsize] [-i wait] [-l preload] [-M mask | time] [-m ttl] [-p pattern] [-S src_addr] [-s packetsize] [-t timeout] [-W waittime] [-z tos] IPv4-host";

    public int Run(CommandContext context, string[] args)
    {
        var o = PingOptions.Parse(args);
        if (!InAddr.TryParse(o.Host, out InAddr dst))
        {
            throw new CommandException($"ping: cannot resolve {o.Host}: Unknown host", 68);
        }

        InAddr src = InAddr.Any;
        if (o.Source is not null && !InAddr.TryParse(o.Source, out src))
        {
            throw new CommandException($"ping: cannot resolve {o.Source}: Unknown host", 68);
        }

        TextWriter output = context.Out;
        if (o.RequestType != IcmpType.Echo && !o.Quiet)
        {
            output.WriteLine(o.RequestType == IcmpType.MaskRequest ? "ICMP_MASKREQ" : "ICMP_TSTAMP");
        }

        using PingSocket socket = PingSocket.Open(context.Vnet);
        socket.RequestType = o.RequestType;
        socket.Tos = o.Tos;
        socket.DontFragment = o.DontFragment;
        if (o.Source is not null)
        {
            try
            {
                socket.Bind(src);
            }
            catch (NetSocketException e)
            {
                throw new CommandException($"ping: bind: {Errno.Message(e.Errno)}");
            }
        }

        if (o.Pattern is not null)
        {
            socket.Pattern = o.Pattern;
            if (!o.Quiet)
            {
                output.WriteLine("PATTERN: 0x" + Convert.ToHexStringLower(o.Pattern));
            }
        }

        output.WriteLine(o.Source is null ? $"PING {dst} ({dst}): {o.PacketSize} data bytes" : $"PING {dst} ({dst}) from {src}: {o.PacketSize} data bytes");
        var rtts = new List<double>();
        var ipOptions = new PingIpOptions();
        int received = 0, errors = 0;
        long sent = 0, ntransmitted = 0, missedMax = 0;

        // -t bounds the whole run, final wait included (ping.c's alarm(2) sets finish_up).
        long deadline = o.TimeoutSeconds > 0 ? Environment.TickCount64 + (long)(o.TimeoutSeconds * 1000) : long.MaxValue;
        bool done = false;

        void Transmit()
        {
            // ntransmitted counts the requests; icmp_seq is its low 16 bits and wraps (ping.c keeps the two apart).
            int error = socket.Send(dst, (ushort)ntransmitted++, o.PacketSize, o.Ttl, o.RecordRoute);
            if (error != 0)
            {
                context.Err.WriteLine($"ping: sendto: {Errno.Message(error)}");
            }
            else
            {
                sent++;
                if (o.Flood && !o.Quiet)
                {
                    output.Write('.'); // pinger(): a dot per request, a backspace per reply
                }
            }
        }

        long preload = o.Count != 0 ? Math.Min(o.Preload, o.Count) : o.Preload;
        do
        {
            Transmit();
        }
        while (--preload > 0);

        bool almostDone = false;
        long windowMs = (long)(o.IntervalSeconds * 1000);
        long last = Environment.TickCount64;
        while (!done && !context.Cancel.IsCancellationRequested)
        {
            long now = Environment.TickCount64;
            if (now >= deadline)
            {
                break;
            }

            // Wait in short slices so a removed jail or a gone client ends ping promptly; a zero interval
            // (ping -i 0) still drains the replies already queued.
            long remaining = Math.Min(Math.Max(0, last + windowMs - now), deadline - now);
            bool got = socket.TryReceive((int)Math.Min(remaining, 100), out PingReply reply);
            if (got)
            {
                if (reply.Kind == PingReplyKind.EchoReply)
                {
                    received++;
                    rtts.Add(reply.Rtt.TotalMilliseconds);
                    if (!o.Quiet)
                    {
                        if (o.Flood)
                        {
                            output.Write('\b');
                        }
                        else
                        {
                            output.Write(ReplyLine(reply, o));
                        }

                        ipOptions.Print(output, reply.IpOptions, o.Flood);
                    }

                    if ((o.Once && received > 0) || (o.Count != 0 && received >= o.Count))
                    {
                        break;
                    }
                }
                else
                {
                    errors++;
                    if (!o.Quiet && !o.Quiet2)
                    {
                        output.Write($"{reply.Bytes} bytes from {reply.From}: {Describe(reply.IcmpType, reply.IcmpCode)}");
                        ipOptions.Print(output, reply.IpOptions, o.Flood);
                    }
                }

                if (almostDone && received + errors >= sent)
                {
                    break; // every request answered: no need to sit out the final wait
                }

                if (!o.Flood)
                {
                    continue;
                }
            }
            else if (Environment.TickCount64 < last + windowMs)
            {
                continue;
            }

            // The interval passed (or, flooding, a reply came): the next request, or the final wait.
            if (o.Count == 0 || ntransmitted < o.Count)
            {
                Transmit();
            }
            else if (almostDone)
            {
                break;
            }
            else
            {
                almostDone = true;
                windowMs = received > 0 ? Math.Max(1000, (long)(2 * rtts.Max()) / 1000 * 1000) : o.WaitTimeMs;
            }

            last = Environment.TickCount64;
            if (ntransmitted - received - 1 > missedMax)
            {
                missedMax = ntransmitted - received - 1;
                if (o.Missed)
                {
                    output.Write('\a');
                }
            }
        }

        if (o.Flood && !o.Quiet)
        {
            output.WriteLine();
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

    /// <summary>pr_pack's reply line (without its newline): time, then -M m's mask or -M t's three timestamps.</summary>
    private static string ReplyLine(PingReply reply, PingOptions o)
    {
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{reply.Bytes} bytes from {reply.From}: icmp_seq={reply.Sequence} ttl={reply.Ttl}");
        if (o.PacketSize >= PingSocket.TimestampLength)
        {
            line += string.Create(CultureInfo.InvariantCulture, $" time={reply.Rtt.TotalMilliseconds:0.000} ms");
        }

        if (o.Audible)
        {
            line += "\a";
        }

        return o.RequestType switch
        {
            IcmpType.MaskRequest => line + $" mask={reply.Mask}",
            IcmpType.Timestamp => line + $" tso={NTime(reply.OriginateTime)} tsr={NTime(reply.ReceiveTime)} tst={NTime(reply.TransmitTime)}",
            _ => line,
        };
    }

    /// <summary>pr_ntime: milliseconds since midnight as HH:MM:SS.</summary>
    private static string NTime(uint ms)
    {
        uint sec = ms / 1000;
        return string.Create(CultureInfo.InvariantCulture, $"{sec / 3600:00}:{sec % 3600 / 60:00}:{sec % 3600 % 60:00}");
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
        bool Quiet, bool RecordRoute, double TimeoutSeconds, bool Flood, bool Once, bool Audible, bool Missed, bool Quiet2, long Preload,
        byte Tos, bool DontFragment, byte[]? Pattern, string? Source, byte RequestType)
    {
        /// <summary>FreeBSD 14 ping's getopt string for IPv4 (PING4OPTS).</summary>
        public const string Optstring = "4AaC:c:DdfG:g:Hh:I:i:Ll:M:m:nop:QqRS:s:T:t:vW:z:";

        /// <summary>MAXALARM: -t is at most an hour.</summary>
        private const int MaxAlarm = 3600;

        public static PingOptions Parse(string[] args)
        {
            long count = 0, preload = 0;
            int size = 56, waitMs = 10_000;
            double interval = 1, timeout = 0;
            byte ttl = 0;
            byte tos = 0;
            byte[]? pattern = null;
            string? source = null;
            bool df = false, mask = false, time = false;
            bool quiet = false, rr = false, flood = false, intervalSet = false, once = false, audible = false, missed = false, quiet2 = false;
            var getopt = new Getopt("ping", args, Optstring);
            for (int ch; (ch = getopt.Next()) != -1;)
            {
                string arg = getopt.Optarg ?? "";
                switch (ch)
                {
                    case 'c': count = Long(arg, 1, long.MaxValue, "count of packets to transmit"); break;
                    case 'i':
                        // Vimage's user owns the stacks, so ping runs with root's rules: any interval, but a
                        // fraction of a millisecond is FreeBSD's "-i interval too short" even for root.
                        interval = Real(arg, 0, int.MaxValue / 1000.0, "timing interval");
                        if (interval > 0 && interval < 0.001)
                        {
                            throw new CommandException("ping: -i interval too short: Operation not permitted", 77);
                        }

                        intervalSet = true;
                        break;
                    case 'W': waitMs = (int)Long(arg, 0, int.MaxValue, "timing interval"); break;
                    case 't':
                        timeout = Long(arg, 1, long.MaxValue, "timeout");
                        if (timeout > MaxAlarm)
                        {
                            throw new UsageException($"ping: invalid timeout: `{arg}' > {MaxAlarm}");
                        }

                        break;
                    case 'm': ttl = (byte)Long(arg, 0, 255, "TTL"); break;
                    case 's': size = (int)Long(arg, 0, int.MaxValue, "packet size"); break;
                    case 'l': preload = Long(arg, 0, int.MaxValue, "preload value"); break;
                    case 'C': Long(arg, 0, 7, "PCP"); throw Unsupported.Option("ping", ch, "VLAN priority (SO_VLAN_PCP) is not supported in Vimage");
                    case 'q': quiet = true; break;
                    case 'Q': quiet2 = true; break;
                    case 'R': rr = true; break;
                    case 'f': flood = true; break;
                    case 'o': once = true; break;
                    case 'a': audible = true; break;
                    case 'A': missed = true; break;
                    case '4':
                    case 'n':
                    case 'H':
                    case 'd':
                    case 'v':
                        break; // numeric output is all Vimage has; SO_DEBUG traces nothing here; -v adds nothing more
                    case 'G':
                    case 'g':
                    case 'h':
                        Long(arg, 0, int.MaxValue, "packet size");
                        throw Unsupported.Option("ping", ch, "sweeping ping is not supported in Vimage");
                    case 'I':
                    case 'L':
                    case 'T':
                        throw Unsupported.Option("ping", ch, "multicast ping is not supported in Vimage");
                    case 'M':
                        switch (arg.Length > 0 ? arg[0] : '\0')
                        {
                            case 'M' or 'm': mask = true; break;
                            case 'T' or 't': time = true; break;
                            default: throw new UsageException($"ping: invalid message: `{(arg.Length > 0 ? arg[0] : ' ')}'");
                        }

                        break;
                    case 'z': tos = (byte)Long(arg, 0, 255, "TOS"); break;
                    case 'D': df = true; break;
                    case 'S': source = arg; break;
                    default: pattern = ParsePattern(arg); break; // -p
                }
            }

            if (getopt.Operands is not [var host])
            {
                throw new UsageException(getopt.Operands.Length == 0 ? "ping: no host given" : "ping: too many arguments");
            }

            if (mask && time)
            {
                throw new UsageException("ping: ICMP_TSTAMP and ICMP_MASKREQ are exclusive.");
            }

            byte requestType = mask ? IcmpType.MaskRequest : time ? IcmpType.Timestamp : IcmpType.Echo;
            if (flood && intervalSet)
            {
                throw new UsageException("ping: -f and -i: incompatible options");
            }

            // ping.c's icmp_len: IP header, ICMP header, phdr_len (12 for -M t, 4 for -M m), 40 for -R.
            int fields = mask ? Icmp.MaskLength - Icmp.HeaderLength : time ? Icmp.TimestampLength - Icmp.HeaderLength : 0;
            int maxPayload = IpHeaderMax - (rr ? 60 : 20) - 8 - fields;
            if (size > maxPayload)
            {
                throw new UsageException($"ping: packet size too large: {size} > {maxPayload}");
            }

            if (flood)
            {
                interval = 0.01; // FreeBSD floods at least every 10 ms, and at once after each reply
            }

            return new PingOptions(host, count, interval, waitMs, ttl, size, quiet, rr, timeout, flood, once, audible, missed, quiet2, preload, tos, df, pattern, source, requestType);
        }

        private const int IpHeaderMax = 65535;

        /// <summary>ping.c's fill(): up to 16 bytes written as hex digit pairs.</summary>
        private static byte[] ParsePattern(string text)
        {
            foreach (char c in text)
            {
                if (!char.IsAsciiHexDigit(c))
                {
                    throw new UsageException("ping: patterns must be specified as hex digits");
                }
            }

            var bytes = new List<byte>();
            for (int i = 0; i < text.Length && bytes.Count < 16; i += 2)
            {
                bytes.Add(byte.Parse(text.AsSpan(i, Math.Min(2, text.Length - i)), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }

            return [.. bytes];
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
