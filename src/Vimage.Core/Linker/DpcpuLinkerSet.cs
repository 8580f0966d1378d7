using System.Reflection;

namespace Vimage.Core.Linker;

/// <summary>One assembly's DPCPU set (its set_pcpu): where its variables sit in every CPU's region.</summary>
public sealed unsafe class DpcpuLinkerSet
{
    private readonly SetVariable[] _variables;

    internal DpcpuLinkerSet(Assembly assembly, SetVariable[] variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        foreach (SetVariable v in variables)
        {
            if (v.IsReference)
            {
                throw new ArgumentException($"DPCPU variable {v.DeclaringType}.{v.Name} must be unmanaged", nameof(variables));
            }
        }

        Assembly = assembly;
        _variables = variables;
        Layout = SetLayout.Of(variables);
    }

    public Assembly Assembly { get; }

    public IReadOnlyList<SetVariable> Variables => _variables;

    /// <summary>Offset of the set in every CPU's region.</summary>
    public long Start { get; private set; }

    /// <summary>True when the set lives in the module reserve (registered after boot).</summary>
    public bool IsModule { get; private set; }

    internal long ReserveBlock { get; private set; } = -1;

    internal SetLayout Layout { get; }

    /// <summary>Offset of variable <paramref name="index"/> in every CPU's region (used by generated accessors).</summary>
    public nint Offset(int index) => (nint)(Start + Layout.Offsets[index]);

    internal void Place(long start, bool isModule, long reserveBlock = -1)
    {
        Start = start;
        IsModule = isModule;
        ReserveBlock = reserveBlock;
    }

    internal void WriteInitialValues(byte* region)
    {
        for (int i = 0; i < _variables.Length; i++)
        {
            SetVariable v = _variables[i];
            v.WriteInitial!(new Span<byte>(region + Offset(i), v.Size));
        }
    }
}

/// <summary>Entry point for generated code: registers an assembly's DPCPU set.</summary>
public static class DpcpuLinker
{
    public static DpcpuLinkerSet Register(Assembly assembly, SetVariable[] variables)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return Dpcpu.Register(assembly, variables);
    }
}
