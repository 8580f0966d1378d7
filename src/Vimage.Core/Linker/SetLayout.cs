namespace Vimage.Core.Linker;

/// <summary>Where each value variable of one set lands, relative to the set's start.</summary>
internal sealed class SetLayout
{
    private SetLayout(long[] offsets, long size, int alignment)
    {
        Offsets = offsets;
        Size = size;
        Alignment = alignment;
    }

    /// <summary>Offset of variable i from the set's start; -1 for reference-type variables.</summary>
    public long[] Offsets { get; }

    /// <summary>Bytes the set's value variables take, rounded to pointer size.</summary>
    public long Size { get; }

    /// <summary>The strictest alignment of any variable.</summary>
    public int Alignment { get; }

    public static SetLayout Of(IReadOnlyList<SetVariable> variables)
    {
        var offsets = new long[variables.Count];
        long size = 0;
        int alignment = IntPtr.Size;
        for (int i = 0; i < variables.Count; i++)
        {
            SetVariable v = variables[i];
            if (v.IsReference)
            {
                offsets[i] = -1;
                continue;
            }

            alignment = Math.Max(alignment, v.Alignment);
            size = (size + v.Alignment - 1) & ~(long)(v.Alignment - 1);
            offsets[i] = size;
            size += v.Size;
        }

        return new SetLayout(offsets, ModSpaceAllocator.RoundSize(size), alignment);
    }

    /// <summary>Bytes to ask a pointer-aligned allocator for so the set can be aligned inside the block.</summary>
    public long ReserveSize => Size + Math.Max(0, Alignment - IntPtr.Size);
}
