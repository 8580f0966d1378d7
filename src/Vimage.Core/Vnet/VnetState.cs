namespace Vimage.Core;

/// <summary>Where a vnet is in its life.</summary>
public enum VnetState
{
    /// <summary>Region allocated, constructors running; not yet listed.</summary>
    Creating,

    /// <summary>Listed and usable.</summary>
    Live,

    /// <summary>Unlisted, destructors running (vnet_shutdown).</summary>
    ShuttingDown,

    /// <summary>Region freed; any further use throws.</summary>
    Destroyed,
}
