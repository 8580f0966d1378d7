using System.Runtime.CompilerServices;

namespace Vimage.Core.Linker;

/// <summary>Returns a reference to the static field that holds a variable's reference copy.</summary>
public delegate ref T FieldRef<T>();

/// <summary>
/// One entry of an assembly's linker set (DPCPU or VNET), as collected by the source generator: the symbol's
/// name and type, its size and alignment, and a way to reach the static field that is its reference copy.
/// </summary>
public sealed unsafe class SetVariable
{
    private SetVariable(string declaringType, string name, Type type, int size, int alignment, bool isReference)
    {
        DeclaringType = declaringType;
        Name = name;
        Type = type;
        Size = size;
        Alignment = alignment;
        IsReference = isReference;
    }

    /// <summary>Full name of the type that declares the field.</summary>
    public string DeclaringType { get; }

    /// <summary>Symbol name (the accessor is V_&lt;Name&gt; or DPCPU_&lt;Name&gt;).</summary>
    public string Name { get; }

    public Type Type { get; }

    /// <summary>Bytes taken in the region; 0 for reference-type variables, which live beside it.</summary>
    public int Size { get; }

    public int Alignment { get; }

    public bool IsReference { get; }

    /// <summary>Writes the field's current (static-initialized) value into <paramref name="destination"/>.</summary>
    internal Action<Span<byte>>? WriteInitial { get; private init; }

    /// <summary>Reads the reference copy as an object (for the symbol API).</summary>
    internal Func<object?> ReadField { get; private init; } = static () => null;

    /// <summary>Writes the reference copy (for the symbol API in non-VIMAGE builds, where it is vnet0's storage).</summary>
    internal Action<object?> WriteField { get; private init; } = static _ => { };

    /// <summary>Boxes the value stored at an address (value variables only).</summary>
    internal Func<nint, object>? ReadAt { get; private init; }

    /// <summary>Stores a boxed value at an address (value variables only).</summary>
    internal Action<nint, object>? WriteAt { get; private init; }

    /// <summary>Evaluates the declared initializer again: each vnet gets its own instance.</summary>
    internal Func<object?>? Factory { get; private init; }

    /// <summary>A value-type variable: stored inside the contiguous region.</summary>
    public static SetVariable Value<T>(string declaringType, string name, FieldRef<T> field)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(field);
        return new SetVariable(declaringType, name, typeof(T), Unsafe.SizeOf<T>(), Layout.AlignOf<T>(), false)
        {
            WriteInitial = destination =>
            {
                T value = field();
                System.Runtime.InteropServices.MemoryMarshal.Write(destination, in value);
            },
            ReadField = () => field(),
            WriteField = value => field() = (T)value!,
            ReadAt = static address => Unsafe.ReadUnaligned<T>((void*)address),
            WriteAt = static (address, value) => Unsafe.WriteUnaligned((void*)address, (T)value),
            IsPerVnetResource = typeof(IPerVnetResource).IsAssignableFrom(typeof(T)),
            RunResourceHook = (set, index, init) =>
            {
                // The vnet's own copy (the field itself without VIMAGE), called in place so the struct keeps its state.
                ref T slot = ref VnetKernel.IsVimage ? ref VnetAccess.Ref<T>(set.Offset(index)) : ref field();
                ResourceHook<T>.Run(ref slot, init);
            },
        };
    }

    /// <summary>The type owns per-vnet resources: its set runs VnetInit/VnetUninit in every vnet.</summary>
    internal bool IsPerVnetResource { get; private init; }

    internal Action<VnetLinkerSet, int, bool>? RunResourceHook { get; private init; }

    /// <summary>A reference-type variable: each vnet gets the result of its own call to <paramref name="factory"/>.</summary>
    public static SetVariable Reference<T>(string declaringType, string name, FieldRef<T> field, Func<T> factory)
        where T : class?
    {
        ArgumentNullException.ThrowIfNull(field);
        ArgumentNullException.ThrowIfNull(factory);
        return new SetVariable(declaringType, name, typeof(T), 0, IntPtr.Size, true)
        {
            ReadField = () => field(),
            WriteField = value => field() = (T)value!,
            Factory = () => factory(),
        };
    }

    public override string ToString() => $"{DeclaringType}.{Name} ({Type.Name}, {Size} bytes)";
}

/// <summary>Calls IPerVnetResource on a ref without boxing (the constrained call mutates the vnet's copy).</summary>
internal static class ResourceHook<T>
{
    public static void Run(ref T slot, bool init)
    {
        if (slot is not IPerVnetResource)
        {
            return;
        }

        var boxed = (IPerVnetResource)slot!;
        if (init)
        {
            boxed.VnetInit();
        }
        else
        {
            boxed.VnetUninit();
        }

        slot = (T)boxed;
    }
}
