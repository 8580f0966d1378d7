using System.Globalization;
using System.Text;
using Vimage.Net;
using Vimage.Net.Inet;

namespace Vimage.Cli.Commands;

/// <summary>Small formatting and parsing helpers shared by ifconfig, route, netstat and arp (FreeBSD's conventions).</summary>
internal static class NetFormat
{
    private static readonly (int Bit, string Name)[] IfFlagNames =
    [
        (0x1, "UP"), (0x2, "BROADCAST"), (0x4, "DEBUG"), (0x8, "LOOPBACK"), (0x10, "POINTOPOINT"), (0x40, "RUNNING"),
        (0x80, "NOARP"), (0x100, "PROMISC"), (0x200, "ALLMULTI"), (0x400, "OACTIVE"), (0x800, "SIMPLEX"),
        (0x1000, "LINK0"), (0x2000, "LINK1"), (0x4000, "LINK2"), (0x8000, "MULTICAST"), (0x20000, "PPROMISC"),
        (0x40000, "MONITOR"), (0x80000, "STATICARP"),
    ];

    /// <summary>netstat's plural(): "" for 1, "s" otherwise.</summary>
    public static string Plural(long n) => n == 1 ? "" : "s";

    /// <summary>netstat's plurales(): "" for 1, "es" otherwise.</summary>
    public static string Plurales(long n) => n == 1 ? "" : "es";

    /// <summary>netstat's pluralies(): "y" for 1, "ies" otherwise.</summary>
    public static string Pluralies(long n) => n == 1 ? "y" : "ies";

    public static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    /// <summary>printb(): "8843&lt;UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST&gt;".</summary>
    public static string IfFlagsText(IfFlags flags) => BitsText((int)flags, IfFlagNames);

    /// <summary>printb: the value in hex, then the names of its set bits.</summary>
    private static string BitsText(int value, (int Bit, string Name)[] table)
    {
        var names = table.Where(f => (value & f.Bit) != 0).Select(f => f.Name);
        return value.ToString("x", CultureInfo.InvariantCulture) + "<" + string.Join(',', names) + ">";
    }

    /// <summary>IFCAPBITS (net/if.h) for the bits Vimage's drivers have, in bit order.</summary>
    private static readonly (int Bit, string Name)[] IfCapNames =
    [
        ((int)IfCap.IFCAP_RXCSUM, "RXCSUM"), ((int)IfCap.IFCAP_TXCSUM, "TXCSUM"), ((int)IfCap.IFCAP_VLAN_MTU, "VLAN_MTU"),
        ((int)IfCap.IFCAP_TSO4, "TSO4"), ((int)IfCap.IFCAP_TSO6, "TSO6"), ((int)IfCap.IFCAP_LRO, "LRO"),
        ((int)IfCap.IFCAP_LINKSTATE, "LINKSTATE"), ((int)IfCap.IFCAP_RXCSUM_IPV6, "RXCSUM_IPV6"), ((int)IfCap.IFCAP_TXCSUM_IPV6, "TXCSUM_IPV6"),
    ];

    /// <summary>ifconfig's options= line: if_capenable in hex, then the names of its bits (printb).</summary>
    public static string IfCapText(IfCap caps) => BitsText((int)caps, IfCapNames);

    /// <summary>ether_ntoa: 02:00:00:00:01:0a.</summary>
    public static string Mac(ReadOnlySpan<byte> mac)
    {
        var text = new StringBuilder(17);
        for (int i = 0; i < mac.Length; i++)
        {
            if (i > 0)
            {
                text.Append(':');
            }

            text.Append(mac[i].ToString("x2", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    /// <summary>ether_aton: six colon-separated hex octets (one or two digits each).</summary>
    public static bool TryParseMac(string text, out byte[] mac)
    {
        mac = new byte[6];
        string[] parts = text.Split(':');
        if (parts.Length != 6)
        {
            return false;
        }

        for (int i = 0; i < 6; i++)
        {
            if (parts[i].Length is 0 or > 2 || !byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out mac[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>0xffffff00.</summary>
    public static string HexMask(uint mask) => "0x" + mask.ToString("x8", CultureInfo.InvariantCulture);

    /// <summary>A netmask as ifconfig/route accept it: 0xffffff00, ffffff00 (with 0x), or 255.255.255.0; must be contiguous.</summary>
    public static bool TryParseNetmask(string text, out int prefixLength)
    {
        prefixLength = 0;
        uint mask;
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            if (!uint.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out mask))
            {
                return false;
            }
        }
        else if (InAddr.TryParse(text, out InAddr dotted))
        {
            mask = dotted.Value;
        }
        else
        {
            return false;
        }

        int length = System.Numerics.BitOperations.PopCount(mask);
        if (InAddr.MaskOf(length) != mask)
        {
            return false;
        }

        prefixLength = length;
        return true;
    }

    /// <summary>The classful prefix FreeBSD falls back to for an address given without a mask (A /8, B /16, C /24).</summary>
    public static int ClassfulPrefix(InAddr address)
    {
        uint v = address.Value;
        if ((v & 0x80000000) == 0)
        {
            return 8;
        }

        if ((v & 0xc0000000) == 0x80000000)
        {
            return 16;
        }

        return (v & 0xe0000000) == 0xc0000000 ? 24 : 32;
    }

    /// <summary>route's inet_makenetandmask for "-net a.b.c.d" with no mask: trailing zero octets decide.</summary>
    public static int NetPrefixFromZeros(InAddr address)
    {
        uint v = address.Value;
        if (v == 0)
        {
            return 0;
        }

        if ((v & 0x00ffffff) == 0)
        {
            return 8;
        }

        if ((v & 0x0000ffff) == 0)
        {
            return 16;
        }

        return (v & 0x000000ff) == 0 ? 24 : 32;
    }

    /// <summary>The interfaces of the current vnet in index order.</summary>
    public static IReadOnlyList<Ifnet> Interfaces() => Ifnets.Current.Snapshot().OrderBy(i => i.Index).ToArray();
}
