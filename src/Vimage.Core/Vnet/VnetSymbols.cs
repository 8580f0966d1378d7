using Vimage.Core.Linker;

namespace Vimage.Core;

/// <summary>One virtualized global: what libkvm and netstat find through the vnet_entry_ ELF symbols.</summary>
public sealed class VnetSymbol
{
    internal VnetSymbol(VnetLinkerSet set, int index)
    {
        Set = set;
        Index = index;
        Variable = set.Variables[index];
    }

    internal VnetLinkerSet Set { get; }

    internal int Index { get; }

    internal SetVariable Variable { get; }

    public string Assembly => Set.Name;

    public string DeclaringType => Variable.DeclaringType;

    public string Name => Variable.Name;

    /// <summary>Declaring type and name: unique across the process.</summary>
    public string QualifiedName => $"{DeclaringType}.{Name}";

    public Type Type => Variable.Type;

    /// <summary>Bytes in the region (0 for reference-type variables).</summary>
    public int Size => Variable.Size;

    public bool IsReference => Variable.IsReference;

    /// <summary>Offset in every vnet's region, or -1 for a reference-type variable.</summary>
    public long Offset => IsReference ? -1 : Set.Offset(Index);

    /// <summary>Reference slot, or -1 for a value variable.</summary>
    public int Slot => IsReference ? Set.ReferenceIndex(Index) : -1;

    public bool IsModule => Set.IsModule;

    public override string ToString() => IsReference
        ? $"{QualifiedName} : {Type.Name} (slot {Slot}, {Assembly})"
        : $"{QualifiedName} : {Type.Name} @ 0x{Offset:x} [{Size}] ({Assembly})";
}

/// <summary>
/// The symbol table of every virtualized global, and by-name access to any vnet's copy (what FreeBSD's libkvm
/// does with vnet_entry_ symbols and vnet_data_base). Names may be plain (<c>ip_defttl</c>) when unique, or
/// qualified with the declaring type.
/// </summary>
public static unsafe class VnetSymbols
{
    private static readonly object Lock = new();
    private static readonly List<VnetSymbol> Symbols = [];

    public static IReadOnlyList<VnetSymbol> All
    {
        get
        {
            VnetKernel.Boot();
            lock (Lock)
            {
                return Symbols.ToArray();
            }
        }
    }

    public static VnetSymbol Find(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        IReadOnlyList<VnetSymbol> all = All;
        VnetSymbol[] matches = all.Where(s => s.QualifiedName == name).ToArray();
        if (matches.Length == 0)
        {
            matches = all.Where(s => s.Name == name).ToArray();
        }

        return matches.Length switch
        {
            1 => matches[0],
            0 => throw new KeyNotFoundException($"no vnet symbol named '{name}'"),
            _ => throw new ArgumentException(
                $"vnet symbol '{name}' is ambiguous: {string.Join(", ", matches.Select(m => m.QualifiedName))}", nameof(name)),
        };
    }

    /// <summary>Reads <paramref name="vnet"/>'s copy of a variable.</summary>
    public static object? Read(Vnet vnet, string name) => Read(vnet, Find(name));

    public static object? Read(Vnet vnet, VnetSymbol symbol)
    {
        Check(vnet, symbol);
        if (!VnetKernel.IsVimage)
        {
            return symbol.Variable.ReadField();
        }

        return symbol.IsReference
            ? vnet.Refs![symbol.Slot]
            : Box(symbol, (byte*)vnet.DataBase + symbol.Offset);
    }

    /// <summary>Writes <paramref name="vnet"/>'s copy; the value must have the variable's type.</summary>
    public static void Write(Vnet vnet, string name, object? value) => Write(vnet, Find(name), value);

    public static void Write(Vnet vnet, VnetSymbol symbol, object? value)
    {
        Check(vnet, symbol);
        CheckValue(symbol, value);
        if (!VnetKernel.IsVimage)
        {
            symbol.Variable.WriteField(value);
        }
        else if (symbol.IsReference)
        {
            vnet.Refs![symbol.Slot] = value;
        }
        else
        {
            Unbox(symbol, value!, (byte*)vnet.DataBase + symbol.Offset);
        }
    }

    /// <summary>The raw bytes of <paramref name="vnet"/>'s copy of a value variable.</summary>
    public static byte[] ReadBytes(Vnet vnet, string name)
    {
        VnetSymbol symbol = Find(name);
        if (symbol.IsReference)
        {
            throw new ArgumentException($"{symbol.QualifiedName} is a reference-type variable and has no bytes", nameof(name));
        }

        return VnetKernel.IsVimage
            ? new ReadOnlySpan<byte>((byte*)vnet.DataBase + symbol.Offset, symbol.Size).ToArray()
            : ToBytes(symbol, symbol.Variable.ReadField()!);
    }

    /// <summary>Reads the master (reference) copy that new vnets are created from.</summary>
    public static object? ReadMaster(string name) => ReadMaster(Find(name));

    public static object? ReadMaster(VnetSymbol symbol)
    {
        if (!VnetKernel.IsVimage)
        {
            return symbol.Variable.ReadField();
        }

        return symbol.IsReference ? VnetKernel.MasterRefs[symbol.Slot] : Box(symbol, VnetKernel.Master + symbol.Offset);
    }

    /// <summary>Writes the master copy: only vnets created afterwards see the value (FreeBSD's non-VNET sysctl gotcha).</summary>
    public static void WriteMaster(string name, object? value) => WriteMaster(Find(name), value);

    public static void WriteMaster(VnetSymbol symbol, object? value)
    {
        CheckValue(symbol, value);
        if (!VnetKernel.IsVimage)
        {
            symbol.Variable.WriteField(value);
        }
        else if (symbol.IsReference)
        {
            VnetKernel.MasterRefs[symbol.Slot] = value;
        }
        else
        {
            Unbox(symbol, value!, VnetKernel.Master + symbol.Offset);
        }
    }

    internal static void Add(VnetLinkerSet set)
    {
        lock (Lock)
        {
            for (int i = 0; i < set.Variables.Count; i++)
            {
                Symbols.Add(new VnetSymbol(set, i));
            }
        }
    }

    internal static void Remove(VnetLinkerSet set)
    {
        lock (Lock)
        {
            Symbols.RemoveAll(s => s.Set == set);
        }
    }

    private static void Check(Vnet vnet, VnetSymbol symbol)
    {
        ArgumentNullException.ThrowIfNull(vnet);
        ArgumentNullException.ThrowIfNull(symbol);
        vnet.EnsureUsable();
        if (!VnetKernel.IsVimage && vnet != VnetKernel.Vnet0)
        {
            throw new InvalidOperationException("built without VIMAGE: only vnet0 exists");
        }
    }

    private static void CheckValue(VnetSymbol symbol, object? value)
    {
        if (value is null ? !symbol.IsReference : !symbol.Type.IsInstanceOfType(value))
        {
            throw new ArgumentException(
                $"{symbol.QualifiedName} has type {symbol.Type.Name}; cannot store {(value is null ? "null" : value.GetType().Name)}");
        }
    }

    private static object Box(VnetSymbol symbol, byte* address) => symbol.Variable.ReadAt!((nint)address);

    private static void Unbox(VnetSymbol symbol, object value, byte* address) => symbol.Variable.WriteAt!((nint)address, value);

    private static byte[] ToBytes(VnetSymbol symbol, object value)
    {
        byte[] bytes = new byte[symbol.Size];
        fixed (byte* p = bytes)
        {
            Unbox(symbol, value, p);
        }

        return bytes;
    }
}
