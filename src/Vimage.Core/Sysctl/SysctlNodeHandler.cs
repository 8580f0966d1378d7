namespace Vimage.Core;

/// <summary>
/// A node whose leaves are made when asked for, as FreeBSD's CTLTYPE_NODE OIDs with a handler
/// (<c>sysctl_ifdata</c> under <c>net.link.generic.ifdata</c>, <c>kern.proc.pid</c>): nothing is registered per
/// instance, the handler resolves names below <see cref="Root"/> against its live objects and a shared table of
/// leaf descriptions. To sysctl(8) the leaves look like any other: listed by a walk, read and written by name.
/// </summary>
public abstract class SysctlNodeHandler
{
    protected SysctlNodeHandler(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = root;
    }

    /// <summary>The node the handler answers for (<c>dev.epair</c>).</summary>
    public string Root { get; }

    /// <summary>The leaf called <paramref name="name"/> (below <see cref="Root"/>), or null.</summary>
    public abstract SysctlOid? Find(string name);

    /// <summary>Whether <paramref name="name"/> (<see cref="Root"/> or below) is a node that has leaves now.</summary>
    public abstract bool IsNode(string name);

    /// <summary>Every leaf at or below <paramref name="node"/> (<see cref="Root"/> or below), in any order.</summary>
    public abstract IEnumerable<SysctlOid> Walk(string node);

    /// <summary>Whether <paramref name="name"/> is <see cref="Root"/> or below it.</summary>
    public bool Covers(string name) => IsAtOrBelow(name, Root);

    /// <summary>Whether <paramref name="name"/> is <paramref name="node"/> or a name below it.</summary>
    public static bool IsAtOrBelow(string name, string node)
        => name.StartsWith(node, StringComparison.Ordinal) && (name.Length == node.Length || name[node.Length] == '.');
}
