using System.Globalization;
using Vimage.Net.Dummynet;
using static Vimage.Cli.Commands.Ipfw.IpfwException;

namespace Vimage.Cli.Commands.Ipfw;

/// <summary>
/// ipfw_config_pipe (sbin/ipfw/dummynet.c) for bw, delay, plr, queue and the Vimage netem extensions (jitter,
/// distribution, gilbert, dup, reorder, corrupt, seed). The whole configuration is parsed before anything is
/// applied.
/// </summary>
public static class DummynetParser
{
    public static DnPipeConfig ParsePipe(string[] av, int i, int slotLimit, int byteLimit, out int pipeOfQueue, out int weight)
    {
        var c = new DnPipeConfig();
        pipeOfQueue = 0;
        weight = 1;
        while (i < av.Length)
        {
            string tok = av[i++];
            string Arg(string message) => i < av.Length ? av[i++] : throw new IpfwException(EX_USAGE, message);
            switch (tok)
            {
                case "bw" or "bandwidth":
                    c = c with { Bandwidth = Bandwidth(Arg("bandwidth needs argument")) };
                    break;
                case "delay":
                    c = c with { DelayUs = Duration(Arg("delay needs argument 0..10000ms"), "delay") };
                    break;
                case "plr":
                    c = c with { Plr = Probability(Arg("plr needs argument 0..1"), "plr") };
                    break;
                case "queue":
                    string q = Arg("queue needs argument");
                    if (q.EndsWith("KB", StringComparison.OrdinalIgnoreCase) || q.EndsWith('B') || q.EndsWith("Kbytes", StringComparison.OrdinalIgnoreCase))
                    {
                        long bytes = Scaled(q.TrimEnd('B', 'b', 's', 'e', 't', 'y'), "queue");
                        if (bytes > byteLimit)
                        {
                            throw new IpfwException(EX_DATAERR, $"queue size must be < {byteLimit}B");
                        }

                        c = c with { QueueBytes = (int)bytes };
                    }
                    else
                    {
                        if (!int.TryParse(q, NumberStyles.None, CultureInfo.InvariantCulture, out int slots) || slots < 2 || slots > slotLimit)
                        {
                            throw new IpfwException(EX_DATAERR, $"2 <= queue size <= {slotLimit}");
                        }

                        c = c with { QueueSlots = slots, QueueBytes = 0 };
                    }

                    break;
                case "pipe":
                    pipeOfQueue = Number(Arg("pipe needs pipe_number"), "pipe");
                    break;
                case "weight":
                    weight = Number(Arg("weight needs argument"), "weight");
                    if (weight > 100)
                    {
                        throw new IpfwException(EX_DATAERR, "weight must be <= 100");
                    }

                    break;
                case "jitter":
                    c = c with { JitterUs = Duration(Arg("jitter needs argument"), "jitter") };
                    break;
                case "distribution":
                    string d = Arg("distribution needs uniform or normal");
                    c = c with
                    {
                        JitterDistribution = d switch
                        {
                            "uniform" => DnJitter.Uniform,
                            "normal" => DnJitter.Normal,
                            _ => throw new IpfwException(EX_DATAERR, $"unrecognised option ``{d}''"),
                        },
                    };
                    break;
                case "gilbert":
                    double p = Probability(Arg("gilbert needs p r [lossbad [lossgood]]"), "gilbert p");
                    double r = Probability(Arg("gilbert needs p r [lossbad [lossgood]]"), "gilbert r");
                    c = c with { GeP = p, GeR = r };
                    if (i < av.Length && IsNumber(av[i]))
                    {
                        c = c with { GeLossBad = Probability(av[i++], "gilbert lossbad") };
                        if (i < av.Length && IsNumber(av[i]))
                        {
                            c = c with { GeLossGood = Probability(av[i++], "gilbert lossgood") };
                        }
                    }

                    break;
                case "dup":
                    c = c with { Dup = Probability(Arg("dup needs argument 0..1"), "dup") };
                    break;
                case "reorder":
                    c = c with { Reorder = Probability(Arg("reorder needs argument 0..1"), "reorder") };
                    break;
                case "corrupt":
                    c = c with { Corrupt = Probability(Arg("corrupt needs argument 0..1"), "corrupt") };
                    break;
                case "buckets":
                    string nb = Arg("buckets needs argument");
                    if (!int.TryParse(nb, NumberStyles.None, CultureInfo.InvariantCulture, out int buckets) || buckets < 1 || buckets > 65536)
                    {
                        throw new IpfwException(EX_DATAERR, $"invalid bucket count {nb}");
                    }

                    c = c with { Buckets = buckets };
                    break;
                case "mask":
                    c = c with { Mask = Mask(av, ref i) };
                    break;
                case "seed":
                    string s = Arg("seed needs argument");
                    if (!ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed))
                    {
                        throw new IpfwException(EX_DATAERR, $"invalid seed {s}");
                    }

                    c = c with { Seed = seed };
                    break;
                default:
                    throw new IpfwException(EX_DATAERR, $"unrecognised option ``{tok}''");
            }
        }

        return c;
    }

    /// <summary>
    /// ipfw_config_pipe's TOK_MASK: "all", or pairs of src-ip|dst-ip|src-port|dst-port|proto and a value (hex,
    /// decimal, or /len for addresses), until a word that is not a mask field.
    /// </summary>
    private static DnFlowMask Mask(string[] av, ref int i)
    {
        uint src = 0, dst = 0;
        ushort sport = 0, dport = 0;
        byte proto = 0;
        bool any = false;
        while (i < av.Length)
        {
            string field = av[i];
            if (field == "all")
            {
                (src, dst, sport, dport, proto) = (uint.MaxValue, uint.MaxValue, ushort.MaxValue, ushort.MaxValue, byte.MaxValue);
                i++;
                any = true;
                continue;
            }

            if (field is not ("src-ip" or "dst-ip" or "src-port" or "dst-port" or "proto"))
            {
                break;
            }

            if (i + 1 >= av.Length)
            {
                throw new IpfwException(EX_USAGE, "mask: value missing");
            }

            string text = av[i + 1];
            ulong value;
            if (text.StartsWith('/'))
            {
                if (!int.TryParse(text.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int len) || len > 32)
                {
                    throw new IpfwException(EX_DATAERR, $"mask: bad value {text}");
                }

                value = len == 0 ? 0 : 0xffffffffUL << (32 - len) & 0xffffffffUL;
            }
            else if (!(text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
                : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value)))
            {
                throw new IpfwException(EX_DATAERR, $"mask: bad value {text}");
            }

            switch (field)
            {
                case "src-ip" or "dst-ip":
                    if (value > uint.MaxValue)
                    {
                        throw new IpfwException(EX_DATAERR, "mask: value too large");
                    }

                    (src, dst) = field == "src-ip" ? ((uint)value, dst) : (src, (uint)value);
                    break;
                case "src-port" or "dst-port":
                    if (value > 0xffff)
                    {
                        throw new IpfwException(EX_DATAERR, "port mask must be 16 bit");
                    }

                    (sport, dport) = field == "src-port" ? ((ushort)value, dport) : (sport, (ushort)value);
                    break;
                default:
                    if (value > 0xff)
                    {
                        throw new IpfwException(EX_DATAERR, "proto mask must be 8 bit");
                    }

                    proto = (byte)value;
                    break;
            }

            i += 2;
            any = true;
        }

        if (!any)
        {
            throw new IpfwException(EX_USAGE, "mask: missing field");
        }

        var mask = new DnFlowMask(src, dst, sport, dport, proto);
        return mask;
    }

    private static bool IsNumber(string s) => s.Length > 0 && (char.IsAsciiDigit(s[0]) || s[0] == '.');

    private static int Number(string s, string what) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && n <= DnIo.MaxNumber
            ? n : throw new IpfwException(EX_DATAERR, $"illegal {what} number {s}");

    /// <summary>read_bandwidth: N[K|M|G]{bit/s|Byte/s}, bits by default.</summary>
    public static long Bandwidth(string text)
    {
        string t = text;
        bool bytes = false;
        foreach (string unit in new[] { "bit/s", "bits/s", "bps", "bit" })
        {
            if (t.EndsWith(unit, StringComparison.OrdinalIgnoreCase))
            {
                t = t[..^unit.Length];
                break;
            }
        }

        foreach (string unit in new[] { "Byte/s", "Bytes/s", "B/s", "Byte", "B" })
        {
            if (t.EndsWith(unit, StringComparison.Ordinal))
            {
                t = t[..^unit.Length];
                bytes = true;
                break;
            }
        }

        long bw = Scaled(t, "bandwidth") * (bytes ? 8 : 1);
        if (bw > 100_000_000_000)
        {
            throw new IpfwException(EX_DATAERR, "bandwidth too large");
        }

        return bw;
    }

    private static long Scaled(string t, string what)
    {
        long scale = 1;
        if (t.Length > 0)
        {
            scale = char.ToUpperInvariant(t[^1]) switch { 'K' => 1000, 'M' => 1_000_000, 'G' => 1_000_000_000, _ => 1 };
            if (scale != 1)
            {
                t = t[..^1];
            }
        }

        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) || v < 0)
        {
            throw new IpfwException(EX_DATAERR, $"{what}: invalid value {t}");
        }

        return (long)(v * scale);
    }

    /// <summary>A delay in ms by default (dummynet's unit), or with a unit: us, ms, s.</summary>
    public static long Duration(string text, string what)
    {
        double scale = 1000;
        string t = text;
        if (t.EndsWith("us", StringComparison.Ordinal))
        {
            scale = 1;
            t = t[..^2];
        }
        else if (t.EndsWith("ms", StringComparison.Ordinal))
        {
            t = t[..^2];
        }
        else if (t.EndsWith('s'))
        {
            scale = 1_000_000;
            t = t[..^1];
        }

        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v) || v < 0 || v * scale > 10_000_000)
        {
            throw new IpfwException(EX_DATAERR, $"{what} needs argument 0..10000ms");
        }

        return (long)(v * scale);
    }

    /// <summary>A probability 0..1, or a percentage ("1%").</summary>
    public static double Probability(string text, string what)
    {
        bool percent = text.EndsWith('%');
        string t = percent ? text[..^1] : text;
        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double v))
        {
            throw new IpfwException(EX_DATAERR, $"{what} needs argument 0..1");
        }

        v = percent ? v / 100 : v;
        if (v < 0 || v > 1)
        {
            throw new IpfwException(EX_DATAERR, $"{what} needs argument 0..1");
        }

        return v;
    }
}
