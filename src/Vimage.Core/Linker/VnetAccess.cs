using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Vimage.Core.Linker;

/// <summary>What the generated V_name accessors compile to in VIMAGE builds: curvnet's base plus the offset.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class VnetAccess
{
    /// <summary>VNET(n): the current vnet's copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref T Ref<T>(nint offset) where T : unmanaged
    {
        Vnet current = Curvnet.Debug ? Curvnet.RequireCurrent() : Curvnet.t_current!;
        return ref Unsafe.AsRef<T>((byte*)current.DataBase + offset);
    }

    /// <summary>VNET_VNET(vnet, n): another vnet's copy, without switching.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref T RefIn<T>(Vnet vnet, nint offset) where T : unmanaged
    {
        vnet.EnsureUsable();
        return ref Unsafe.AsRef<T>((byte*)vnet.DataBase + offset);
    }

    /// <summary>The current vnet's instance of a reference-type variable.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref T RefObject<T>(int index) where T : class?
    {
        Vnet current = Curvnet.Debug ? Curvnet.RequireCurrent() : Curvnet.t_current!;
        return ref Unsafe.As<object?, T>(ref current.Refs![index]);
    }

    /// <summary>Another vnet's instance of a reference-type variable.</summary>
    public static ref T RefObjectIn<T>(Vnet vnet, int index) where T : class?
    {
        vnet.EnsureUsable();
        return ref Unsafe.As<object?, T>(ref vnet.Refs![index]);
    }

    /// <summary>Non-VIMAGE builds: VNET_VNET(vnet, n) is n, which is only right for vnet0.</summary>
    public static void CheckVnet0(Vnet vnet)
    {
        ArgumentNullException.ThrowIfNull(vnet);
        if (vnet != Vnet.Vnet0)
        {
            throw new InvalidOperationException("built without VIMAGE: only vnet0 exists");
        }
    }
}
