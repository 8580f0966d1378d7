using System.Buffers.Binary;
using System.Globalization;
using System.Threading.Channels;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Bpf;
using Vimage.Net.Inet;

namespace Vimage.Cli.Commands;

/// <summary>
/// tcpdump(1), the capture part: tcpdump -i IF [-w file.pcap] [-c count] [--duration seconds] [expression], the
/// expression a pcap-filter(7) subset compiled once (PcapFilter) and run on each packet by bpf_filter. With -w it writes
/// a standard pcap file (readable by tcpdump -r and Wireshark); without it prints one line per packet. It runs
/// until count packets, the duration, or the client going away.
/// </summary>
public sealed class TcpdumpCommand : ICommand
{
    /// <summary>--duration's ceiling (CancelAfter takes at most int.MaxValue milliseconds): 24 days.</summary>
    public const double MaxDurationSeconds = 24 * 86400;

    /// <summary>
    /// Lines waiting for the client, at most (like the BPF buffer, bpf_bufsize): a reader slower than the capture
    /// (<c>vimage tcpdump ... | less</c>) loses packets, counted and reported as "dropped by kernel", instead of
    /// growing the host; the capture callback on the data path never waits.
    /// </summary>
    public const int QueueLimit = 1024;

    public string Name => "tcpdump";

    public string Usage => "tcpdump -i interface [-w file] [-c count] [--duration seconds] [expression]";

    /// <summary>tcpdump's getopt string (FreeBSD's tcpdump 4.99).</summary>
    public const string Optstring = "aAb:B:c:C:dDeE:fF:G:hHi:I:j:JKlLm:M:nNOpqQ:r:s:StT:uUvV:w:W:xXy:Yz:Z:#";

    /// <summary>Vimage's extension: --duration SECONDS stops the capture.</summary>
    private static readonly Dictionary<string, bool> LongOptions = new(StringComparer.Ordinal) { ["duration"] = true };

    public int Run(CommandContext context, string[] args)
    {
        string? ifname = null, file = null;
        long count = 0;
        double duration = 0;
        var getopt = new Getopt("tcpdump", args, Optstring, LongOptions);
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            switch (ch)
            {
                case 'i': ifname = getopt.Optarg; break;
                case 'w': file = getopt.Optarg; break;
                case 'c': count = long.TryParse(getopt.Optarg, NumberStyles.None, CultureInfo.InvariantCulture, out long c) && c > 0 ? c : throw new UsageException("tcpdump: invalid packet count"); break;
                case Getopt.LongOption: duration = double.TryParse(getopt.Optarg, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d > 0 && d <= MaxDurationSeconds ? d : throw new UsageException("tcpdump: invalid duration"); break;
                case 'n':
                case 'l':
                case 'p':
                case 'U':
                    break; // numeric output is all Vimage prints; line buffering and packet-buffered writes are what it does
                default: throw Unsupported.Option("tcpdump", ch, "not supported in Vimage");
            }
        }

        // The expression is the remaining words joined by spaces (copy_argv), compiled once (pcap_compile).
        BpfProgram? filter = null;
        if (getopt.Optind < args.Length)
        {
            try
            {
                filter = PcapFilter.Compile(string.Join(' ', args[getopt.Optind..]));
            }
            catch (PcapFilterException e)
            {
                throw new CommandException("tcpdump: " + e.Message);
            }
        }

        if (ifname is null)
        {
            throw new UsageException("tcpdump: -i interface is required");
        }

        Ifnet ifp;
        using (Curvnet.Set(context.Vnet))
        {
            // pcap_open_live's BIOCSETIF failure, as tcpdump prints it.
            ifp = Ifnets.TryFind(ifname)
                  ?? throw new CommandException($"tcpdump: {ifname}: No such device exists\n(BIOCSETIF failed: Device not configured)");
        }

        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.Cancel);
        if (duration > 0)
        {
            done.CancelAfter(TimeSpan.FromSeconds(duration));
        }

        // The interface leaving this vnet (destroyed, or moved to another) ends the capture: libpcap's read gets
        // ENXIO and tcpdump reports "pcap_loop: The interface disappeared".
        bool disappeared = false;
        Action<Ifnet> departing = gone =>
        {
            if (gone == ifp)
            {
                Volatile.Write(ref disappeared, true);
                try
                {
                    done.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // raised while this capture was already ending
                }
            }
        };
        IfEvents.Departing += departing;
        try
        {
            if (ifp.IsDetached || ifp.Vnet != context.Vnet)
            {
                departing(ifp);
            }

            long received = Capture(context, ifp, file, count, filter, done, out long captured, out long lost);
            if (context.JailRemoved)
            {
                return PingCommand.ExitKilled; // jail -r killed it: no summary
            }

            if (Volatile.Read(ref disappeared))
            {
                context.Err.WriteLine("tcpdump: pcap_loop: The interface disappeared");
            }

            // tcpdump's closing statistics (pcap_stats): received by filter, of which dropped for lack of buffer space.
            context.Err.WriteLine($"{captured - lost} packets captured");
            context.Err.WriteLine($"{received} packets received by filter");
            context.Err.WriteLine($"{lost} packets dropped by kernel");
            return Volatile.Read(ref disappeared) ? 1 : 0;
        }
        finally
        {
            IfEvents.Departing -= departing;
        }
    }

    /// <summary>
    /// Captures until <paramref name="done"/>; returns the packets the tap saw (bpf's bd_rcount, "received by
    /// filter" as FreeBSD counts it), of which <paramref name="captured"/> passed the filter (bd_fcount, at most
    /// count) and <paramref name="lost"/> of those found the output queue full.
    /// </summary>
    private static long Capture(CommandContext context, Ifnet ifp, string? file, long count, BpfProgram? filter, CancellationTokenSource done,
        out long captured, out long lost)
    {
        long seen = 0, dropped = 0, tapped = 0;
        PcapWriter? pcap = file is null ? null : OpenPcap(context, file);
        if (pcap is not null)
        {
            using PcapWriter writer = pcap;
            using BpfSession session = ifp.Bpf.Attach((frame, _, micros) =>
            {
                Interlocked.Increment(ref tapped);
                if (filter?.Matches(frame) != false && Interlocked.Increment(ref seen) is var n && (count == 0 || n <= count))
                {
                    writer.Write(frame, micros);
                    if (count != 0 && Interlocked.Read(ref seen) >= count)
                    {
                        done.Cancel();
                    }
                }
            });
            Listening(context, ifp.Name);
            done.Token.WaitHandle.WaitOne();
            writer.Flush();
        }
        else
        {
            var lines = Channel.CreateBounded<string>(new BoundedChannelOptions(QueueLimit) { SingleReader = true });
            using BpfSession session = ifp.Bpf.Attach((frame, _, micros) =>
            {
                Interlocked.Increment(ref tapped);
                if (filter?.Matches(frame) != false && Interlocked.Increment(ref seen) is var n && (count == 0 || n <= count))
                {
                    // Full: drop before formatting (no allocation for a packet nobody will see).
                    if (lines.Reader.Count >= QueueLimit || !lines.Writer.TryWrite(Describe(frame, micros)))
                    {
                        Interlocked.Increment(ref dropped);
                    }

                    if (count != 0 && Interlocked.Read(ref seen) >= count)
                    {
                        done.Cancel();
                    }
                }
            });
            Listening(context, ifp.Name);
            try
            {
                while (!done.IsCancellationRequested || lines.Reader.Count > 0)
                {
                    if (lines.Reader.TryRead(out string? line))
                    {
                        context.Out.WriteLine(line);
                    }
                    else
                    {
                        lines.Reader.WaitToReadAsync(done.Token).AsTask().Wait(200);
                    }
                }
            }
            catch (AggregateException)
            {
                // cancelled while waiting
            }

            while (lines.Reader.TryRead(out string? rest))
            {
                context.Out.WriteLine(rest);
            }
        }

        lost = Interlocked.Read(ref dropped);
        captured = count == 0 ? Interlocked.Read(ref seen) : Math.Min(count, Interlocked.Read(ref seen));
        return Math.Max(Interlocked.Read(ref tapped), captured);
    }

    /// <summary>Printed once the capture is attached (tcpdump prints it after pcap_activate): a caller may wait for it.</summary>
    private static void Listening(CommandContext context, string ifname)
        => context.Err.WriteLine($"tcpdump: listening on {ifname}, link-type EN10MB (Ethernet), snapshot length 262144 bytes");

    /// <summary>pcap_dump_open: a file that cannot be created is tcpdump's "PATH: strerror" and exit 1.</summary>
    private static PcapWriter OpenPcap(CommandContext context, string path)
    {
        try
        {
            return path.Length > 0 ? new PcapWriter(context.ResolvePath(path)) : throw new FileNotFoundException();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            string reason = e switch
            {
                _ when path.Length > 0 && Directory.Exists(context.ResolvePath(path)) => "Is a directory",
                DirectoryNotFoundException or FileNotFoundException or ArgumentException => "No such file or directory",
                UnauthorizedAccessException => "Permission denied",
                PathTooLongException => "File name too long",
                _ => "Input/output error",
            };
            throw new CommandException($"tcpdump: {path}: {reason}");
        }
    }

    /// <summary>A tcpdump -n style one-line summary.</summary>
    public static string Describe(ReadOnlySpan<byte> frame, long micros)
    {
        var time = DateTimeOffset.FromUnixTimeMilliseconds(micros / 1000).UtcDateTime;
        string stamp = time.ToString("HH:mm:ss", CultureInfo.InvariantCulture) + "." + (micros % 1_000_000).ToString("D6", CultureInfo.InvariantCulture);
        if (frame.Length < 14)
        {
            return $"{stamp} [|ether]";
        }

        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        ReadOnlySpan<byte> p = frame[14..];
        if (type == 0x0806 && p.Length >= 28)
        {
            ushort op = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
            InAddr sender = InAddr.Read(p[14..]), target = InAddr.Read(p[24..]);
            return op == 1
                ? $"{stamp} ARP, Request who-has {target} tell {sender}, length {p.Length}"
                : $"{stamp} ARP, Reply {sender} is-at {Mac(p.Slice(8, 6))}, length {p.Length}";
        }

        if (type != 0x0800 || p.Length < 20)
        {
            return $"{stamp} ethertype 0x{type:x4}, length {frame.Length}";
        }

        int hlen = (p[0] & 0xf) * 4;
        InAddr src = InAddr.Read(p[12..]), dst = InAddr.Read(p[16..]);
        int total = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        ReadOnlySpan<byte> l4 = p.Length > hlen ? p[hlen..] : [];
        return p[9] switch
        {
            IpProto.Icmp when l4.Length >= 8 => $"{stamp} IP {src} > {dst}: ICMP {IcmpText(l4)}, length {total - hlen}",
            IpProto.Udp when l4.Length >= 8 =>
                $"{stamp} IP {src}.{BinaryPrimitives.ReadUInt16BigEndian(l4)} > {dst}.{BinaryPrimitives.ReadUInt16BigEndian(l4[2..])}: UDP, length {BinaryPrimitives.ReadUInt16BigEndian(l4[4..]) - 8}",
            _ => $"{stamp} IP {src} > {dst}: ip-proto-{p[9]} {total - hlen}",
        };
    }

    private static string IcmpText(ReadOnlySpan<byte> icmp) => icmp[0] switch
    {
        IcmpType.Echo => $"echo request, id {BinaryPrimitives.ReadUInt16BigEndian(icmp[4..])}, seq {BinaryPrimitives.ReadUInt16BigEndian(icmp[6..])}",
        IcmpType.EchoReply => $"echo reply, id {BinaryPrimitives.ReadUInt16BigEndian(icmp[4..])}, seq {BinaryPrimitives.ReadUInt16BigEndian(icmp[6..])}",
        IcmpType.Unreach => "unreachable",
        IcmpType.TimeExceeded => "time exceeded in-transit",
        _ => $"type {icmp[0]}",
    };

    private static string Mac(ReadOnlySpan<byte> mac)
    {
        var parts = new string[6];
        for (int i = 0; i < 6; i++)
        {
            parts[i] = mac[i].ToString("x2", CultureInfo.InvariantCulture);
        }

        return string.Join(':', parts);
    }
}
