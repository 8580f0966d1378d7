namespace Vimage.Net.Sockets;

/// <summary>
/// struct domain (sys/domain.h): an address family and its protocol switch. Protocols are added with
/// <see cref="Add"/> (pf_proto_register); sockets find theirs by type and protocol number (pffindproto), a
/// protocol number of 0 meaning the type's default (the first added of that type).
/// </summary>
public sealed class Domain(SaFamily family, string name)
{
    private Protosw[] _protosw = [];

    public SaFamily Family { get; } = family;

    /// <summary>dom_name ("internet").</summary>
    public string Name { get; } = name;

    /// <summary>dom_protosw.</summary>
    public IReadOnlyList<Protosw> Protocols => Volatile.Read(ref _protosw);

    /// <summary>pf_proto_register: EEXIST when the domain already has this type and protocol number.</summary>
    public int Add(Protosw pr)
    {
        ArgumentNullException.ThrowIfNull(pr);
        lock (this)
        {
            foreach (Protosw other in _protosw)
            {
                if (other.Type == pr.Type && other.Protocol == pr.Protocol)
                {
                    return other == pr ? 0 : Errno.EEXIST;
                }
            }

            pr.Domain = this;
            Volatile.Write(ref _protosw, [.. _protosw, pr]);
            return 0;
        }
    }

    /// <summary>pf_proto_unregister.</summary>
    public bool Remove(Protosw pr)
    {
        lock (this)
        {
            if (Array.IndexOf(_protosw, pr) < 0)
            {
                return false;
            }

            Volatile.Write(ref _protosw, _protosw.Where(p => p != pr).ToArray());
            return true;
        }
    }

    /// <summary>
    /// pffindproto / pffindtype: the protocol for socket(family, type, protocol): the exact match, else for
    /// protocol 0 the type's first protocol, else for SOCK_RAW the raw wildcard entry (protocol 0, rip's default).
    /// EPROTONOSUPPORT when the type exists but not the protocol, EPROTOTYPE when the type does not.
    /// </summary>
    public int Find(SockType type, int protocol, out Protosw? pr)
    {
        pr = null;
        Protosw? first = null, wildcard = null;
        foreach (Protosw p in Protocols)
        {
            if (p.Type != type)
            {
                continue;
            }

            if (p.Protocol == protocol)
            {
                pr = p;
                return 0;
            }

            first ??= p;
            if (p.Protocol == 0)
            {
                wildcard ??= p;
            }
        }

        pr = protocol == 0 ? first : type == SockType.SOCK_RAW ? wildcard : null;
        return pr is not null ? 0 : first is not null ? Errno.EPROTONOSUPPORT : Errno.EPROTOTYPE;
    }

    public override string ToString() => Name;
}

/// <summary>The registered domains (FreeBSD's domains list, DOMAIN_SET).</summary>
public static class Domains
{
    private static readonly Domain?[] ByFamily = new Domain?[256];

    /// <summary>domain_add: the domain of <paramref name="family"/>, created on first use.</summary>
    public static Domain GetOrAdd(SaFamily family, string name)
    {
        lock (ByFamily)
        {
            return ByFamily[(byte)family] ??= new Domain(family, name);
        }
    }

    /// <summary>pffinddomain: null when nobody registered the family.</summary>
    public static Domain? Find(SaFamily family) => Volatile.Read(ref ByFamily[(byte)family]);
}
