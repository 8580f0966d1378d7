using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.Net.Netdb;

/// <summary>One line of hosts(5): an address and a name (aliases are further entries with the same address).</summary>
public readonly record struct HostEntry(InAddr Address, string Name)
{
    public override string ToString() => $"{Address}\t{Name}";
}

/// <summary>
/// hosts(5) per vnet: each jail's own /etc/hosts, which gethostbyname(3) and getaddrinfo(3) consult (the "files"
/// source of nsswitch.conf; Vimage has no DNS). A fresh vnet holds FreeBSD's default line, localhost → 127.0.0.1.
/// <see cref="Resolve"/> follows getaddrinfo: a dotted-quad literal first (inet_aton), then the table, first match
/// wins, names compare case-insensitively; an unknown name is EAI_NONAME. Bounded: <see cref="MaxEntries"/> per vnet.
/// Thread-safe; lookups take no lock (the table is replaced whole on change).
/// </summary>
public static partial class Hosts
{
    /// <summary>Entries one vnet may hold (a further Add throws InvalidOperationException).</summary>
    public const int MaxEntries = 4096;

    /// <summary>MAXHOSTNAMELEN - 1 (sys/param.h).</summary>
    public const int MaxNameLength = 255;

    private static readonly Lock WriteLock = new();

    [Vnet]
    private static HostEntry[]? s_hosts;

    /// <summary>Adds <paramref name="name"/> → <paramref name="address"/> to the end of <paramref name="vnet"/>'s table (a line of /etc/hosts).</summary>
    public static void Add(Vnet vnet, string name, InAddr address)
    {
        Validate(name);
        lock (WriteLock)
        {
            HostEntry[] table = Table(vnet);
            if (table.Length >= MaxEntries)
            {
                throw new InvalidOperationException($"hosts: table full ({MaxEntries} entries)");
            }

            if (Array.IndexOf(table, new HostEntry(address, name)) < 0)
            {
                V_hosts_In(vnet) = [.. table, new HostEntry(address, name)];
            }
        }
    }

    /// <summary><see cref="Add(Vnet, string, InAddr)"/> with the address as a dotted quad.</summary>
    public static void Add(Vnet vnet, string name, string address)
    {
        if (!InAddr.TryParse(address, out InAddr a))
        {
            throw new ArgumentException($"{address}: not an IPv4 address", nameof(address));
        }

        Add(vnet, name, a);
    }

    /// <summary>Removes every line naming <paramref name="name"/>; false when there was none.</summary>
    public static bool Remove(Vnet vnet, string name)
    {
        lock (WriteLock)
        {
            HostEntry[] table = Table(vnet);
            HostEntry[] kept = [.. table.Where(e => !Matches(e, name))];
            if (kept.Length == table.Length)
            {
                return false;
            }

            V_hosts_In(vnet) = kept;
            return true;
        }
    }

    /// <summary>The table, in file order.</summary>
    public static IReadOnlyList<HostEntry> List(Vnet vnet) => Table(vnet);

    /// <summary>getaddrinfo(host, NULL, AF_INET): the literal, else the first address the table gives; EAI_NONAME otherwise.</summary>
    public static InAddr Resolve(Vnet vnet, string host)
        => TryResolve(vnet, host, out InAddr address) ? address : throw new NetdbException(NetdbException.EAI_NONAME, host);

    /// <summary><see cref="Resolve"/> without the exception.</summary>
    public static bool TryResolve(Vnet vnet, string host, out InAddr address)
    {
        if (InAddr.TryParse(host, out address))
        {
            return true;
        }

        string name = host.EndsWith('.') ? host[..^1] : host; // an absolute name is the same name
        foreach (HostEntry e in Table(vnet))
        {
            if (Matches(e, name))
            {
                address = e.Address;
                return true;
            }
        }

        address = default;
        return false;
    }

    /// <summary>
    /// res_hnok (lib/libc/resolv/res_comp.c) as /etc/hosts accepts it: labels of letters, digits, '-' and '_'
    /// separated by dots, each 1..63 long, at most <see cref="MaxNameLength"/> in all, not a dotted-quad literal.
    /// </summary>
    public static bool IsValidName(string name)
    {
        if (name.Length is 0 or > MaxNameLength || InAddr.TryParse(name, out _))
        {
            return false;
        }

        foreach (string label in name.Split('.'))
        {
            if (label.Length is 0 or > 63 || !label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    private static void Validate(string name)
    {
        if (!IsValidName(name))
        {
            throw new ArgumentException($"{name}: invalid host name", nameof(name));
        }
    }

    private static bool Matches(HostEntry e, string name) => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase);

    private static HostEntry[] Table(Vnet vnet)
    {
        vnet.EnsureUsable();
        HostEntry[]? table = V_hosts_In(vnet);
        if (table is not null)
        {
            return table;
        }

        lock (WriteLock)
        {
            return V_hosts_In(vnet) ??= [new HostEntry(InAddr.Loopback, "localhost")];
        }
    }
}
