using System.Globalization;
using System.Text;
using Vimage.Core;

namespace Vimage.Cli.Commands;

/// <summary>
/// sysctl(8) as sbin/sysctl/sysctl.c: names and name=value (or name:value) items, each reported or set in the
/// context's vnet; show_var's output for -n -N -e -d -t -x -o -W -T; parse()'s messages ("unknown oid 'x'",
/// "invalid integer 'abc'", "oid 'x' is read only"...); the exit status is the number of failed items; usage()
/// exits 1. -f FILE reads items from a file (" at line N" in its messages).
/// </summary>
public sealed class SysctlCommand : ICommand
{
    private const string UsageText =
        "usage: sysctl [-bdehiNnoqTtWx] [ -B <bufsize> ] [-f filename] name[=value] ...\n" +
        "       sysctl [-bdehNnoqTtWx] [ -B <bufsize> ] -a";

    public string Name => "sysctl";

    public string Usage => UsageText["usage: ".Length..];

    private sealed class Flags
    {
        public bool A, D, E, I, BigN, N, O, Q, T, BigT, BigW, X;
    }

    private static CommandException UsageError(string? message = null)
        => new((message is null ? "" : message + "\n") + UsageText, 1);

    public int Run(CommandContext context, string[] args)
    {
        var f = new Flags();
        string? conffile = null;
        var getopt = new Getopt("sysctl", args, "AabB:def:hiNnoqtTwWxX");
        try
        {
            for (int ch; (ch = getopt.Next()) != -1;)
            {
                switch (ch)
                {
                    case 'A':
                        f.A = f.O = true; // compatibility: -a -o
                        break;
                    case 'a':
                        f.A = true;
                        break;
                    case 'b':
                        throw Unsupported.Option("sysctl", ch, "raw binary output is not supported in Vimage");
                    case 'B':
                    case 'h':
                    case 'w':
                        break; // buffer size: not needed; -h: the C locale has no thousands separator; -w: ignored
                    case 'd':
                        f.D = true;
                        break;
                    case 'e':
                        f.E = true;
                        break;
                    case 'f':
                        conffile = getopt.Optarg;
                        break;
                    case 'i':
                        f.I = true;
                        break;
                    case 'N':
                        f.BigN = true;
                        break;
                    case 'n':
                        f.N = true;
                        break;
                    case 'o':
                        f.O = true;
                        break;
                    case 'q':
                        f.Q = true;
                        break;
                    case 't':
                        f.T = true;
                        break;
                    case 'T':
                        f.BigT = true;
                        break;
                    case 'W':
                        f.BigW = true;
                        break;
                    case 'X':
                        f.A = f.X = true; // compatibility: -a -x
                        break;
                    default:
                        f.X = true;
                        break;
                }
            }
        }
        catch (UsageException e)
        {
            throw UsageError(e.Message);
        }

        string[] items = getopt.Operands;
        if (f.BigN && f.N)
        {
            throw UsageError();
        }

        var output = new StringBuilder();
        try
        {
            if (f.A && items.Length == 0)
            {
                ShowAll(context, f, "", output, explicitNode: false);
                return 0;
            }

            if (items.Length == 0 && conffile is null)
            {
                throw UsageError();
            }

            int warncount = 0;
            if (conffile is not null)
            {
                warncount += ParseFile(context, f, conffile, output);
            }

            foreach (string item in items)
            {
                warncount += Parse(context, f, item, 0, output);
            }

            return warncount;
        }
        finally
        {
            context.Out.Write(output.ToString());
        }
    }

    /// <summary>parsefile(): one item a line, '#' comments, blank lines skipped; a missing file is EX_NOINPUT.</summary>
    private static int ParseFile(CommandContext context, Flags f, string name, StringBuilder output)
    {
        string path = context.ResolvePath(name);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CommandException($"sysctl: {name}: No such file or directory", 66);
        }

        int warncount = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            int hash = line.IndexOf('#');
            if (hash >= 0)
            {
                line = line[..hash];
            }

            line = line.Trim();
            if (line.Length > 0)
            {
                warncount += Parse(context, f, line, i + 1, output);
            }
        }

        return warncount;
    }

    /// <summary>parse(): one name or name=value item; returns 1 when it failed (its warning printed unless -q).</summary>
    private static int Parse(CommandContext context, Flags f, string item, int lineno, StringBuilder output)
    {
        string at = lineno > 0 ? NetFormat.Invariant($" at line {lineno}") : "";
        int delimiter = item.IndexOfAny(['=', ':']);
        string name = (delimiter < 0 ? item : item[..delimiter]).TrimEnd();
        string? value = null;
        if (delimiter >= 0)
        {
            if (f.BigT || f.BigW)
            {
                Flush(context, output);
                throw UsageError("sysctl: Can't set variables when using -T or -W");
            }

            value = item[(delimiter + 1)..].TrimStart();
            if (value.Length > 0 && value[0] is '"' or '\'')
            {
                value = value.Length > 1 && value[^1] == value[0] ? value[1..^1] : value[1..];
            }
        }

        IReadOnlyList<SysctlOid> below;
        try
        {
            // name2oid("") fails: an empty name is unknown, not the whole tree.
            below = name.Length == 0 ? [] : Sysctl.Walk(name, includeOpaque: true, includeSkipped: true);
        }
        catch (SysctlException)
        {
            below = [];
        }

        SysctlOid? leaf = below.Count == 1 && below[0].Name == name ? below[0] : null;
        if (below.Count == 0)
        {
            if (f.I)
            {
                return 0;
            }

            Warn(context, f, output, $"sysctl: unknown oid '{name}'{at}");
            return 1;
        }

        if (value is null || f.D)
        {
            if (leaf is null)
            {
                ShowAll(context, f, name, output, explicitNode: true);
            }
            else if (ShowVar(context, f, leaf, output))
            {
                output.Append('\n');
            }

            return 0;
        }

        if (leaf is null)
        {
            Warn(context, f, output, $"sysctl: oid '{name}' isn't a leaf node{at}", quietable: false);
            return 1;
        }

        if (!leaf.IsWritable)
        {
            Warn(context, f, output, (leaf.Flags & SysctlFlags.TUN) != 0
                ? $"sysctl: oid '{name}' is a read only tunable{at}\nsysctl: Tunable values are set in /boot/loader.conf"
                : $"sysctl: oid '{name}' is read only{at}", quietable: false);
            return 1;
        }

        if (leaf.Type is SysctlType.Opaque or SysctlType.Node)
        {
            Warn(context, f, output, NetFormat.Invariant($"sysctl: oid '{name}' is type {CtlType(leaf.Type)}, cannot set that{at}"), quietable: false);
            return 1;
        }

        object newValue = value;
        if (leaf.Type != SysctlType.String)
        {
            if (value.Length == 0)
            {
                Warn(context, f, output, "sysctl: empty numeric value", quietable: false);
                return 1;
            }

            // parse_numeric for each " ,"-separated token: strtol/strtoul base 0, the whole token consumed.
            string? last = null;
            foreach (string token in value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries))
            {
                if (!RouteCommand.TryStrtol(token, out long n))
                {
                    Warn(context, f, output, $"sysctl: invalid {TypeName(leaf.Type)} '{token}'{at}", quietable: false);
                    return 1;
                }

                last = n.ToString(CultureInfo.InvariantCulture);
            }

            newValue = last ?? value;
        }

        // Show the current value, then set and show the new one ("name: old -> new").
        bool shown = ShowVar(context, f, leaf, output);
        try
        {
            Sysctl.Set(name, newValue, context.Vnet, privileged: true);
        }
        catch (SysctlException e)
        {
            if (shown)
            {
                output.Append('\n');
            }

            string errno = e.Error switch
            {
                SysctlError.PermissionDenied => "Operation not permitted",
                SysctlError.UnknownOid => "No such file or directory",
                SysctlError.NoSuchObject => "No such process",
                SysctlError.AccessDenied => "Permission denied",
                SysctlError.IsNode => "Is a directory",
                SysctlError.NotCapable => "Capabilities insufficient",
                _ => "Invalid argument",
            };
            Warn(context, f, output, $"sysctl: {item}{at}: {errno}", quietable: false);
            return 1;
        }

        output.Append(" -> ");
        bool n0 = f.N;
        f.N = true;
        if (ShowVar(context, f, leaf, output))
        {
            output.Append('\n');
        }

        f.N = n0;
        return 0;
    }

    private static void Warn(CommandContext context, Flags f, StringBuilder output, string message, bool quietable = true)
    {
        if (quietable && f.Q)
        {
            return;
        }

        Flush(context, output);
        context.Err.WriteLine(message);
    }

    /// <summary>Keeps stdout and stderr in the order sysctl (unbuffered) writes them.</summary>
    private static void Flush(CommandContext context, StringBuilder output)
    {
        context.Out.Write(output.ToString());
        output.Clear();
    }

    /// <summary>sysctl_all(): every leaf under <paramref name="node"/> ("" for -a), skip nodes honoured.</summary>
    private static void ShowAll(CommandContext context, Flags f, string node, StringBuilder output, bool explicitNode)
    {
        bool noSkip = explicitNode || f.BigN || f.D || f.T;
        foreach (SysctlOid oid in Sysctl.Walk(node, includeOpaque: true, includeSkipped: noSkip))
        {
            if (ShowVar(context, f, oid, output))
            {
                output.Append('\n');
            }
        }
    }

    /// <summary>show_var(): true when something was printed (the caller ends the line).</summary>
    private static bool ShowVar(CommandContext context, Flags f, SysctlOid oid, StringBuilder output)
    {
        if (!oid.IsReadable)
        {
            return false;
        }

        if (f.BigW && (!oid.IsWritable || (oid.Flags & SysctlFlags.STATS) != 0 || oid.Type == SysctlType.Opaque))
        {
            return false; // -W: writable, not statistics
        }

        if (f.BigT && (oid.Flags & SysctlFlags.TUN) == 0)
        {
            return false; // -T: tunables only
        }

        if (f.BigN)
        {
            output.Append(oid.Name);
            return true;
        }

        string sep = f.E ? "=" : ": ";
        if (f.T || f.D)
        {
            if (!f.N)
            {
                output.Append(oid.Name).Append(sep);
            }

            if (f.T && f.D)
            {
                output.Append(TypeName(oid.Type)).Append(sep);
            }
            else if (f.T)
            {
                output.Append(TypeName(oid.Type));
                return true;
            }

            output.Append(oid.Description);
            return true;
        }

        object? value = Sysctl.Get(oid, context.Vnet);
        if (oid.Type == SysctlType.Opaque)
        {
            if (!f.O && !f.X)
            {
                return false; // opaques are not fetched without -o or -x
            }

            byte[] bytes = OpaqueBytes(value);
            if (!f.N)
            {
                output.Append(oid.Name).Append(sep);
            }

            output.Append(NetFormat.Invariant($"Format:{oid.Format} Length:{bytes.Length} Dump:0x"));
            int shownBytes = f.X ? bytes.Length : Math.Min(16, bytes.Length);
            for (int i = 0; i < shownBytes; i++)
            {
                output.Append(bytes[i].ToString("x2", CultureInfo.InvariantCulture));
            }

            if (!f.X && bytes.Length - shownBytes > 16)
            {
                output.Append("...");
            }

            return true;
        }

        if (!f.N)
        {
            output.Append(oid.Name).Append(sep);
        }

        if (f.X && oid.Type is not SysctlType.String and not SysctlType.Node)
        {
            output.Append(HexValue(oid.Type, value));
        }
        else
        {
            output.Append(Sysctl.FormatLine(oid, SysctlListOptions.ValuesOnly, context.Vnet));
        }

        return true;
    }

    /// <summary>printf("%#0*jx", hexlen, v): hexlen = 2 + digits of the type; C prints 0 without the 0x prefix.</summary>
    private static string HexValue(SysctlType type, object? value)
    {
        int size = type switch
        {
            SysctlType.Int or SysctlType.UInt => 4,
            SysctlType.Bool => 1,
            _ => 8,
        };
        ulong v = value switch
        {
            bool b => b ? 1UL : 0UL,
            int i => (uint)i,
            uint u => u,
            long l => size == 4 ? (uint)l : (ulong)l,
            ulong u => u,
            _ => 0,
        };
        int hexlen = 2 + ((size * 8) + 3) / 4;
        return v == 0 ? new string('0', hexlen) : "0x" + v.ToString("x", CultureInfo.InvariantCulture).PadLeft(hexlen - 2, '0');
    }

    /// <summary>A statistics struct as the kernel hands it out: its uint64 counters, little-endian.</summary>
    private static byte[] OpaqueBytes(object? value)
    {
        if (value is not PcpuStatSnapshot stats)
        {
            return [];
        }

        var bytes = new byte[stats.Values.Count * 8];
        for (int i = 0; i < stats.Values.Count; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), stats.Values[i]);
        }

        return bytes;
    }

    /// <summary>ctl_typename[].</summary>
    private static string TypeName(SysctlType type) => type switch
    {
        SysctlType.Int => "integer",
        SysctlType.UInt => "unsigned integer",
        SysctlType.Long => "long integer",
        SysctlType.U64 => "uint64_t",
        SysctlType.Bool => "uint8_t",
        SysctlType.String => "string",
        SysctlType.Opaque => "opaque",
        _ => "node",
    };

    /// <summary>CTLTYPE_* numbers (sys/sysctl.h).</summary>
    private static int CtlType(SysctlType type) => type switch
    {
        SysctlType.Node => 1,
        SysctlType.Int => 2,
        SysctlType.String => 3,
        SysctlType.Opaque => 5,
        SysctlType.UInt => 6,
        SysctlType.Long => 7,
        SysctlType.U64 => 9,
        _ => 0xa,
    };
}
