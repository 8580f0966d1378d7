using System.Runtime.CompilerServices;
using Vimage.Core;

namespace Vimage.Bench.Set64K;

/// <summary>8 KiB of vnet data (1,024 longs).</summary>
[InlineArray(1024)]
public struct Block8K
{
    private long _element;
}

/// <summary>8 KiB less one cache line (1,016 longs): with the bench's own 64-byte static line, sets total 64 KiB.</summary>
[InlineArray(1016)]
public struct Block8KLessLine
{
    private long _element;
}

/// <summary>
/// The vnet-lifecycle benchmark's module: 65,472 bytes of [Vnet] data and 20 VNET_SYSINIT constructors, each
/// initializing its own slice of the tables (a few stores, as a typical subsystem constructor does).
/// </summary>
public static partial class Set64KState
{
    [Vnet]
    private static Block8K s_table0;

    [Vnet]
    private static Block8K s_table1;

    [Vnet]
    private static Block8K s_table2;

    [Vnet]
    private static Block8K s_table3;

    [Vnet]
    private static Block8K s_table4;

    [Vnet]
    private static Block8K s_table5;

    [Vnet]
    private static Block8K s_table6;

    [Vnet]
    private static Block8KLessLine s_table7;

    /// <summary>Bytes of this module's set.</summary>
    public static int SetBytes => (7 * Unsafe.SizeOf<Block8K>()) + Unsafe.SizeOf<Block8KLessLine>();

    /// <summary>Number of constructors that ran in <paramref name="vnet"/> (each one leaves a 1 in its slot).</summary>
    public static long ConstructorsRun(Vnet vnet)
    {
        long sum = 0;
        for (int i = 0; i < 20; i++)
        {
            sum += V_table0_In(vnet)[i];
        }

        return sum;
    }

    [VnetSysinit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_FIRST)]
    private static void Init00()
    {
        V_table0[0] = 1;
        V_table0[100] = 0;
    }

    [VnetSysinit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_SECOND)]
    private static void Init01()
    {
        V_table0[1] = 1;
        V_table1[101] = 1;
    }

    [VnetSysinit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_THIRD)]
    private static void Init02()
    {
        V_table0[2] = 1;
        V_table2[102] = 2;
    }

    [VnetSysinit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_FOURTH)]
    private static void Init03()
    {
        V_table0[3] = 1;
        V_table3[103] = 3;
    }

    [VnetSysinit(SiSub.SI_SUB_INIT_IF, SiOrder.SI_ORDER_FIFTH)]
    private static void Init04()
    {
        V_table0[4] = 1;
        V_table4[104] = 4;
    }

    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_FIRST)]
    private static void Init05()
    {
        V_table0[5] = 1;
        V_table5[105] = 5;
    }

    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_SECOND)]
    private static void Init06()
    {
        V_table0[6] = 1;
        V_table6[106] = 6;
    }

    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_THIRD)]
    private static void Init07()
    {
        V_table0[7] = 1;
        V_table7[107] = 7;
    }

    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_FOURTH)]
    private static void Init08()
    {
        V_table0[8] = 1;
        V_table0[108] = 8;
    }

    [VnetSysinit(SiSub.SI_SUB_PSEUDO, SiOrder.SI_ORDER_FIFTH)]
    private static void Init09()
    {
        V_table0[9] = 1;
        V_table1[109] = 9;
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_IF, SiOrder.SI_ORDER_FIRST)]
    private static void Init10()
    {
        V_table0[10] = 1;
        V_table2[110] = 10;
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_IF, SiOrder.SI_ORDER_SECOND)]
    private static void Init11()
    {
        V_table0[11] = 1;
        V_table3[111] = 11;
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_IF, SiOrder.SI_ORDER_THIRD)]
    private static void Init12()
    {
        V_table0[12] = 1;
        V_table4[112] = 12;
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_IF, SiOrder.SI_ORDER_FOURTH)]
    private static void Init13()
    {
        V_table0[13] = 1;
        V_table5[113] = 13;
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_IF, SiOrder.SI_ORDER_FIFTH)]
    private static void Init14()
    {
        V_table0[14] = 1;
        V_table6[114] = 14;
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_FIRST)]
    private static void Init15()
    {
        V_table0[15] = 1;
        V_table7[115] = 15;
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_SECOND)]
    private static void Init16()
    {
        V_table0[16] = 1;
        V_table0[116] = 16;
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_THIRD)]
    private static void Init17()
    {
        V_table0[17] = 1;
        V_table1[117] = 17;
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_FOURTH)]
    private static void Init18()
    {
        V_table0[18] = 1;
        V_table2[118] = 18;
    }

    [VnetSysinit(SiSub.SI_SUB_PROTO_DOMAIN, SiOrder.SI_ORDER_FIFTH)]
    private static void Init19()
    {
        V_table0[19] = 1;
        V_table3[119] = 19;
    }
}
