namespace Vimage.Core;

/// <summary>
/// SYSCTL_INT and friends, declared next to the variable they expose: on a <c>[Vnet]</c> field (with
/// <see cref="SysctlFlags.VNET"/> it resolves to the current vnet's copy; without it, to the master copy) or on a
/// plain static field (a global knob). The type comes from the field: int, uint, long, ulong, bool, string, or a
/// <see cref="VnetPcpuStat{TField}"/> (an opaque statistics struct that a write zeroes).
/// </summary>
[AttributeUsage(AttributeTargets.Field, AllowMultiple = false, Inherited = false)]
public sealed class SysctlAttribute(string name, SysctlFlags flags, string description) : Attribute
{
    public string Name { get; } = name;

    public SysctlFlags Flags { get; } = flags;

    public string Description { get; } = description;

    /// <summary>Smallest value a write may set (inclusive); unset when equal to long.MinValue.</summary>
    public long Min { get; set; } = long.MinValue;

    /// <summary>Largest value a write may set (inclusive); unset when equal to long.MaxValue.</summary>
    public long Max { get; set; } = long.MaxValue;

    /// <summary>For strings: the longest value a write may set (the C buffer size minus its NUL).</summary>
    public int MaxLength { get; set; } = 255;
}
