using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Route;

namespace Vimage.Cli.Commands;

/// <summary>
/// Runs one FreeBSD-style command line against the host's stacks. Errors become the tools' messages on stderr
/// and their exit statuses: usage problems 64 (EX_USAGE), failures 1, an unknown command 127; nothing a user
/// types can take the host down.
/// </summary>
public sealed class CommandDispatcher
{
    public const int ExitUsage = 64;
    public const int ExitNotFound = 127;
    public const int ExitSoftware = 70;

    private readonly Dictionary<string, ICommand> _commands = new(StringComparer.Ordinal);

    public CommandDispatcher(IEnumerable<ICommand> commands)
    {
        foreach (ICommand command in commands)
        {
            _commands[command.Name] = command;
        }
    }

    public IReadOnlyCollection<string> Names => _commands.Keys;

    /// <summary>The standard set: jail, jls, jexec, ifconfig, route, netstat, arp, sysctl, ping, tcpdump.</summary>
    public static CommandDispatcher CreateDefault() => new(CommandCatalog.All());

    public int Run(CommandContext context, IReadOnlyList<string> argv)
    {
        if (argv.Count == 0)
        {
            context.Err.WriteLine("usage: vimage <command> [arguments]   (commands: " + string.Join(", ", _commands.Keys.Order(StringComparer.Ordinal)) + ")");
            return ExitUsage;
        }

        if (!_commands.TryGetValue(argv[0], out ICommand? command))
        {
            context.Err.WriteLine($"vimage: {argv[0]}: command not found");
            return ExitNotFound;
        }

        string[] args = argv.Skip(1).ToArray();
        try
        {
            return command.Run(context, args);
        }
        catch (UsageException e)
        {
            if (e.Message.Length > 0)
            {
                context.Err.WriteLine(e.Message);
            }

            context.Err.WriteLine("usage: " + command.Usage);
            return command is IUsageStatus status ? status.UsageExitCode : ExitUsage;
        }
        catch (CommandException e)
        {
            context.Err.WriteLine(e.Message);
            return e.ExitCode;
        }
        catch (Exception e) when (e is IfException or SysctlException or RouteException or FormatException or ArgumentException)
        {
            context.Err.WriteLine(e.Message.StartsWith(command.Name + ":", StringComparison.Ordinal) ? e.Message : $"{command.Name}: {e.Message}");
            return 1;
        }
        catch (ObjectDisposedException e)
        {
            context.Err.WriteLine($"{command.Name}: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            return 130;
        }
        catch (Exception e)
        {
            context.Err.WriteLine($"{command.Name}: internal error: {e.GetType().Name}: {e.Message}");
            return ExitSoftware;
        }
    }
}
