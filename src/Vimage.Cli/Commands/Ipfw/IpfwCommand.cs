using System.Globalization;
using Vimage.Core;
using Vimage.Net.Dummynet;
using Vimage.Net.Ipfw;
using static Vimage.Cli.Commands.Ipfw.IpfwException;

namespace Vimage.Cli.Commands.Ipfw;

/// <summary>
/// ipfw(8) in the context's vnet: add/delete/list/show/zero/flush for rules; pipe/queue/sched N config, show,
/// delete, flush for dummynet. The first add or pipe config loads ipfw in the vnet (kldload ipfw: its hook is linked
/// and the default rule applies). Errors print ipfw's message and exit with its sysexits code, nothing applied.
/// </summary>
public sealed class IpfwCommand : ICommand
{
    public string Name => "ipfw";

    public string Usage => "ipfw [-afq] {add [N] action ... | delete N ... | list | show | zero [N] | resetlog [N] | flush} | ipfw table N {create|destroy|add|delete|flush|list} ... | ipfw {pipe|queue|sched} {N config ... | show [N] | N delete | flush}";

    public int Run(CommandContext context, string[] args)
    {
        using (Curvnet.Set(context.Vnet))
        {
            try
            {
                return Execute(context, args);
            }
            catch (IpfwException e)
            {
                context.Err.WriteLine($"ipfw: {e.Message}");
                return e.ExitCode;
            }
        }
    }

    private static int Execute(CommandContext context, string[] args)
    {
        // ipfw_main's getopt string (sbin/ipfw/main.c). -n is test_only: rules are parsed, nothing is changed.
        var getopt = new Getopt("ipfw", args, "abcdDefhinNp:qs:STtv");
        bool quiet = false, counters = false, testOnly = false;
        int ch;
        while ((ch = getopt.Next()) != -1)
        {
            switch (ch)
            {
                case 'q':
                    quiet = true;
                    break;
                case 'a':
                    counters = true;
                    break;
                case 'n':
                    testOnly = true;
                    break;
                case 'f' or 'N' or 'd' or 'e' or 't':
                    break; // no prompt to skip; numeric output only; no dynamic-rule listing or timestamps yet
                default:
                    throw Unsupported.Option("ipfw", ch, "not supported in Vimage");
            }
        }

        int i = getopt.Optind;
        if (i >= args.Length)
        {
            throw new IpfwException(EX_USAGE, "need command");
        }

        string cmd = args[i++];
        string[] rest = args[i..];
        switch (cmd)
        {
            case "pipe" or "queue" or "sched" when testOnly:
                throw Unsupported.Option("ipfw", 'n', "syntax-only checks of dummynet commands are not supported in Vimage");
            case "pipe" or "queue" or "sched":
                return DummynetCommand.Run(context, cmd, rest, quiet);
            case "table" when testOnly:
                return 0;
            case "table":
                return TableCommand.Run(context, rest, quiet);
            case "resetlog":
                IpFw.Chain.ResetLog(rest.Length > 0 ? RuleNumber(rest[0], "invalid rule number") : -1);
                return 0;
            case "add":
                IpFwRule rule = IpfwRuleParser.Parse(rest);
                if (testOnly)
                {
                    return 0;
                }

                IpFw.Load();
                foreach (IpFwCmd c in rule.Body)
                {
                    if (c.Op is IpFwOp.SrcTable or IpFwOp.DstTable)
                    {
                        IpFwTables.GetOrCreate((int)c.Value); // a rule naming a table creates it (addr type)
                    }
                }

                rule = IpFw.Chain.Add(rule, IpFw.AutoincStep);
                if (!quiet)
                {
                    context.Out.WriteLine($"{rule.Number:D5} {IpfwRuleParser.Format(rule)}");
                }

                return 0;
            case "delete" or "del" or "zero" or "flush" when testOnly:
                return 0; // test_only: the request is never passed on
            case "delete" or "del":
                return Delete(context, rest, quiet);
            case "list" or "show":
                return Show(context, rest, counters: cmd == "show" || counters);
            case "zero":
                return Zero(context, rest, quiet);
            case "flush":
                IpFw.Chain.Flush();
                if (!quiet)
                {
                    context.Out.WriteLine("Flushed all rules.");
                }

                return 0;
            default:
                throw new IpfwException(EX_USAGE, $"bad command `{cmd}'");
        }
    }

    private static int RuleNumber(string text, string error)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n > IpFwChain.DefaultRule)
        {
            throw new IpfwException(EX_DATAERR, $"{error} {text}");
        }

        return n;
    }

    private static int Delete(CommandContext context, string[] av, bool quiet)
    {
        if (av.Length == 0)
        {
            throw new IpfwException(EX_USAGE, "missing rule specification");
        }

        int[] numbers = av.Select(a => RuleNumber(a, "invalid rule number")).ToArray(); // all parsed before any delete
        int exit = 0;
        foreach (int n in numbers)
        {
            if (n == IpFwChain.DefaultRule || !IpFw.Chain.Delete(n))
            {
                exit = EX_UNAVAILABLE;
                if (!quiet)
                {
                    context.Err.WriteLine($"ipfw: rule {n} not found");
                }
            }
        }

        return exit;
    }

    private static int Zero(CommandContext context, string[] av, bool quiet)
    {
        if (av.Length == 0)
        {
            IpFw.Chain.Zero();
            if (!quiet)
            {
                context.Out.WriteLine("Accounting cleared.");
            }

            return 0;
        }

        int exit = 0;
        foreach (string a in av)
        {
            if (a.Length == 0 || !char.IsAsciiDigit(a[0]))
            {
                throw new IpfwException(EX_USAGE, $"invalid rule number ``{a}''");
            }

            int n = RuleNumber(a, "invalid rule number");
            if (!IpFw.Chain.Zero(n))
            {
                context.Err.WriteLine($"ipfw: rule {n}: setsockopt(IP_FW_ZERO): Invalid argument");
                exit = EX_UNAVAILABLE;
            }
            else if (!quiet)
            {
                context.Out.WriteLine($"Entry {n} cleared.");
            }
        }

        return exit;
    }

    /// <summary>ipfw list / show: "%05u [%*ju %*ju ]body", counter widths fitted to the largest (show_static_rule).</summary>
    private static int Show(CommandContext context, string[] av, bool counters)
    {
        int only = av.Length > 0 ? RuleNumber(av[0], "invalid rule number") : -1;
        IpFwRule[] map = IpFw.Chain.Map;
        int pw = 1, bw = 1;
        foreach (IpFwRule r in map)
        {
            pw = Math.Max(pw, r.Counters.Packets.ToString(CultureInfo.InvariantCulture).Length);
            bw = Math.Max(bw, r.Counters.Bytes.ToString(CultureInfo.InvariantCulture).Length);
        }

        bool any = false;
        foreach (IpFwRule r in map)
        {
            if (only >= 0 && r.Number != only)
            {
                continue;
            }

            any = true;
            string c = counters ? $" {r.Counters.Packets.ToString(CultureInfo.InvariantCulture).PadLeft(pw)} {r.Counters.Bytes.ToString(CultureInfo.InvariantCulture).PadLeft(bw)}" : "";
            context.Out.WriteLine($"{r.Number:D5}{c} {IpfwRuleParser.Format(r)}");
        }

        if (only >= 0 && !any)
        {
            context.Err.WriteLine($"ipfw: rule {only} does not exist");
            return EX_UNAVAILABLE;
        }

        return 0;
    }
}
