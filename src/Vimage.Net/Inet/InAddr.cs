using System.Buffers.Binary;
using System.Globalization;

namespace Vimage.Net.Inet;

/// <summary>An IPv4 address (struct in_addr), held in host byte order so comparisons and masks are plain integer math.</summary>
public readonly record struct InAddr(uint Value) : IComparable<InAddr>
{
    public static readonly InAddr Any = new(0);

    /// <summary>INADDR_BROADCAST, 255.255.255.255.</summary>
    public static readonly InAddr Broadcast = new(0xffffffff);

    public static readonly InAddr Loopback = new(0x7f000001);

    public bool IsAny => Value == 0;

    public bool IsBroadcast => Value == 0xffffffff;

    /// <summary>224.0.0.0/4.</summary>
    public bool IsMulticast => (Value & 0xf0000000) == 0xe0000000;

    /// <summary>127.0.0.0/8.</summary>
    public bool IsLoopback => (Value >> 24) == 127;

    /// <summary>0.0.0.0/8 or 240.0.0.0/4 (other than broadcast): never a valid source.</summary>
    public bool IsReservedSource => (Value >> 24) == 0 || ((Value & 0xf0000000) == 0xf0000000 && !IsBroadcast);

    public static InAddr Read(ReadOnlySpan<byte> bytes) => new(BinaryPrimitives.ReadUInt32BigEndian(bytes));

    public void Write(Span<byte> bytes) => BinaryPrimitives.WriteUInt32BigEndian(bytes, Value);

    /// <summary>This address as a sockaddr_in with <paramref name="port"/>.</summary>
    public Sockaddr ToSockaddr(ushort port = 0) => new(SaFamily.AF_INET, port, Value);

    /// <summary>The address of a sockaddr_in (the caller checked the family).</summary>
    public static InAddr From(in Sockaddr sa) => new((uint)sa.Address);

    /// <summary>The netmask of a prefix length (0 to 32).</summary>
    public static uint MaskOf(int prefixLength) => prefixLength <= 0 ? 0 : 0xffffffff << (32 - prefixLength);

    public static bool TryParse(string? text, out InAddr address)
    {
        address = Any;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        string[] parts = text.Trim().Split('.');
        if (parts.Length != 4)
        {
            return false;
        }

        uint value = 0;
        foreach (string part in parts)
        {
            if (part.Length is 0 or > 3 || !uint.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out uint octet) || octet > 255)
            {
                return false;
            }

            value = (value << 8) | octet;
        }

        address = new InAddr(value);
        return true;
    }

    public static InAddr Parse(string text)
        => TryParse(text, out InAddr a) ? a : throw new FormatException($"'{text}' is not an IPv4 address");

    /// <summary>"a.b.c.d/len" or "a.b.c.d" (prefix 32 unless <paramref name="defaultPrefix"/> says otherwise).</summary>
    public static bool TryParsePrefix(string text, out InAddr address, out int prefixLength, int defaultPrefix = 32)
    {
        prefixLength = defaultPrefix;
        int slash = text.IndexOf('/');
        if (slash < 0)
        {
            return TryParse(text, out address);
        }

        address = Any;
        return TryParse(text[..slash], out address)
               && int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefixLength)
               && prefixLength <= 32;
    }

    public int CompareTo(InAddr other) => Value.CompareTo(other.Value);

    public override string ToString()
        => $"{Value >> 24}.{(Value >> 16) & 0xff}.{(Value >> 8) & 0xff}.{Value & 0xff}";
}
