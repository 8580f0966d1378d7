using System.Globalization;
using Vimage.Core;

namespace Vimage.Cli.Commands;

/// <summary>
/// One vnet jail: its jid, name and stack. <see cref="Removed"/> fires when <c>jail -r</c> starts taking it down, so
/// commands running inside it end (FreeBSD kills a removed jail's processes).
/// </summary>
public sealed class Jail
{
    private readonly CancellationTokenSource _removed = new();

    internal Jail(int jid, string name, Vnet vnet)
    {
        Jid = jid;
        Name = name;
        Vnet = vnet;
    }

    public int Jid { get; }

    public string Name { get; }

    public Vnet Vnet { get; }

    /// <summary>Cancelled when the jail is being removed.</summary>
    public CancellationToken Removed => _removed.Token;

    public bool IsRemoved => _removed.IsCancellationRequested;

    internal void MarkRemoved() => _removed.Cancel();

    public override string ToString() => $"jail {Jid} ({Name})";
}

/// <summary>
/// The host's jails (allprison), by name and jid. Jails are vnet jails: each owns a network stack. Lookups, create
/// and remove are O(log n) (a dictionary by name, a sorted one by jid), so 10,000 jails cost what 10 do, each.
/// </summary>
public sealed class JailRegistry
{
    /// <summary>MAXHOSTNAMELEN: a name (with its NUL) longer than this is ENAMETOOLONG in kern_jail_set.</summary>
    public const int MaxNameLength = 255;

    /// <summary>JAIL_MAX: jids run 1 .. JAIL_MAX-1.</summary>
    public const int JailMax = 999_999;

    private readonly object _lock = new();
    private readonly Dictionary<string, Jail> _byName = new(StringComparer.Ordinal);
    private readonly SortedDictionary<int, Jail> _byJid = [];
    private readonly HashSet<string> _creating = new(StringComparer.Ordinal);
    private readonly HashSet<int> _jidsCreating = [];
    private int _lastJid;

    public IReadOnlyList<Jail> All
    {
        get
        {
            lock (_lock)
            {
                return [.. _byJid.Values];
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byJid.Count;
            }
        }
    }

    /// <summary>
    /// kern_jail_set's name rules, checked before anything is created: 1 to <see cref="MaxNameLength"/> bytes, no
    /// control characters; a numeric name is the jid it asks for (and must be in normal form); a dotted name
    /// names a child of an existing jail, which this host does not support. Returns the jid the name asks for (0: any).
    /// </summary>
    public int ValidateName(string name)
    {
        if (name.Length == 0)
        {
            throw new CommandException("jail: name: Invalid argument");
        }

        if (System.Text.Encoding.UTF8.GetByteCount(name) > MaxNameLength)
        {
            throw new CommandException($"jail: {Shown(name)}: jail_set: File name too long");
        }

        if (name.Any(char.IsControl))
        {
            throw new CommandException($"jail: {Shown(name)}: name contains a control character");
        }

        int dot = name.LastIndexOf('.');
        if (dot >= 0)
        {
            string parent = name[..dot];
            lock (_lock)
            {
                if (!_byName.ContainsKey(parent))
                {
                    throw new CommandException($"jail: {name}: jail \"{parent}\" not found");
                }
            }

            throw new CommandException($"jail: {name}: child jails (hierarchical names) are not supported");
        }

        if (name.All(char.IsAsciiDigit))
        {
            // kern_jail_set: a numeric name is read as the jid; any other spelling of a number is refused.
            if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int jid) || jid == 0
                || jid >= JailMax || jid.ToString(CultureInfo.InvariantCulture) != name)
            {
                throw new CommandException($"jail: {name}: name cannot be numeric (unless it is the jid)");
            }

            return jid;
        }

        return 0;
    }

    /// <summary>jail -c name=N vnet.</summary>
    public Jail Create(string name)
    {
        int wantedJid = ValidateName(name);
        int jid;
        lock (_lock)
        {
            // kern_jail_set looks the jid up before the name.
            if (wantedJid != 0 && (_byJid.ContainsKey(wantedJid) || _jidsCreating.Contains(wantedJid)))
            {
                throw new CommandException($"jail: {name}: jail {wantedJid} already exists");
            }

            if (_byName.ContainsKey(name) || _creating.Contains(name))
            {
                throw new CommandException($"jail: {name}: jail \"{name}\" already exists");
            }

            jid = wantedJid != 0 ? wantedJid : NextJid();
            _creating.Add(name);
            _jidsCreating.Add(jid);
        }

        Vnet? vnet = null;
        try
        {
            vnet = Vnet.Create(name);
            var jail = new Jail(jid, name, vnet);
            lock (_lock)
            {
                _byName.Add(name, jail);
                _byJid.Add(jid, jail);
            }

            return jail;
        }
        finally
        {
            lock (_lock)
            {
                _creating.Remove(name);
                _jidsCreating.Remove(jid);
            }
        }
    }

    /// <summary>
    /// The next free jid after the last one handed out, wrapping at JAIL_MAX (kern_jail_set's findnext). Jids are
    /// used in order, so the probe is O(1) until the space wraps.
    /// </summary>
    private int NextJid()
    {
        for (int tries = 0; tries < JailMax; tries++)
        {
            _lastJid = _lastJid + 1 >= JailMax ? 1 : _lastJid + 1;
            if (!_byJid.ContainsKey(_lastJid) && !_jidsCreating.Contains(_lastJid))
            {
                return _lastJid;
            }
        }

        throw new CommandException("jail: no available jail IDs");
    }

    /// <summary>By name or jid, as jexec and jail -r accept (jail_getid).</summary>
    public Jail Find(string nameOrJid)
    {
        lock (_lock)
        {
            if (_byName.TryGetValue(nameOrJid, out Jail? byName))
            {
                return byName;
            }

            if (int.TryParse(nameOrJid, NumberStyles.None, CultureInfo.InvariantCulture, out int jid) && _byJid.TryGetValue(jid, out Jail? byJid))
            {
                return byJid;
            }
        }

        throw new CommandException($"jail \"{Shown(nameOrJid)}\" not found");
    }

    /// <summary>jail -r: commands in it are told to end, loaned interfaces go home, the stack is destroyed.</summary>
    public void Remove(Jail jail)
    {
        lock (_lock)
        {
            if (!_byJid.TryGetValue(jail.Jid, out Jail? listed) || listed != jail)
            {
                throw new CommandException($"jail \"{jail.Name}\" not found");
            }

            _byJid.Remove(jail.Jid);
            _byName.Remove(jail.Name);
        }

        jail.MarkRemoved();
        jail.Vnet.Destroy();
    }

    /// <summary>Raised by <see cref="RemoveAll"/> before the jails go (labs tear down their Linux namespaces).</summary>
    public event Action? Closing;

    /// <summary>
    /// Names that are not jails but answer jexec (a lab's Linux host nodes): returns the runner for a name, or null.
    /// </summary>
    public Func<string, Func<CommandContext, string[], int>?>? ForeignJexec { get; set; }

    /// <summary>Removes every jail (host shutdown).</summary>
    public void RemoveAll()
    {
        Closing?.Invoke();
        foreach (Jail jail in All.Reverse())
        {
            Remove(jail);
        }
    }

    /// <summary>A name as an error message may print it: control characters escaped, long names cut.</summary>
    internal static string Shown(string name)
    {
        string text = name.Length > 64 ? name[..64] + "..." : name;
        return string.Concat(text.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));
    }
}

/// <summary>A command failed the way the FreeBSD tool reports (message on stderr, exit 1 unless stated).</summary>
public sealed class CommandException(string message, int exitCode = 1) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
