using System.Globalization;
using System.Text;

namespace Vimage.Cli.Commands.Tcpdump;

/// <summary>
/// tcpdump's packet-independent printing: the timestamp column (-t/-tt/-ttt/-tttt/-ttttt, print.c ts_print) and the
/// -x/-X/-A dumps (print-ascii.c hex_print_with_offset, hex_and_ascii_print_with_offset, ascii_print), byte for byte.
/// </summary>
internal static class TcpdumpDump
{
    private const string Indent = "\n\t";

    /// <summary>ND_ASCII_ISGRAPH: printable and not a space.</summary>
    private static bool IsGraph(byte c) => c > 0x20 && c <= 0x7e;

    /// <summary>ts_print: <paramref name="tflag"/> as tcpdump counts -t letters (0 = default time of day, 1 = none).</summary>
    public static void Timestamp(StringBuilder sb, int tflag, long micros, long previous, long first)
    {
        switch (tflag)
        {
            case 0:
                Clock(sb, micros % 86_400_000_000L);
                sb.Append(' ');
                break;
            case 1:
                break;
            case 2:
                sb.Append(CultureInfo.InvariantCulture, $"{micros / 1_000_000}.{micros % 1_000_000:D6} ");
                break;
            case 3:
            case 5:
                long delta = micros - (tflag == 3 ? previous : first);
                sb.Append(delta < 0 ? '-' : ' '); // ts_format's sign column
                delta = Math.Abs(delta);

                Clock(sb, delta);
                sb.Append(' ');
                break;
            default:
                sb.Append(DateTimeOffset.FromUnixTimeMilliseconds(micros / 1000).UtcDateTime.ToString("yyyy-MM-dd ", CultureInfo.InvariantCulture));
                Clock(sb, micros % 86_400_000_000L);
                sb.Append(' ');
                break;
        }
    }

    /// <summary>ts_format: HH:MM:SS.uuuuuu (hours not wrapped).</summary>
    private static void Clock(StringBuilder sb, long micros)
    {
        long sec = micros / 1_000_000;
        sb.Append(CultureInfo.InvariantCulture, $"{sec / 3600:D2}:{sec % 3600 / 60:D2}:{sec % 60:D2}.{micros % 1_000_000:D6}");
    }

    /// <summary>pretty_print_packet's dump after the protocol line: -X/-XX, else -x/-xx, else -A/-AA.</summary>
    public static void Append(StringBuilder sb, ReadOnlySpan<byte> frame, int linkHeader, int xflag, int bigX, int aflag)
    {
        if (bigX > 0)
        {
            HexAndAscii(sb, bigX > 1 ? frame : frame[Math.Min(linkHeader, frame.Length)..]);
        }
        else if (xflag > 0)
        {
            Hex(sb, xflag > 1 ? frame : frame[Math.Min(linkHeader, frame.Length)..]);
        }
        else if (aflag > 0)
        {
            Ascii(sb, aflag > 1 ? frame : frame[Math.Min(linkHeader, frame.Length)..]);
        }
    }

    /// <summary>hex_print_with_offset: 16-bit words, eight to a line.</summary>
    public static void Hex(StringBuilder sb, ReadOnlySpan<byte> data)
    {
        int i = 0, offset = 0, words = data.Length / 2;
        for (int w = 0; w < words; w++)
        {
            if (i++ % 8 == 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{Indent}0x{offset:x4}: ");
                offset += 16;
            }

            sb.Append(CultureInfo.InvariantCulture, $" {data[2 * w]:x2}{data[(2 * w) + 1]:x2}");
        }

        if ((data.Length & 1) != 0)
        {
            if (i % 8 == 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{Indent}0x{offset:x4}: ");
            }

            sb.Append(CultureInfo.InvariantCulture, $" {data[^1]:x2}");
        }
    }

    /// <summary>hex_and_ascii_print_with_offset: the hex column padded to 40 characters, two spaces, then the text.</summary>
    public static void HexAndAscii(StringBuilder sb, ReadOnlySpan<byte> data)
    {
        var hex = new StringBuilder(40);
        var text = new StringBuilder(16);
        for (int offset = 0; offset < data.Length; offset += 16)
        {
            ReadOnlySpan<byte> line = data.Slice(offset, Math.Min(16, data.Length - offset));
            hex.Clear();
            text.Clear();
            for (int j = 0; j < line.Length; j += 2)
            {
                hex.Append(' ').Append(line[j].ToString("x2", CultureInfo.InvariantCulture));
                if (j + 1 < line.Length)
                {
                    hex.Append(line[j + 1].ToString("x2", CultureInfo.InvariantCulture));
                }
            }

            foreach (byte c in line)
            {
                text.Append(IsGraph(c) ? (char)c : '.');
            }

            sb.Append(CultureInfo.InvariantCulture, $"{Indent}0x{offset:x4}: {hex,-40}  {text}");
        }
    }

    /// <summary>ascii_print: a newline, then printable bytes, tabs, spaces and newlines as they are, others as '.'; a CR before LF is dropped.</summary>
    public static void Ascii(StringBuilder sb, ReadOnlySpan<byte> data)
    {
        sb.Append('\n');
        for (int i = 0; i < data.Length; i++)
        {
            byte c = data[i];
            if (c == '\r')
            {
                if (i + 1 == data.Length || data[i + 1] != '\n')
                {
                    sb.Append('.');
                }
            }
            else
            {
                sb.Append(IsGraph(c) || c is (byte)'\t' or (byte)' ' or (byte)'\n' ? (char)c : '.');
            }
        }
    }
}
