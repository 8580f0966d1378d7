using System.Reflection;

namespace Vimage.Core;

/// <summary>
/// One leaf of the MIB (struct sysctl_oid): its name, type, flags and description, and how to read and write
/// the value it exposes for a given vnet.
/// </summary>
public sealed class SysctlOid
{
    internal SysctlOid(string name, SysctlType type, SysctlFlags flags, string description, Assembly? owner)
    {
        Name = name;
        Type = type;
        Flags = flags;
        Description = description;
        Owner = owner;
    }

    public string Name { get; }

    public SysctlType Type { get; }

    public SysctlFlags Flags { get; }

    public string Description { get; }

    /// <summary>The assembly that declared it; its OIDs go away when it unloads.</summary>
    public Assembly? Owner { get; }

    public bool IsVnet => (Flags & SysctlFlags.VNET) != 0;

    public bool IsReadable => (Flags & SysctlFlags.RD) != 0;

    public bool IsWritable => (Flags & SysctlFlags.WR) != 0;

    public bool IsTunable => (Flags & SysctlFlags.TUN) != 0 && (Flags & SysctlFlags.NOFETCH) == 0;

    /// <summary>Smallest value a write may set.</summary>
    public long Min { get; internal init; } = long.MinValue;

    /// <summary>Largest value a write may set.</summary>
    public long Max { get; internal init; } = long.MaxValue;

    /// <summary>Longest string a write may set.</summary>
    public int MaxLength { get; internal init; } = 255;

    /// <summary>sysctl(8)'s format letters: I, IU, L, Q, QU, A, S,name.</summary>
    public string Format => Type switch
    {
        SysctlType.Int => "I",
        SysctlType.UInt => "IU",
        SysctlType.Long => "L",
        SysctlType.U64 => "QU",
        SysctlType.Bool => "CU",
        SysctlType.String => "A",
        SysctlType.Opaque => "S," + OpaqueName,
        _ => "N",
    };

    internal string OpaqueName { get; init; } = "opaque";

    /// <summary>Reads the value as seen from <c>vnet</c> (resolved per the VNET flag).</summary>
    internal Func<Vnet, object?> Read { get; init; } = static _ => null;

    /// <summary>Stores an already validated value; null for read-only OIDs.</summary>
    internal Action<Vnet, object?>? Write { get; init; }

    /// <summary>Stores a tunable into the master copy (what new vnets start from).</summary>
    internal Action<object?>? WriteMaster { get; init; }

    public override string ToString() => $"{Name} ({Format}, 0x{(uint)Flags:x8})";
}
