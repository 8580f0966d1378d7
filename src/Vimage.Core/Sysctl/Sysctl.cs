using System.Reflection;
using Vimage.Core.Linker;

namespace Vimage.Core;

/// <summary>
/// The sysctl MIB: a tree of named OIDs (<c>net.inet.ip.ttl</c>). OIDs with <see cref="SysctlFlags.VNET"/> resolve
/// to the copy of the vnet the request is made from; others to the master copy (for <c>[Vnet]</c> variables:
/// only vnets created later see a write — FreeBSD's gotcha) or to a plain global. Requests name the vnet
/// explicitly or default to the current one (vnet0 outside any CURVNET_SET), as userland_sysctl does with the
/// caller's jail.
/// </summary>
public static partial class Sysctl
{
    private static readonly ReaderWriterLockSlim Lock = new(LockRecursionPolicy.NoRecursion);
    private static readonly SortedDictionary<string, SysctlOid> Leaves = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, int> Nodes = new(StringComparer.Ordinal); // node -> leaves below
    private static readonly List<SysctlNodeHandler> Handlers = []; // nodes whose leaves are made on demand

    /// <summary>Looks an OID up, or throws ENOENT.</summary>
    public static SysctlOid Find(string name)
    {
        string key = CheckName(name);
        Lock.EnterReadLock();
        try
        {
            if (Leaves.TryGetValue(key, out SysctlOid? oid))
            {
                return oid;
            }

            if (Nodes.ContainsKey(key))
            {
                throw new SysctlException(SysctlError.IsNode, $"sysctl: {key}: is a node, not a value (list it with -a)");
            }
        }
        finally
        {
            Lock.ExitReadLock();
        }

        if (HandlerFor(key) is { } handler)
        {
            if (handler.Find(key) is { } made)
            {
                return made;
            }

            if (handler.IsNode(key))
            {
                throw new SysctlException(SysctlError.IsNode, $"sysctl: {key}: is a node, not a value (list it with -a)");
            }
        }

        throw new SysctlException(SysctlError.UnknownOid, $"sysctl: unknown oid '{key}'");
    }

    public static bool Exists(string name)
    {
        Lock.EnterReadLock();
        try
        {
            if (Leaves.ContainsKey(name) || Nodes.ContainsKey(name))
            {
                return true;
            }
        }
        finally
        {
            Lock.ExitReadLock();
        }

        return HandlerFor(name) is { } handler && (handler.IsNode(name) || handler.Find(name) is not null);
    }

    /// <summary>Reads an OID as seen from <paramref name="vnet"/> (default: the current vnet, else vnet0).</summary>
    public static object? Get(string name, Vnet? vnet = null) => Get(Find(name), vnet);

    public static object? Get(SysctlOid oid, Vnet? vnet = null)
    {
        ArgumentNullException.ThrowIfNull(oid);
        if (!oid.IsReadable)
        {
            throw new SysctlException(SysctlError.PermissionDenied, $"sysctl: {oid.Name}: is not readable");
        }

        return oid.Read(Resolve(vnet));
    }

    /// <summary>The value as sysctl(8) prints it.</summary>
    public static string GetText(string name, Vnet? vnet = null)
    {
        SysctlOid oid = Find(name);
        return SysctlValues.Format(oid, Get(oid, vnet));
    }

    /// <summary>
    /// Writes an OID from <paramref name="vnet"/>. The value (text as typed at sysctl(8), or a CLR value) is
    /// validated first — type, range, length — and nothing changes when it fails. From a vnet other than vnet0
    /// only VNET (or PRISON) OIDs are writable, as in a vnet jail; an unprivileged caller needs ANYBODY.
    /// </summary>
    public static void Set(string name, object? value, Vnet? vnet = null, bool privileged = true)
    {
        SysctlOid oid = Find(name);
        Vnet target = Resolve(vnet);
        if (!oid.IsWritable || oid.Write is null)
        {
            throw new SysctlException(SysctlError.PermissionDenied, $"sysctl: oid '{oid.Name}' is read only");
        }

        if (!privileged && (oid.Flags & SysctlFlags.ANYBODY) == 0)
        {
            throw new SysctlException(SysctlError.PermissionDenied, $"sysctl: {oid.Name}: Operation not permitted");
        }

        if (target != Vnet.Vnet0 && (oid.Flags & (SysctlFlags.VNET | SysctlFlags.PRISON)) == 0)
        {
            throw new SysctlException(SysctlError.PermissionDenied,
                $"sysctl: {oid.Name}: Operation not permitted (not virtualized: only the host may set it)");
        }

        oid.Write(target, SysctlValues.Convert(oid, value));
    }

    /// <summary>The OIDs at or below <paramref name="prefix"/> in name order ("" for all), as sysctl -a walks them.</summary>
    public static IReadOnlyList<SysctlOid> Walk(string prefix = "", bool includeOpaque = false, bool includeSkipped = false)
    {
        string node = prefix.Trim();
        Lock.EnterReadLock();
        List<SysctlOid> result;
        SysctlNodeHandler[] handlers;
        try
        {
            result = Leaves.Values.Where(o => node.Length == 0 || SysctlNodeHandler.IsAtOrBelow(o.Name, node)).ToList();
            handlers = [.. Handlers];
        }
        finally
        {
            Lock.ExitReadLock();
        }

        bool merged = false;
        foreach (SysctlNodeHandler handler in handlers)
        {
            if (node.Length == 0 || SysctlNodeHandler.IsAtOrBelow(handler.Root, node))
            {
                result.AddRange(handler.Walk(handler.Root));
                merged = true;
            }
            else if (handler.Covers(node))
            {
                result.AddRange(handler.Walk(node));
                merged = true;
            }
        }

        if (merged)
        {
            result.Sort(static (x, y) => string.CompareOrdinal(x.Name, y.Name));
        }

        result.RemoveAll(o => (!includeOpaque && o.Type == SysctlType.Opaque && o.Name != node)
                              || (!includeSkipped && (o.Flags & SysctlFlags.SKIP) != 0 && o.Name != node));

        if (result.Count == 0 && node.Length != 0 && !Exists(node))
        {
            throw new SysctlException(SysctlError.UnknownOid, $"sysctl: unknown oid '{node}'");
        }

        return result;
    }

    /// <summary>Adds an OID whose value comes from handlers (SYSCTL_ADD_PROC). With VNET they run with the vnet current.</summary>
    public static SysctlOid AddProc<T>(string name, SysctlFlags flags, string description, Func<T> read, Action<T>? write = null,
        long min = long.MinValue, long max = long.MaxValue, int maxLength = 255, Assembly? owner = null)
    {
        SysctlOid oid = MakeProc(name, flags, description, read, write, min, max, maxLength, owner);
        Add(oid);
        return oid;
    }

    /// <summary>An OID like <see cref="AddProc"/>'s but not registered: what a <see cref="SysctlNodeHandler"/> hands out.</summary>
    public static SysctlOid MakeProc<T>(string name, SysctlFlags flags, string description, Func<T> read, Action<T>? write = null,
        long min = long.MinValue, long max = long.MaxValue, int maxLength = 255, Assembly? owner = null)
    {
        ArgumentNullException.ThrowIfNull(read);
        SysctlType type = SysctlValues.TypeOf(typeof(T));
        bool vnet = (flags & SysctlFlags.VNET) != 0;
        var oid = new SysctlOid(CheckName(name), type, flags, description, owner)
        {
            Min = min,
            Max = max,
            MaxLength = maxLength,
            Read = v => InVnet(vnet, v, () => read()),
            Write = write is null ? null : (v, value) => InVnet(vnet, v, () =>
            {
                write((T)value!);
                return null;
            }),
        };
        return oid;
    }

    /// <summary>Hangs <paramref name="handler"/> at its root: names below it are resolved by the handler.</summary>
    public static void AddNodeHandler(SysctlNodeHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        string root = CheckName(handler.Root);
        Lock.EnterWriteLock();
        try
        {
            if (Leaves.ContainsKey(root) || Nodes.ContainsKey(root) || Handlers.Any(h => h.Covers(root) || SysctlNodeHandler.IsAtOrBelow(h.Root, root)))
            {
                throw new SysctlException(SysctlError.Exists, $"sysctl: {root}: already registered");
            }

            foreach (string node in Ancestors(root))
            {
                if (Leaves.ContainsKey(node))
                {
                    throw new SysctlException(SysctlError.Exists, $"sysctl: {root}: {node} is a value, not a node");
                }
            }

            Handlers.Add(handler);
            foreach (string node in Ancestors(root))
            {
                Nodes[node] = Nodes.GetValueOrDefault(node) + 1;
            }
        }
        finally
        {
            Lock.ExitWriteLock();
        }
    }

    private static SysctlNodeHandler? HandlerFor(string name)
    {
        Lock.EnterReadLock();
        try
        {
            foreach (SysctlNodeHandler handler in Handlers)
            {
                if (handler.Covers(name))
                {
                    return handler;
                }
            }

            return null;
        }
        finally
        {
            Lock.ExitReadLock();
        }
    }

    /// <summary>Removes an OID (and nodes left empty).</summary>
    public static bool Remove(string name)
    {
        Lock.EnterWriteLock();
        try
        {
            if (!Leaves.Remove(name))
            {
                return false;
            }

            foreach (string node in Ancestors(name))
            {
                if (--Nodes[node] == 0)
                {
                    Nodes.Remove(node);
                }
            }

            return true;
        }
        finally
        {
            Lock.ExitWriteLock();
        }
    }

    internal static void Add(SysctlOid oid)
    {
        Lock.EnterWriteLock();
        try
        {
            if (Leaves.ContainsKey(oid.Name) || Nodes.ContainsKey(oid.Name) || Handlers.Any(h => h.Covers(oid.Name)))
            {
                throw new SysctlException(SysctlError.Exists, $"sysctl: {oid.Name}: already registered");
            }

            foreach (string node in Ancestors(oid.Name))
            {
                if (Leaves.ContainsKey(node))
                {
                    throw new SysctlException(SysctlError.Exists, $"sysctl: {oid.Name}: {node} is a value, not a node");
                }
            }

            Leaves.Add(oid.Name, oid);
            foreach (string node in Ancestors(oid.Name))
            {
                Nodes[node] = Nodes.GetValueOrDefault(node) + 1;
            }
        }
        finally
        {
            Lock.ExitWriteLock();
        }
    }

    internal static void RemoveOwnedBy(Assembly owner)
    {
        string[] names;
        Lock.EnterReadLock();
        try
        {
            names = Leaves.Values.Where(o => o.Owner == owner).Select(o => o.Name).ToArray();
        }
        finally
        {
            Lock.ExitReadLock();
        }

        foreach (string name in names)
        {
            Remove(name);
        }
    }

    private static Vnet Resolve(Vnet? vnet)
    {
        Vnet target = vnet ?? Curvnet.Current ?? Vnet.Vnet0;
        target.EnsureUsable();
        return target;
    }

    private static object? InVnet(bool vnetFlag, Vnet vnet, Func<object?> body)
    {
        if (!vnetFlag)
        {
            return body();
        }

        using (Curvnet.Set(vnet))
        {
            return body();
        }
    }

    private static IEnumerable<string> Ancestors(string name)
    {
        for (int dot = name.IndexOf('.'); dot > 0; dot = name.IndexOf('.', dot + 1))
        {
            yield return name[..dot];
        }
    }

    private static string CheckName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string trimmed = name.Trim();
        if (trimmed.Length == 0 || trimmed.StartsWith('.') || trimmed.EndsWith('.') || trimmed.Contains("..", StringComparison.Ordinal)
            || trimmed.Any(char.IsWhiteSpace))
        {
            throw new SysctlException(SysctlError.UnknownOid, $"sysctl: '{name}' is not a valid oid name");
        }

        return trimmed;
    }
}
