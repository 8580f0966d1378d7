using System.Buffers.Binary;
using System.Globalization;
using System.Threading.Channels;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Bpf;
using Vimage.Cli.Commands.Tcpdump;

namespace Vimage.Cli.Commands;

/// <summary>
/// tcpdump(1): tcpdump -i IF | -r file [-AeqvxX] [-t...] [-s snaplen] [-w file.pcap] [-c count] [--duration seconds]
/// [expression], the expression a pcap-filter(7) subset compiled once (PcapFilter) and run on each packet by
/// bpf_filter. With -w it writes a standard pcap file (readable by tcpdump -r and Wireshark); without it prints each
/// packet as tcpdump 4.99 does (TcpdumpPrinter). A capture runs until count packets, the duration, or the client going
/// away; -r reads a pcap file to its end.
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

    public string Usage => "tcpdump [-AenqtvxX] [-c count] [-i interface] [-r file] [-s snaplen] [-w file] [--duration seconds] [expression]";

    /// <summary>tcpdump's getopt string (FreeBSD's tcpdump 4.99).</summary>
    public const string Optstring = "aAb:B:c:C:dDeE:fF:G:hHi:I:j:JKlLm:M:nNOpqQ:r:s:StT:uUvV:w:W:xXy:Yz:Z:#";

    /// <summary>Vimage's extension: --duration SECONDS stops the capture.</summary>
    private static readonly Dictionary<string, bool> LongOptions = new(StringComparer.Ordinal) { ["duration"] = true };

    public int Run(CommandContext context, string[] args)
    {
        string? ifname = null, file = null, read = null;
        long count = 0;
        double duration = 0;
        int snaplen = PcapFormat.DefaultSnapLength, t = 0, v = 0, x = 0, bigX = 0, a = 0;
        bool ether = false, q = false;
        var getopt = new Getopt("tcpdump", args, Optstring, LongOptions);
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            switch (ch)
            {
                case 'i': ifname = getopt.Optarg; break;
                case 'w': file = getopt.Optarg; break;
                case 'r': read = getopt.Optarg; break;
                case 'c': count = long.TryParse(getopt.Optarg, NumberStyles.None, CultureInfo.InvariantCulture, out long c) && c > 0 ? c : throw new UsageException("tcpdump: invalid packet count"); break;
                case 's': snaplen = Snaplen(getopt.Optarg!); break;
                case Getopt.LongOption: duration = double.TryParse(getopt.Optarg, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d > 0 && d <= MaxDurationSeconds ? d : throw new UsageException("tcpdump: invalid duration"); break;
                case 'e': ether = true; break;
                case 'q': q = true; break;
                case 't': t++; break;
                case 'v': v++; break;
                case 'x': x++; break;
                case 'X': bigX++; break;
                case 'A': a++; break;
                case 'n':
                case 'l':
                case 'p':
                case 'U':
                    break; // numeric output is all Vimage prints; line buffering and packet-buffered writes are what it does
                default: throw Unsupported.Option("tcpdump", ch, "not supported in Vimage");
            }
        }

        var printer = new TcpdumpPrinter(new TcpdumpFlags(t, v, ether, q, x, bigX, a));
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

        if (read is not null)
        {
            return TcpdumpRead.Run(context, read, file, count, filter, printer);
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

            long received = Capture(context, ifp, file, count, filter, done, printer, snaplen, out long captured, out long lost);
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
        TcpdumpPrinter printer, int snaplen, out long captured, out long lost)
    {
        long seen = 0, dropped = 0, tapped = 0;
        PcapWriter? pcap = file is null ? null : OpenPcap(context, file, snaplen);
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
            Listening(context, ifp.Name, snaplen);
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
                    if (lines.Reader.Count >= QueueLimit || !lines.Writer.TryWrite(Print(printer, frame, snaplen, micros)))
                    {
                        Interlocked.Increment(ref dropped);
                    }

                    if (count != 0 && Interlocked.Read(ref seen) >= count)
                    {
                        done.Cancel();
                    }
                }
            });
            Listening(context, ifp.Name, snaplen);
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
    private static void Listening(CommandContext context, string ifname, int snaplen)
        => context.Err.WriteLine($"tcpdump: listening on {ifname}, link-type EN10MB (Ethernet), snapshot length {snaplen} bytes");

    /// <summary>One packet's text, cut to the snapshot length as bpf would have cut it (the printer is not thread-safe).</summary>
    private static string Print(TcpdumpPrinter printer, ReadOnlySpan<byte> frame, int snaplen, long micros)
    {
        lock (printer)
        {
            return printer.Format(frame[..Math.Min(frame.Length, snaplen)], frame.Length, micros);
        }
    }

    /// <summary>-s: tcpdump's rules (0 means the default 262144; outside 0..262144 or not a number is an error).</summary>
    private static int Snaplen(string text)
    {
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) || n < 0 || n > PcapFormat.DefaultSnapLength)
        {
            throw new CommandException($"tcpdump: invalid snaplen {text} (must be >= 0 and <= {PcapFormat.DefaultSnapLength})");
        }

        return n == 0 ? PcapFormat.DefaultSnapLength : n;
    }

    /// <summary>pcap_dump_open: a file that cannot be created is tcpdump's "PATH: strerror" and exit 1.</summary>
    internal static PcapWriter OpenPcap(CommandContext context, string path, int snaplen)
    {
        try
        {
            return path.Length > 0 ? new PcapWriter(context.ResolvePath(path), snaplen) : throw new FileNotFoundException();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new CommandException($"tcpdump: {path}: {FileError(context, path, e)}");
        }
    }

    /// <summary>The strerror text tcpdump prints for a file it cannot open.</summary>
    internal static string FileError(CommandContext context, string path, Exception e) => e switch
    {
        _ when path.Length > 0 && Directory.Exists(context.ResolvePath(path)) => "Is a directory",
        DirectoryNotFoundException or FileNotFoundException or ArgumentException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        PathTooLongException => "File name too long",
        _ => "Input/output error",
    };
}
