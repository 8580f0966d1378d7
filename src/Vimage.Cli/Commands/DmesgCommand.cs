using Vimage.Net.Arp;
using Vimage.Net.Ipfw;

namespace Vimage.Cli.Commands;

/// <summary>
/// The host's message buffer (kern/subr_msgbuf.c): what the stacks log with log(9) — ARP_LOG's "arp: ..." lines,
/// ipfw's logging — kept in arrival order, the oldest dropped beyond <see cref="Capacity"/> lines as the kernel's
/// ring overwrites them. Shared by every vnet, as FreeBSD's msgbuf is.
/// </summary>
public static class KernelLog
{
    /// <summary>Lines kept (msgbuf's ring, counted in lines).</summary>
    public const int Capacity = 1000;

    private static readonly Queue<string> Lines = new();
    private static int s_attached;

    /// <summary>Starts collecting (idempotent): every command dispatcher does it when it is created.</summary>
    public static void Attach()
    {
        if (Interlocked.Exchange(ref s_attached, 1) == 0)
        {
            ArpLayer.Logged += Append;
            IpFw.Logged += Append;
        }
    }

    public static void Append(string line)
    {
        lock (Lines)
        {
            Lines.Enqueue(line);
            while (Lines.Count > Capacity)
            {
                Lines.Dequeue();
            }
        }
    }

    public static string[] Snapshot(bool clear)
    {
        lock (Lines)
        {
            string[] all = [.. Lines];
            if (clear)
            {
                Lines.Clear();
            }

            return all;
        }
    }
}

/// <summary>dmesg(8): the message buffer; -c clears it after printing, -a is accepted (every line is a kernel line).</summary>
public sealed class DmesgCommand : ICommand
{
    public DmesgCommand() => KernelLog.Attach();

    public string Name => "dmesg";

    public string Usage => "dmesg [-ac] [-M core [-N system]]";

    public int Run(CommandContext context, string[] args)
    {
        bool clear = false;
        var getopt = new Getopt("dmesg", args, "acM:N:");
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            switch (ch)
            {
                case 'a':
                    break;
                case 'c':
                    clear = true;
                    break;
                default:
                    throw Unsupported.Option("dmesg", ch, "reading a crash dump is not supported in Vimage");
            }
        }

        if (getopt.Optind < args.Length)
        {
            throw new UsageException("");
        }

        foreach (string line in KernelLog.Snapshot(clear))
        {
            context.Out.WriteLine(line);
        }

        return 0;
    }
}
