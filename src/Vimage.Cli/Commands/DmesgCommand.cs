using Vimage.Core;
using Vimage.Net;

namespace Vimage.Cli.Commands;

/// <summary>
/// dmesg(8): the kernel message buffer of the context's vnet (Vimage keeps one per vnet: a jail sees its own
/// ipfw log lines). <c>-c</c> clears it after printing; <c>-a</c> is accepted (every line is shown anyway).
/// </summary>
public sealed class DmesgCommand : ICommand
{
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
                case 'c':
                    clear = true;
                    break;
                case 'a':
                    break;
                default:
                    throw Unsupported.Option("dmesg", ch, "no kernel core files in Vimage");
            }
        }

        if (getopt.Optind < args.Length)
        {
            throw new UsageException($"dmesg: {args[getopt.Optind]}: unexpected argument");
        }

        using (Curvnet.Set(context.Vnet))
        {
            foreach (string line in MsgBuf.Read())
            {
                context.Out.WriteLine(line);
            }

            if (clear)
            {
                MsgBuf.Clear();
            }
        }

        return 0;
    }
}
