using Vimage.Net.Inet;
using Vimage.Net.Netdb;

namespace Vimage.Cli.Commands;

/// <summary>
/// Editing the vnet's hosts table (Vimage extension: FreeBSD edits /etc/hosts, which Vimage does not have as a
/// file). <c>hosts</c> prints the table as hosts(5) lines; <c>hosts add ADDRESS NAME [NAME ...]</c> appends one line
/// per name; <c>hosts delete NAME ...</c> removes every line naming each. Everything is checked before anything
/// changes. Query with <c>getent hosts NAME</c>; in a jail with <c>jexec J hosts ...</c>.
/// </summary>
public sealed class HostsCommand : ICommand
{
    public string Name => "hosts";

    public string Usage => "hosts [add address name ... | delete name ...]";

    public int Run(CommandContext context, string[] args)
    {
        if (args.Length == 0 || args is ["list"])
        {
            foreach (HostEntry e in Hosts.List(context.Vnet))
            {
                context.Out.WriteLine(e.ToString());
            }

            return 0;
        }

        switch (args[0])
        {
            case "add" when args.Length >= 3:
                if (!InAddr.TryParse(args[1], out InAddr address))
                {
                    throw new CommandException($"hosts: {args[1]}: bad address");
                }

                string[] names = args[2..];
                if (names.FirstOrDefault(n => !Hosts.IsValidName(n)) is { } bad)
                {
                    throw new CommandException($"hosts: {bad}: invalid host name");
                }

                if (Hosts.List(context.Vnet).Count + names.Length > Hosts.MaxEntries)
                {
                    throw new CommandException($"hosts: table full ({Hosts.MaxEntries} entries)");
                }

                foreach (string name in names)
                {
                    Hosts.Add(context.Vnet, name, address);
                }

                return 0;
            case "delete" when args.Length >= 2:
                if (args[1..].FirstOrDefault(n => !Hosts.List(context.Vnet).Any(e => string.Equals(e.Name, n, StringComparison.OrdinalIgnoreCase))) is { } missing)
                {
                    throw new CommandException($"hosts: {missing}: not in the table");
                }

                foreach (string name in args[1..])
                {
                    Hosts.Remove(context.Vnet, name);
                }

                return 0;
            default:
                throw new UsageException($"hosts: {args[0]}: unknown or incomplete subcommand");
        }
    }
}
