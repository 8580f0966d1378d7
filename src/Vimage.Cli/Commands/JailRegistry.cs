using Vimage.Core;

namespace Vimage.Cli.Commands;

/// <summary>One vnet jail: its jid, name and stack.</summary>
public sealed record Jail(int Jid, string Name, Vnet Vnet);

/// <summary>The host's jails (prison list), by name and jid. Jails are vnet jails: each owns a network stack.</summary>
public sealed class JailRegistry
{
    private readonly object _lock = new();
    private readonly List<Jail> _jails = [];
    private int _nextJid = 1;

    public IReadOnlyList<Jail> All
    {
        get
        {
            lock (_lock)
            {
                return _jails.ToArray();
            }
        }
    }

    /// <summary>jail -c name=N vnet.</summary>
    public Jail Create(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Any(c => char.IsWhiteSpace(c) || c == '.' || c == '/') || int.TryParse(name, out _))
        {
            throw new UsageException($"jail: \"{name}\": invalid jail name");
        }

        lock (_lock)
        {
            if (_jails.Any(j => j.Name == name))
            {
                throw new CommandException($"jail: {name}: already exists");
            }
        }

        Vnet vnet = Vnet.Create(name);
        lock (_lock)
        {
            var jail = new Jail(_nextJid++, name, vnet);
            _jails.Add(jail);
            return jail;
        }
    }

    /// <summary>By name or jid, as jexec and jail -r accept.</summary>
    public Jail Find(string nameOrJid)
    {
        lock (_lock)
        {
            Jail? jail = int.TryParse(nameOrJid, out int jid)
                ? _jails.FirstOrDefault(j => j.Jid == jid)
                : _jails.FirstOrDefault(j => j.Name == nameOrJid);
            return jail ?? throw new CommandException($"jail \"{nameOrJid}\" not found");
        }
    }

    /// <summary>jail -r: loaned interfaces go home, the stack is destroyed.</summary>
    public void Remove(Jail jail)
    {
        lock (_lock)
        {
            if (!_jails.Remove(jail))
            {
                throw new CommandException($"jail \"{jail.Name}\" not found");
            }
        }

        jail.Vnet.Destroy();
    }

    /// <summary>Removes every jail (host shutdown).</summary>
    public void RemoveAll()
    {
        foreach (Jail jail in All.Reverse())
        {
            Remove(jail);
        }
    }
}

/// <summary>A command failed the way the FreeBSD tool reports (message on stderr, exit 1 unless stated).</summary>
public sealed class CommandException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
