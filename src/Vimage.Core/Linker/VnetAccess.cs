using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Vimage.Core.Linker;

/// <summary>
/// What the generated V_name accessors compile to in VIMAGE builds: the thread's cached vnet_data_base (set by
/// CURVNET_SET) plus the offset. The only test on the fast path is "is any vnet current"; <see cref="Checked"/>
/// is a static readonly the JIT folds, so with the switch off its checks cost nothing.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class VnetAccess
{
    /// <summary>The start-up VNET_DEBUG switch (see <see cref="Curvnet.CheckedAccess"/>).</summary>
    internal static readonly bool Checked = ReadSwitch();

    /// <summary>VNET(n): the current vnet's copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ref T Ref<T>(nint offset) where T : unmanaged
    {
        nint b = Curvnet.t_base;
        if (b == 0 || Checked)
        {
            b = Curvnet.RequireCurrent().DataBase;
        }

        return ref Unsafe.AsRef<T>((byte*)b + offset);
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
        object?[]? refs = Curvnet.t_current?.Refs;
        if (refs is null || Checked)
        {
            refs = Curvnet.RequireCurrent().Refs!;
        }

        return ref Unsafe.As<object?, T>(ref refs[index]);
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

    private static bool ReadSwitch()
        => (AppContext.TryGetSwitch("Vimage.VnetDebug", out bool on) && on)
            || Environment.GetEnvironmentVariable("VIMAGE_VNET_DEBUG") is "1" or "true";
}
