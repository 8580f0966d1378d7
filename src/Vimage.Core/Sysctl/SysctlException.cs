namespace Vimage.Core;

/// <summary>Why a sysctl request failed, with FreeBSD's errno for each.</summary>
public enum SysctlError
{
    /// <summary>ENOENT: "unknown oid".</summary>
    UnknownOid = 2,

    /// <summary>EPERM: writing a read-only OID, or a jail writing a host-only OID.</summary>
    PermissionDenied = 1,

    /// <summary>EINVAL: a value of the wrong type, out of range, or unparsable.</summary>
    InvalidValue = 22,

    /// <summary>EISDIR: a node has no value of its own.</summary>
    IsNode = 21,

    /// <summary>EEXIST: registering a name twice.</summary>
    Exists = 17,

    /// <summary>ESRCH: a handler found no such object (net.inet.tcp.cc.algorithm naming no loaded module).</summary>
    NoSuchObject = 3,

    /// <summary>EACCES: a handler refused the write in the current configuration.</summary>
    AccessDenied = 13,

    /// <summary>ENOTCAPABLE: a handler refused a change it cannot make (net.fibs lowered).</summary>
    NotCapable = 93,
}

public sealed class SysctlException(SysctlError error, string message) : Exception(message)
{
    public SysctlError Error { get; } = error;

    /// <summary>The errno FreeBSD's sysctl(3) would set.</summary>
    public int Errno => (int)Error;
}
