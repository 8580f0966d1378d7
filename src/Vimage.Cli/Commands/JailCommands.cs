using Vimage.Core;
using Vimage.Net;

namespace Vimage.Cli.Commands;

/// <summary>jail(8): -c creates a vnet jail (moving vnet.interface=IF into it), -r removes one.</summary>
public sealed class JailCommand : ICommand
{
    public string Name => "jail";

    public string Usage => "jail -c name=J vnet [persist] [vnet.interface=IF ...] | jail -r J";

    public int Run(CommandContext context, string[] args)
    {
        if (context.InJail)
        {
            throw new CommandException("jail: jail creation from within a jail is not supported here");
        }

        bool create = false, remove = false;
        var getopt = new Getopt("jail", args, "cdf:hiJ:lmn:p:qrRs:u:U:v");
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            switch (ch)
            {
                case 'c':
                    create = true;
                    break;
                case 'r':
                    remove = true;
                    break;
                case 'q':
                case 'v':
                    break;
                case 'm':
                case 'R':
                    throw Unsupported.Option("jail", ch, "modifying a jail is not supported in Vimage");
                default:
                    throw Unsupported.Option("jail", ch, "not supported in Vimage (no jail.conf, users or processes)");
            }
        }

        string[] operands = getopt.Operands;
        if (remove && !create)
        {
            if (operands.Length == 0)
            {
                throw new UsageException("jail: -r needs a jail name");
            }

            foreach (string name in operands)
            {
                Jail removed = JexecCommand.FindOrFail(context, name, "jail");
                context.Jails.Remove(removed);
                context.Out.WriteLine($"{removed.Name}: removed");
            }

            return 0;
        }

        if (!create || remove)
        {
            throw new UsageException("jail: -c or -r is required");
        }

        string? jailName = null;
        bool vnet = false;
        var interfaces = new List<string>();
        foreach (string parameter in operands)
        {
            switch (parameter)
            {
                case "vnet":
                case "vnet=new":
                    vnet = true;
                    break;
                case "persist":
                    break;
                case var p when p.StartsWith("name=", StringComparison.Ordinal):
                    jailName = p["name=".Length..];
                    break;
                case var p when p.StartsWith("vnet.interface=", StringComparison.Ordinal):
                    interfaces.Add(p["vnet.interface=".Length..]);
                    break;
                case var p when p.StartsWith("host.hostname=", StringComparison.Ordinal) || p.StartsWith("path=", StringComparison.Ordinal):
                    break;
                default:
                    throw new UsageException($"jail: unknown parameter: {parameter}");
            }
        }

        if (jailName is null)
        {
            throw new UsageException("jail: name=... is required");
        }

        if (!vnet)
        {
            throw new UsageException("jail: only vnet jails are supported (add \"vnet\")");
        }

        context.Jails.ValidateName(jailName); // kern_jail_set checks the name before anything else is done

        if (!Vnet.IsVimage)
        {
            throw new CommandException("jail: vnet jails need VIMAGE (this build has -p:Vimage=false)");
        }

        foreach (string ifname in interfaces)
        {
            using (Curvnet.Set(context.Vnet))
            {
                Ifnets.Find(ifname); // check before creating anything
            }
        }

        Jail jail = context.Jails.Create(jailName);
        try
        {
            foreach (string ifname in interfaces)
            {
                using (Curvnet.Set(context.Vnet))
                {
                    Ifnets.Loan(ifname, jail.Vnet);
                }
            }
        }
        catch
        {
            context.Jails.Remove(jail);
            throw;
        }

        context.Out.WriteLine($"{jail.Name}: created");
        return 0;
    }
}

/// <summary>jls(8).</summary>
public sealed class JlsCommand : ICommand
{
    public string Name => "jls";

    public string Usage => "jls [-dN] [-j jail]";

    public int Run(CommandContext context, string[] args)
    {
        bool names = false;
        string? only = null;
        var getopt = new Getopt("jls", args, "dhj:NnqsSv");
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            switch (ch)
            {
                case 'N':
                    names = true;
                    break;
                case 'd':
                    break; // dying jails: Vimage removes a jail at once
                case 'j':
                    only = JexecCommand.FindOrFail(context, getopt.Optarg!, "jls").Name;
                    break;
                default:
                    throw Unsupported.Option("jls", ch, "parameter listings are not supported in Vimage");
            }
        }

        if (getopt.Optind < args.Length)
        {
            throw Unsupported.Option("jls", 'j', $"listing parameter {args[getopt.Optind]} is not supported in Vimage");
        }

        context.Out.WriteLine(names
            ? $"{"JID",6}  {"Name",-15} {"Interfaces",-29} Path"
            : $"{"JID",6}  {"IP Address",-15} {"Hostname",-29} Path");
        foreach (Jail jail in context.Jails.All)
        {
            if (only is not null && jail.Name != only)
            {
                continue;
            }

            string interfaces = string.Join(",", Ifnets.Of(jail.Vnet).Snapshot().Select(i => i.Name));
            context.Out.WriteLine(names
                ? $"{jail.Jid,6}  {jail.Name,-15} {interfaces,-29} /"
                : $"{jail.Jid,6}  {"",-15} {jail.Name,-29} /");
        }

        return 0;
    }
}

/// <summary>jexec(8): runs a command inside a jail's network stack.</summary>
public sealed class JexecCommand(Func<CommandDispatcher> dispatcher) : ICommand
{
    public string Name => "jexec";

    public string Usage => "jexec [-l] jail command [arguments ...]";

    public int Run(CommandContext context, string[] args)
    {
        var getopt = new Getopt("jexec", args, "d:lnu:U:");
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            if (ch is not ('l' or 'n'))
            {
                throw Unsupported.Option("jexec", ch, "users and directories of a jail are not supported in Vimage");
            }
        }

        string[] rest = getopt.Operands;
        if (rest.Length < 2)
        {
            throw new UsageException("jexec: jail and command are required");
        }

        if (context.Jails.ForeignJexec?.Invoke(rest[0]) is { } foreign)
        {
            return foreign(context, rest[1..]); // a lab's host node: a real Linux program in its namespace
        }

        Jail jail = FindOrFail(context, rest[0], "jexec");
        using CommandContext jailed = context.In(jail);
        return dispatcher().Run(jailed, rest[1..]);
    }

    /// <summary>jail_getid, and the tool's errx(1, "%s", jail_errmsg) when there is no such jail.</summary>
    internal static Jail FindOrFail(CommandContext context, string nameOrJid, string tool)
    {
        try
        {
            return context.Jails.Find(nameOrJid);
        }
        catch (CommandException e)
        {
            throw new CommandException($"{tool}: {e.Message}", e.ExitCode);
        }
    }
}
