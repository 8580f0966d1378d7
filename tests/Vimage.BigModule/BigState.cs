using System.Runtime.CompilerServices;
using Vimage.Core;

namespace Vimage.BigModule;

/// <summary>40 000 bytes of vnet data: more than the 32 KiB reserve (like ip_mroute in FreeBSD's D22443).</summary>
[InlineArray(40_000)]
public struct BigBlock
{
    private byte _element;
}

public static partial class BigState
{
    [Vnet]
    private static BigBlock s_big_table;

    public static int Size => Unsafe.SizeOf<BigBlock>();

    public static byte First(Vnet vnet) => V_big_table_In(vnet)[0];
}
