using System.Globalization;

namespace Vimage.Core;

/// <summary>Parsing, range checking and printing of OID values, the way sysctl(8) does them.</summary>
internal static class SysctlValues
{
    public static (long Min, long Max) TypeRange(SysctlType type) => type switch
    {
        SysctlType.Int => (int.MinValue, int.MaxValue),
        SysctlType.UInt => (0, uint.MaxValue),
        SysctlType.Bool => (0, 1),
        SysctlType.Long => (long.MinValue, long.MaxValue),
        SysctlType.U64 => (0, long.MaxValue), // values above 2^63 are written as ulong directly
        _ => (0, 0),
    };

    public static SysctlType TypeOf(Type type)
    {
        if (type == typeof(int))
        {
            return SysctlType.Int;
        }

        if (type == typeof(uint))
        {
            return SysctlType.UInt;
        }

        if (type == typeof(long))
        {
            return SysctlType.Long;
        }

        if (type == typeof(ulong))
        {
            return SysctlType.U64;
        }

        if (type == typeof(bool))
        {
            return SysctlType.Bool;
        }

        if (type == typeof(string))
        {
            return SysctlType.String;
        }

        if (typeof(IPcpuStat).IsAssignableFrom(type))
        {
            return SysctlType.Opaque;
        }

        throw new NotSupportedException($"a sysctl cannot expose a {type.Name}");
    }

    /// <summary>Converts text or a CLR value to the OID's type, or throws EINVAL with the reason.</summary>
    public static object? Convert(SysctlOid oid, object? value)
    {
        if (oid.Type == SysctlType.Opaque)
        {
            return value; // a write to a statistics struct zeroes it, whatever was written
        }

        if (oid.Type == SysctlType.String)
        {
            string text = value as string ?? throw Invalid(oid, $"expects a string, not {Describe(value)}");
            if (text.Length > oid.MaxLength)
            {
                throw Invalid(oid, $"'{Shorten(text)}' is {text.Length} characters; at most {oid.MaxLength} fit");
            }

            return text;
        }

        if (oid.Type == SysctlType.U64 && value is ulong big)
        {
            return CheckRange(oid, big > long.MaxValue ? null : (long)big, big);
        }

        long number = value switch
        {
            string text => ParseInteger(oid, text),
            bool b when oid.Type == SysctlType.Bool => b ? 1 : 0,
            int or long or uint or short or ushort or byte or sbyte => System.Convert.ToInt64(value, CultureInfo.InvariantCulture),
            _ => throw Invalid(oid, $"expects an integer, not {Describe(value)}"),
        };
        return CheckRange(oid, number, null);
    }

    public static string Format(SysctlOid oid, object? value) => value switch
    {
        null => "",
        bool b => b ? "1" : "0",
        PcpuStatSnapshot stats => stats.ToString(),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static object CheckRange(SysctlOid oid, long? number, ulong? big)
    {
        if (big is { } u && number is null)
        {
            if (oid.Max != long.MaxValue)
            {
                throw Invalid(oid, $"{u} is out of range [{oid.Min}, {oid.Max}]");
            }

            return u;
        }

        long n = number!.Value;
        (long typeMin, long typeMax) = TypeRange(oid.Type);
        if (n < typeMin || n > typeMax)
        {
            throw Invalid(oid, $"{n} does not fit in {oid.Format} ({typeMin} to {typeMax})");
        }

        if (n < oid.Min || n > oid.Max)
        {
            throw Invalid(oid, $"{n} is out of range [{(oid.Min == long.MinValue ? typeMin : oid.Min)}, {(oid.Max == long.MaxValue ? typeMax : oid.Max)}]");
        }

        return oid.Type switch
        {
            SysctlType.Int => (int)n,
            SysctlType.UInt => (uint)n,
            SysctlType.Long => n,
            SysctlType.U64 => (ulong)n,
            SysctlType.Bool => n != 0,
            _ => throw Invalid(oid, "has no scalar value"),
        };
    }

    private static long ParseInteger(SysctlOid oid, string text)
    {
        string t = text.Trim();
        if (oid.Type == SysctlType.Bool && (t.Equals("true", StringComparison.OrdinalIgnoreCase) || t.Equals("false", StringComparison.OrdinalIgnoreCase)))
        {
            return t.Equals("true", StringComparison.OrdinalIgnoreCase) ? 1 : 0;
        }

        bool hex = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (oid.Type == SysctlType.U64 && !hex && ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out ulong u) && u > long.MaxValue)
        {
            throw Invalid(oid, $"{u} is beyond what this tool can write; use the typed API");
        }

        bool ok = hex
            ? long.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long value)
            : long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
        return ok ? value : throw Invalid(oid, $"'{Shorten(text)}' is not an integer");
    }

    private static SysctlException Invalid(SysctlOid oid, string why)
        => new(SysctlError.InvalidValue, $"sysctl: {oid.Name}: invalid value: {why}");

    private static string Describe(object? value) => value is null ? "null" : $"a {value.GetType().Name}";

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";
}

/// <summary>What the opaque statistics OIDs need from a VNET_PCPUSTAT.</summary>
internal interface IPcpuStat
{
    PcpuStatSnapshot Snapshot();

    void Zero();

    string StructName { get; }
}
