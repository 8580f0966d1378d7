using System.Diagnostics;
using System.Text;
using Vimage.Net;

namespace Vimage.Cli.Commands;

/// <summary>netstat -w wait [-I interface] [-q howmany] [-d] [-h]: if.c's sidewaysintpr.</summary>
public sealed partial class NetstatCommand
{
    /// <summary>sidewaysintpr repeats its two header lines after this many rows.</summary>
    private const int BannerRows = 21;

    /// <summary>atoi(3): leading blanks, an optional sign, digits; anything else ends it (0 when there are none).</summary>
    private static int Atoi(string text)
    {
        ReadOnlySpan<char> s = text.AsSpan().TrimStart(" \t\n\v\f\r");
        int sign = 1, i = 0;
        if (s.Length > 0 && s[0] is '-' or '+')
        {
            sign = s[0] == '-' ? -1 : 1;
            i++;
        }

        long value = 0;
        for (; i < s.Length && char.IsAsciiDigit(s[i]) && value <= int.MaxValue; i++)
        {
            value = value * 10 + (s[i] - '0');
        }

        return (int)Math.Clamp(sign * value, int.MinValue, int.MaxValue);
    }

    /// <summary>
    /// A running summary of the interfaces' counters (or one interface's, -I): every <c>wait</c> seconds a line of
    /// the differences over that interval, the two header lines again every 21 lines, until <c>-q</c> lines or
    /// the client goes away. The first line covers the first interval (the totals are the baseline).
    /// </summary>
    private static int SidewaysIntpr(CommandContext context, Options o, Xo xo)
    {
        long[] old = FillIftot(context, o.Interface), now;
        var clock = Stopwatch.StartNew();
        xo.OpenList("interface-statistics");
        int outputs = o.Outputs, line = 0;
        for (long tick = 1; ; tick++)
        {
            if (line == 0)
            {
                var banner = new StringBuilder();
                banner.Append(NetFormat.Invariant($"{"input",17} {o.Interface ?? "(Total)",14} {"output",16}\n"));
                banner.Append(NetFormat.Invariant($"{"packets",10} {"errs",5} {"idrops",5} {"bytes",10} {"packets",10} {"errs",5} {"bytes",10} {"colls",5}"));
                xo.Text(banner.Append(o.Drops ? NetFormat.Invariant($" {"drops",5}\n") : "\n").ToString());
            }

            if (outputs != 0 && --outputs == 0)
            {
                break;
            }

            // setitimer's period: the next line is due at tick * wait from the start, however long printing took.
            long due = tick * o.Interval * 1000L - clock.ElapsedMilliseconds;
            if (due > 0 && context.Cancel.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(due)))
            {
                context.Cancel.ThrowIfCancellationRequested();
            }

            now = FillIftot(context, o.Interface);
            xo.OpenInstance();
            var row = new StringBuilder();
            string[] keys = ["received-packets", "received-errors", "dropped-packets", "received-bytes", "sent-packets", "send-errors", "sent-bytes", "collisions"];
            int[] widths = [10, 5, 5, 10, 10, 5, 10, 5];
            for (int i = 0; i < keys.Length; i++)
            {
                long delta = now[i] - old[i];
                string shown = o.Human ? Humanize(delta, keys[i].EndsWith("bytes", StringComparison.Ordinal) ? 1024 : 1000) : NetFormat.Invariant($"{delta}");
                row.Append(shown.PadLeft(widths[i])).Append(i < keys.Length - 1 ? " " : "");
                xo.Field(keys[i], delta);
            }

            if (o.Drops)
            {
                long drops = now[^1] - old[^1];
                row.Append(' ').Append((o.Human ? Humanize(drops, 1000) : NetFormat.Invariant($"{drops}")).PadLeft(5));
                xo.Field("dropped-packets", drops);
            }

            xo.Text(row.Append('\n').ToString());
            xo.Close();
            old = now;
            if (++line == BannerRows)
            {
                line = 0;
            }
        }

        xo.Close();
        return 0;
    }

    /// <summary>fill_iftot: the link counters summed over every interface, or those of -I's (EX_DATAERR when absent).</summary>
    private static long[] FillIftot(CommandContext context, string? name)
    {
        var sum = new long[9];
        bool found = false;
        foreach (Ifnet ifp in NetFormat.Interfaces())
        {
            if (name is not null && ifp.Name != name)
            {
                continue;
            }

            found = true;
            IfCounter[] counters =
            [
                IfCounter.IFCOUNTER_IPACKETS, IfCounter.IFCOUNTER_IERRORS, IfCounter.IFCOUNTER_IQDROPS, IfCounter.IFCOUNTER_IBYTES,
                IfCounter.IFCOUNTER_OPACKETS, IfCounter.IFCOUNTER_OERRORS, IfCounter.IFCOUNTER_OBYTES, IfCounter.IFCOUNTER_COLLISIONS,
                IfCounter.IFCOUNTER_OQDROPS,
            ];
            for (int i = 0; i < counters.Length; i++)
            {
                sum[i] += ifp.Counter(counters[i]);
            }
        }

        if (name is not null && !found)
        {
            context.Out.Flush();
            throw new CommandException($"netstat: interface {name} not found", 65); // xo_err(EX_DATAERR, ...)
        }

        return sum;
    }
}
