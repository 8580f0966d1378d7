using Vimage.Core;

namespace Vimage.Cli.Commands;

/// <summary>
/// What a command runs against: the vnet it acts in (the host's vnet0, or a jail's), its output, the jails.
/// <see cref="Cancel"/> fires when the client goes away and, for a command inside a jail, when the jail is removed
/// (<see cref="JailRemoved"/> then tells the two apart).
/// </summary>
public sealed class CommandContext(Vnet vnet, TextWriter output, TextWriter error, JailRegistry jails, CancellationToken cancel = default,
    string? workingDirectory = null) : IDisposable
{
    private CancellationTokenSource? _linked;

    /// <summary>The client's working directory: relative file arguments (tcpdump -w) resolve against it.</summary>
    public string WorkingDirectory { get; } = workingDirectory ?? Environment.CurrentDirectory;

    /// <summary>A path as the client meant it.</summary>
    public string ResolvePath(string path) => Path.GetFullPath(path, WorkingDirectory);

    public Vnet Vnet { get; } = vnet;

    public TextWriter Out { get; } = output;

    public TextWriter Err { get; } = error;

    public JailRegistry Jails { get; } = jails;

    /// <summary>The client's stdin, when it streams one (the host protocol's grants); null reads as empty (EOF).</summary>
    public Stream? Input { get; init; }

    /// <summary>Binary stdout (nc's data); null: bytes go to <see cref="Out"/> as UTF-8 text.</summary>
    public Stream? BinaryOut { get; init; }

    public CancellationToken Cancel { get; } = cancel;

    /// <summary>True when running inside a jail (jexec): host-only operations are refused there.</summary>
    public bool InJail => Vnet != Vimage.Core.Vnet.Vnet0;

    /// <summary>The jail the command runs in (jexec J, ifconfig -j J), or null in the host's vnet0.</summary>
    public Jail? Jail { get; private init; }

    /// <summary>True once the jail this command runs in is being removed.</summary>
    public bool JailRemoved => Jail?.IsRemoved == true;

    /// <summary>The same context acting inside <paramref name="jail"/>: cancelled also when the jail is removed. Dispose it.</summary>
    public CommandContext In(Jail jail)
    {
        CancellationTokenSource linked = CancellationTokenSource.CreateLinkedTokenSource(Cancel, jail.Removed);
        return new CommandContext(jail.Vnet, Out, Err, Jails, linked.Token, WorkingDirectory) { Jail = jail, _linked = linked, Input = Input, BinaryOut = BinaryOut };
    }

    public void Dispose() => _linked?.Dispose();
}

/// <summary>A FreeBSD-style command: parses its own argv, prints like the original, returns its exit status.</summary>
public interface ICommand
{
    string Name { get; }

    /// <summary>One line of usage, printed on bad arguments.</summary>
    string Usage { get; }

    int Run(CommandContext context, string[] args);
}

/// <summary>A command whose usage() exits with another status than EX_USAGE (ifconfig and netstat exit 1).</summary>
public interface IUsageStatus
{
    int UsageExitCode { get; }
}

/// <summary>Bad arguments: the dispatcher prints the message and the command's usage, exit 64 (EX_USAGE).</summary>
public sealed class UsageException(string message) : Exception(message);
