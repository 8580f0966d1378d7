using Vimage.Net.Bpf;

namespace Vimage.Cli.Commands.Tcpdump;

/// <summary>
/// tcpdump -r FILE: prints (or with -w copies) the packets of a pcap file that pass the filter, at most -c of them,
/// after libpcap's "reading from file" line; no statistics, as tcpdump prints none for a file.
/// </summary>
internal static class TcpdumpRead
{
    public static int Run(CommandContext context, string path, string? write, long count, BpfProgram? filter, TcpdumpPrinter printer)
    {
        PcapReader reader;
        try
        {
            reader = new PcapReader(context.ResolvePath(path));
        }
        catch (InvalidDataException)
        {
            throw new CommandException("tcpdump: unknown file format");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new CommandException($"tcpdump: {path}: {TcpdumpCommand.FileError(context, path, e)}");
        }

        using (reader)
        {
            if (reader.LinkType != PcapLinkType.Ethernet)
            {
                throw new CommandException($"tcpdump: {path}: link-type {(uint)reader.LinkType} not supported in Vimage (Ethernet only)");
            }

            context.Err.WriteLine($"reading from file {path}, link-type EN10MB (Ethernet), snapshot length {reader.SnapLength}");
            using PcapWriter? copy = write is null ? null : TcpdumpCommand.OpenPcap(context, write, (int)Math.Min(reader.SnapLength, PcapFormat.DefaultSnapLength));
            long n = 0;
            try
            {
                while (!context.Cancel.IsCancellationRequested && reader.TryReadNext(out PcapRecord record))
                {
                    if (filter?.Matches(record.Data) == false)
                    {
                        continue;
                    }

                    if (copy is not null)
                    {
                        copy.Write(record.Data, record.UnixMicroseconds);
                    }
                    else
                    {
                        context.Out.WriteLine(printer.Format(record.Data, record.OriginalLength, record.UnixMicroseconds));
                    }

                    if (count != 0 && ++n >= count)
                    {
                        break;
                    }
                }
            }
            catch (InvalidDataException e)
            {
                context.Err.WriteLine("tcpdump: pcap_loop: " + e.Message);
                return 1;
            }
        }

        return 0;
    }
}
