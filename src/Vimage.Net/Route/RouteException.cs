namespace Vimage.Net.Route;

/// <summary>Why a routing request failed, with FreeBSD's errno.</summary>
public enum RouteError
{
    /// <summary>ESRCH: "not in table".</summary>
    NotInTable = 3,

    /// <summary>EEXIST.</summary>
    Exists = 17,

    /// <summary>ENETUNREACH: the gateway is not on a connected network.</summary>
    NetworkUnreachable = 51,

    /// <summary>EINVAL.</summary>
    InvalidArgument = 22,
}

public sealed class RouteException(RouteError error, string message) : Exception(message)
{
    public RouteError Error { get; } = error;

    public int Errno => (int)Error;
}
