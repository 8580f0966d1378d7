using System.Runtime.CompilerServices;
using Vimage.Core;

namespace Vimage.Bench.Set16K;

/// <summary>16 KiB less one cache line (2,040 longs): with the bench's own 64-byte static line, sets total 16 KiB.</summary>
[InlineArray(2040)]
public struct Block16KLessLine
{
    private long _element;
}

/// <summary>The vnet-memory benchmark's module: 16,320 bytes of [Vnet] data and one constructor.</summary>
public static partial class Set16KState
{
    [Vnet]
    private static Block16KLessLine s_table;

    /// <summary>Bytes of this module's set.</summary>
    public static int SetBytes => Unsafe.SizeOf<Block16KLessLine>();

    /// <summary>1 once the constructor ran in <paramref name="vnet"/>.</summary>
    public static long ConstructorRan(Vnet vnet) => V_table_In(vnet)[0];

    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_FIRST)]
    private static void Init() => V_table[0] = 1;
}
