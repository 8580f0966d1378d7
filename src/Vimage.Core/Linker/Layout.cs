using System.Runtime.CompilerServices;

namespace Vimage.Core.Linker;

internal static class Layout
{
    /// <summary>Natural alignment of an unmanaged type: where it lands after one byte in a sequential struct.</summary>
    public static int AlignOf<T>() where T : unmanaged
        => Math.Min(Unsafe.SizeOf<AlignProbe<T>>() - Unsafe.SizeOf<T>(), 64);

    public static int RoundUp(int value, int alignment) => (value + alignment - 1) & ~(alignment - 1);

    public static nint RoundUp(nint value, int alignment) => (value + alignment - 1) & ~(nint)(alignment - 1);

    private struct AlignProbe<T> where T : unmanaged
    {
#pragma warning disable CS0649 // never assigned: only its layout matters
        public byte Pad;
        public T Value;
#pragma warning restore CS0649
    }
}
