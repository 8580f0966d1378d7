using Vimage.Core;

namespace Vimage.Cli.Commands;

/// <summary>sysctl(8): sysctl [-a] [-n] [-d] [-N] [-o] [name[=value] ...], in the context's vnet.</summary>
public sealed class SysctlCommand : ICommand
{
    public string Name => "sysctl";

    public string Usage => "sysctl [-adNno] [name[=value] ...]";

    public int Run(CommandContext context, string[] args)
    {
        var options = SysctlListOptions.None;
        bool all = false;
        var names = new List<string>();
        foreach (string arg in args)
        {
            if (arg.StartsWith('-') && arg.Length > 1 && names.Count == 0)
            {
                foreach (char flag in arg[1..])
                {
                    options |= flag switch
                    {
                        'a' => SysctlListOptions.None,
                        'n' => SysctlListOptions.ValuesOnly,
                        'd' => SysctlListOptions.Descriptions,
                        'N' => SysctlListOptions.NamesOnly,
                        'o' => SysctlListOptions.Opaque,
                        _ => throw new UsageException($"sysctl: illegal option -- {flag}"),
                    };
                    all |= flag == 'a';
                }

                continue;
            }

            names.Add(arg);
        }

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
                    context.Out.WriteLine((options & SysctlListOptions.ValuesOnly) != 0 ? line[(line.IndexOf(": ", StringComparison.Ordinal) + 2)..] : line);
                }
                else
                {
                    foreach (string line in Sysctl.List(item, options, context.Vnet))
                    {
                        context.Out.WriteLine(line);
                    }
                }
            }
            catch (SysctlException e)
            {
                context.Err.WriteLine(e.Message);
                status = 1;
            }
        }

        return status;
    }
}
