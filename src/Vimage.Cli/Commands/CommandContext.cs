using Vimage.Core;

namespace Vimage.Cli.Commands;

/// <summary>What a command runs against: the vnet it acts in (the host's vnet0, or a jail's), its output, the jails.</summary>
public sealed class CommandContext(Vnet vnet, TextWriter output, TextWriter error, JailRegistry jails, CancellationToken cancel = default,
    string? workingDirectory = null)
{
    /// <summary>The client's working directory: relative file arguments (tcpdump -w) resolve against it.</summary>
    public string WorkingDirectory { get; } = workingDirectory ?? Environment.CurrentDirectory;

    /// <summary>A path as the client meant it.</summary>
    public string ResolvePath(string path) => Path.GetFullPath(path, WorkingDirectory);

    public Vnet Vnet { get; } = vnet;

    public TextWriter Out { get; } = output;

    public TextWriter Err { get; } = error;

    public JailRegistry Jails { get; } = jails;

    public CancellationToken Cancel { get; } = cancel;

    /// <summary>True when running inside a jail (jexec): host-only operations are refused there.</summary>
    public bool InJail => Vnet != Vimage.Core.Vnet.Vnet0;

    /// <summary>The same context acting in another vnet (jexec J, ifconfig -j J).</summary>
    public CommandContext In(Vnet vnet) => new(vnet, Out, Err, Jails, Cancel, WorkingDirectory);
}

/// <summary>A FreeBSD-style command: parses its own argv, prints like the original, returns its exit status.</summary>
public interface ICommand
{
    string Name { get; }

    /// <summary>One line of usage, printed on bad arguments.</summary>
    string Usage { get; }

    int Run(CommandContext context, string[] args);
}

/// <summary>Bad arguments: the dispatcher prints the message and the command's usage, exit 64 (EX_USAGE).</summary>
public sealed class UsageException(string message) : Exception(message);
