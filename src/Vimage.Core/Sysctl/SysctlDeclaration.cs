using System.Reflection;
using Vimage.Core.Linker;

namespace Vimage.Core;

/// <summary>One <c>[Sysctl]</c> declaration as the source generator collects it: the OID and the variable it exposes.</summary>
public sealed class SysctlDeclaration
{
    private SysctlDeclaration(string name, SysctlFlags flags, string description, long min, long max, int maxLength)
    {
        Name = name;
        Flags = flags;
        Description = description;
        Min = min;
        Max = max;
        MaxLength = maxLength;
    }

    public string Name { get; }

    public SysctlFlags Flags { get; }

    public string Description { get; }

    public long Min { get; }

    public long Max { get; }

    public int MaxLength { get; }

    /// <summary>For a [Vnet] variable: its set and index there.</summary>
    internal VnetLinkerSet? Set { get; private init; }

    internal int Index { get; private init; } = -1;

    /// <summary>For a plain static field: the field.</summary>
    internal SetVariable? Global { get; private init; }

    internal SetVariable Variable => Set is not null ? Set.Variables[Index] : Global!;

    /// <summary>An OID over a <c>[Vnet]</c> variable (variable <paramref name="index"/> of <paramref name="set"/>).</summary>
    public static SysctlDeclaration ForVnet(string name, SysctlFlags flags, string description, long min, long max,
        int maxLength, VnetLinkerSet set, int index)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, set.Variables.Count);
        return new SysctlDeclaration(name, flags, description, min, max, maxLength) { Set = set, Index = index };
    }

    /// <summary>An OID over a plain static field: a global knob, the same in every vnet.</summary>
    public static SysctlDeclaration ForGlobal(string name, SysctlFlags flags, string description, long min, long max,
        int maxLength, SetVariable variable)
    {
        ArgumentNullException.ThrowIfNull(variable);
        return new SysctlDeclaration(name, flags, description, min, max, maxLength) { Global = variable };
    }
}

/// <summary>Entry point for generated code: registers an assembly's OIDs (linker_file_register_sysctls).</summary>
public static class SysctlLinker
{
    public static void Register(Assembly assembly, SysctlDeclaration[] declarations)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentNullException.ThrowIfNull(declarations);
        Sysctl.RegisterDeclarations(assembly, declarations);
    }
}
