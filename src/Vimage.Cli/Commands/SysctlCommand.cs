using Vimage.Core;

namespace Vimage.Cli.Commands;

/// <summary>sysctl(8): sysctl [-a] [-n] [-d] [-N] [-o] [name[=value] ...], in the context's vnet.</summary>
public sealed class SysctlCommand : ICommand
{
    public string Name => "sysctl";

    public string Usage => "sysctl [-AadeiNnoqw] name[=value] ... | sysctl [-AadeNnow] -a";

    public int Run(CommandContext context, string[] args)
    {
        var options = SysctlListOptions.None;
        bool all = false, ignoreUnknown = false, quiet = false, equals = false;
        var getopt = new Getopt("sysctl", args, "AabB:def:hiJNnoqTtVWwxX");
        for (int flag; (flag = getopt.Next()) != -1;)
        {
            switch (flag)
            {
                case 'a':
                    all = true;
                    break;
                case 'A':
                    all = true;
                    options |= SysctlListOptions.Opaque; // -A is -a -o
                    break;
                case 'n':
                    options |= SysctlListOptions.ValuesOnly;
                    break;
                case 'd':
                    options |= SysctlListOptions.Descriptions;
                    break;
                case 'N':
                    options |= SysctlListOptions.NamesOnly;
                    break;
                case 'o':
                    options |= SysctlListOptions.Opaque;
                    break;
                case 'i':
                    ignoreUnknown = true; // unknown names are skipped silently
                    break;
                case 'q':
                    quiet = true; // errors are not printed (the exit status still says)
                    break;
                case 'e':
                    equals = true; // name=value instead of name: value
                    break;
                case 'h':
                    break; // human-readable numbers: Vimage prints them plain, as FreeBSD does for most OIDs
                case 'w':
                    break; // FreeBSD's -w is obsolete and ignored
                default:
                    throw Unsupported.Option("sysctl", flag, "not supported in Vimage");
            }
        }

        var names = new List<string>(getopt.Operands);
        if (names.Count == 0)
        {
            if (!all)
            {
                throw new UsageException("sysctl: a name or -a is required");
            }

            names.Add("");
        }

        int status = 0;
        foreach (string item in names)
        {
            int eq = item.IndexOf('=');
            try
            {
                if (eq > 0)
                {
                    string line = Sysctl.SetAndReport(item[..eq], item[(eq + 1)..], context.Vnet);
                    context.Out.WriteLine((options & SysctlListOptions.ValuesOnly) != 0 ? line[(line.IndexOf(": ", StringComparison.Ordinal) + 2)..] : Separator(line, equals));
                }
                else
                {
                    foreach (string line in Sysctl.List(item, options, context.Vnet))
                    {
                        context.Out.WriteLine((options & (SysctlListOptions.ValuesOnly | SysctlListOptions.NamesOnly)) != 0 ? line : Separator(line, equals));
                    }
                }
            }
            catch (SysctlException e) when (ignoreUnknown && e.Error == SysctlError.UnknownOid)
            {
                // sysctl -i: an unknown name is neither printed nor an error
            }
            catch (SysctlException e)
            {
                if (!quiet)
                {
                    context.Err.WriteLine(e.Message);
                }

                status = 1;
            }
        }

        return status;
    }

    /// <summary>sysctl -e: "name=value" in place of "name: value".</summary>
    private static string Separator(string line, bool equals)
    {
        int at = line.IndexOf(": ", StringComparison.Ordinal);
        return equals && at > 0 ? string.Concat(line.AsSpan(0, at), "=", line.AsSpan(at + 2)) : line;
    }
}
