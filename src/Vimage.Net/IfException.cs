namespace Vimage.Net;

/// <summary>Why an interface request failed, with FreeBSD's errno.</summary>
public enum IfError
{
    /// <summary>ENXIO: "interface does not exist".</summary>
    NoSuchInterface = 6,

    /// <summary>EEXIST: the name is taken in that vnet.</summary>
    Exists = 17,

    /// <summary>EINVAL.</summary>
    InvalidArgument = 22,

    /// <summary>EPERM: e.g. moving an interface out of a vnet that does not own it.</summary>
    PermissionDenied = 1,

    /// <summary>EBUSY: a reconfiguration is already running.</summary>
    Busy = 16,

    /// <summary>ENOSPC: a limit on how many may exist was reached.</summary>
    NoSpace = 28,
}

public sealed class IfException(IfError error, string message) : Exception(message)
{
    public IfError Error { get; } = error;

    public int Errno => (int)Error;
}
