using Vimage.Net.Inet;

namespace Vimage.Cli.Commands;

/// <summary>
/// pr_pack's "Display any IP options" walk, byte for byte as ping.c does it: LSRR/SSRR and RR routes one address a
/// line, "(same route)" when a Record Route repeats the previous reply's, "NOP", "unknown option N" for the rest.
/// </summary>
internal sealed class PingIpOptions
{
    private readonly byte[] _oldRr = new byte[IpOptions.MaxLength];
    private int _oldRrLen;

    /// <summary>Writes the options of one reply (what follows the reply's line); a newline ends it unless flooding.</summary>
    public void Print(TextWriter w, ReadOnlySpan<byte> opts, bool flood)
    {
        int hlen = IpHeader.MinLength + opts.Length;
        for (int cp = 0; hlen > IpHeader.MinLength; --hlen, ++cp)
        {
            switch (At(opts, cp))
            {
                case IpOptions.EndOfList:
                    hlen = 0;
                    break;
                case IpOptions.LooseSourceRoute:
                case IpOptions.StrictSourceRoute:
                {
                    w.Write(At(opts, cp) == IpOptions.LooseSourceRoute ? "\nLSRR: " : "\nSSRR: ");
                    int j = At(opts, cp + 1) - IpOptions.MinOffset + 1;
                    hlen -= 2;
                    cp += 2;
                    if (j >= 4 && j <= hlen - IpHeader.MinLength)
                    {
                        PrintRoute(w, opts, ref cp, ref hlen, j);
                    }
                    else
                    {
                        w.Write("\t(truncated route)\n");
                    }

                    break;
                }

                case IpOptions.OptRecordRoute:
                {
                    int j = At(opts, cp + 1);
                    int i = At(opts, cp + 2);
                    hlen -= 2;
                    cp += 2;
                    i = Math.Min(i, j) - IpOptions.MinOffset + 1;
                    if (i < 0 || i > hlen - IpHeader.MinLength)
                    {
                        _oldRrLen = 0;
                        continue;
                    }

                    ReadOnlySpan<byte> route = opts.Slice(cp, i);
                    if (i == _oldRrLen && route.SequenceEqual(_oldRr.AsSpan(0, i)) && !flood)
                    {
                        w.Write("\t(same route)");
                        hlen -= i;
                        cp += i;
                        break;
                    }

                    _oldRrLen = i;
                    route.CopyTo(_oldRr);
                    w.Write("\nRR: ");
                    if (i >= 4 && i <= hlen - IpHeader.MinLength)
                    {
                        PrintRoute(w, opts, ref cp, ref hlen, i);
                    }
                    else
                    {
                        w.Write("\t(truncated route)");
                    }

                    break;
                }

                case IpOptions.NoOp:
                    w.Write("\nNOP");
                    break;
                default:
                    w.Write($"\nunknown option {At(opts, cp):x}");
                    break;
            }
        }

        if (!flood)
        {
            w.Write('\n');
        }
    }

    /// <summary>The addresses after a route option's pointer byte, one per line, tab first.</summary>
    private static void PrintRoute(TextWriter w, ReadOnlySpan<byte> opts, ref int cp, ref int hlen, int i)
    {
        while (true)
        {
            ++cp;
            Span<byte> a = [At(opts, cp), At(opts, cp + 1), At(opts, cp + 2), At(opts, cp + 3)];
            w.Write($"\t{InAddr.Read(a)}");
            hlen -= 4;
            cp += 3;
            i -= 4;
            if (i < 4)
            {
                break;
            }

            w.Write('\n');
        }
    }

    /// <summary>The option byte at <paramref name="i"/>, 0 past the end (ping reads its whole receive buffer).</summary>
    private static byte At(ReadOnlySpan<byte> opts, int i) => i < opts.Length ? opts[i] : (byte)0;
}
