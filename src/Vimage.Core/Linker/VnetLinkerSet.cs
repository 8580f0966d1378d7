using System.Reflection;

namespace Vimage.Core.Linker;

/// <summary>One assembly's VNET set (its set_vnet): where its variables sit in every vnet, and its sysinits.</summary>
public sealed unsafe class VnetLinkerSet
{
    private readonly SetVariable[] _variables;
    private readonly int[] _refIndexes;

    internal VnetLinkerSet(Assembly assembly, SetVariable[] variables, SysinitEntry[] sysinits, SysinitEntry[] sysuninits)
    {
        Assembly = assembly;
        _variables = variables;
        Sysinits = [.. ResourceEntries(variables, init: true), .. sysinits];
        Sysuninits = [.. ResourceEntries(variables, init: false), .. sysuninits];
        Layout = SetLayout.Of(variables);
        _refIndexes = new int[variables.Length];
        Array.Fill(_refIndexes, -1);
        ReferenceCount = variables.Count(v => v.IsReference);
    }

    public Assembly Assembly { get; }

    /// <summary>VNET_PCPUSTAT_SYSINIT/SYSUNINIT for every IPerVnetResource variable: (SI_SUB_INIT_IF, SI_ORDER_FIRST).</summary>
    private IEnumerable<SysinitEntry> ResourceEntries(SetVariable[] variables, bool init)
    {
        for (int i = 0; i < variables.Length; i++)
        {
            SetVariable v = variables[i];
            if (v.IsPerVnetResource)
            {
                int index = i;
                yield return new SysinitEntry(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_FIRST,
                    $"{v.DeclaringType}.{v.Name} ({(init ? "alloc" : "free")})", () => v.RunResourceHook!(this, index, init));
            }
        }
    }

    public string Name => Assembly.GetName().Name ?? "?";

    public IReadOnlyList<SetVariable> Variables => _variables;

    public IReadOnlyList<SysinitEntry> Sysinits { get; }

    public IReadOnlyList<SysinitEntry> Sysuninits { get; }

    /// <summary>Offset of the set's value variables in every vnet's region.</summary>
    public long Start { get; private set; }

    /// <summary>First reference slot of the set.</summary>
    public int RefStart { get; private set; }

    /// <summary>True when the set was placed in the module reserve (registered after boot).</summary>
    public bool IsModule { get; private set; }

    internal long ReserveBlock { get; private set; } = -1;

    /// <summary>Module constructors are registered and have run everywhere.</summary>
    internal bool IsLinked { get; set; }

    internal bool IsUnloaded { get; set; }

    internal int ReferenceCount { get; }

    internal SetLayout Layout { get; }

    /// <summary>Region offset of value variable <paramref name="index"/> (used by generated accessors).</summary>
    public nint Offset(int index)
    {
        if (_variables[index].IsReference)
        {
            throw new InvalidOperationException($"{_variables[index]} is a reference variable: it has a slot, not an offset");
        }

        return (nint)(Start + Layout.Offsets[index]);
    }

    /// <summary>Reference slot of reference variable <paramref name="index"/> (used by generated accessors).</summary>
    public int ReferenceIndex(int index)
    {
        if (!_variables[index].IsReference)
        {
            throw new InvalidOperationException($"{_variables[index]} is a value variable: it has an offset, not a slot");
        }

        return _refIndexes[index];
    }

    internal void Place(long start, int refStart, bool isModule, long reserveBlock)
    {
        Start = start;
        RefStart = refStart;
        IsModule = isModule;
        ReserveBlock = reserveBlock;
        int slot = refStart;
        for (int i = 0; i < _variables.Length; i++)
        {
            if (_variables[i].IsReference)
            {
                _refIndexes[i] = slot++;
            }
        }
    }

    /// <summary>Writes every value variable's static initial value into a region (the master).</summary>
    internal void WriteInitialValues(byte* region)
    {
        for (int i = 0; i < _variables.Length; i++)
        {
            SetVariable v = _variables[i];
            if (!v.IsReference)
            {
                v.WriteInitial!(new Span<byte>(region + Offset(i), v.Size));
            }
        }
    }

    /// <summary>Fills this set's reference slots: the master gets the field values, vnets fresh instances.</summary>
    internal void FillReferences(object?[] refs, bool master)
    {
        for (int i = 0; i < _variables.Length; i++)
        {
            SetVariable v = _variables[i];
            if (v.IsReference)
            {
                refs[_refIndexes[i]] = master ? v.ReadField() : v.Factory!();
            }
        }
    }

    internal void ClearReferences(object?[] refs)
    {
        for (int i = 0; i < _variables.Length; i++)
        {
            if (_variables[i].IsReference)
            {
                refs[_refIndexes[i]] = null;
            }
        }
    }
}

/// <summary>Entry point for generated code: registers an assembly's VNET set and its sysinits.</summary>
public static class VnetLinker
{
    public static VnetLinkerSet Register(Assembly assembly, SetVariable[] variables, SysinitEntry[] sysinits, SysinitEntry[] sysuninits)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentNullException.ThrowIfNull(variables);
        ArgumentNullException.ThrowIfNull(sysinits);
        ArgumentNullException.ThrowIfNull(sysuninits);
        return VnetKernel.Register(new VnetLinkerSet(assembly, variables, sysinits, sysuninits));
    }

    /// <summary>
    /// Runs a module's constructors in every vnet. Generated code calls it from the module initializer once the
    /// set's offsets are assigned, because constructors use the accessors. A no-op for sets linked at boot.
    /// </summary>
    public static void Link(VnetLinkerSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        VnetKernel.Link(set);
    }
}
