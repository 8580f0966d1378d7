using System.Net;
using Vimage.Core;
using Vimage.Net.Inet;

namespace Vimage.AspNetCore;

/// <summary>
/// Where a Kestrel listener binds inside a vnet: an IPv4 address (INADDR_ANY for all) and a port (0: an ephemeral
/// one, filled in once bound). A null <see cref="Vnet"/> means the vnet given to UseVimage.
/// </summary>
public sealed class VnetEndPoint(Vnet? vnet, InAddr address, int port) : EndPoint
{
    public Vnet? Vnet { get; } = vnet;

    public InAddr Address { get; } = address;

    public int Port { get; } = port is >= 0 and <= ushort.MaxValue ? port : throw new ArgumentOutOfRangeException(nameof(port));

    /// <summary>The same address and port as an <see cref="IPEndPoint"/>.</summary>
    public IPEndPoint ToIPEndPoint() => new(ToIPAddress(Address), Port);

    public override string ToString() => $"{Address}:{Port}";

    public override bool Equals(object? obj) => obj is VnetEndPoint o && o.Vnet == Vnet && o.Address == Address && o.Port == Port;

    public override int GetHashCode() => HashCode.Combine(Vnet, Address, Port);

    internal static IPAddress ToIPAddress(InAddr address)
    {
        Span<byte> b = stackalloc byte[4];
        address.Write(b);
        return new IPAddress(b);
    }

    internal static InAddr ToInAddr(IPAddress address)
    {
        Span<byte> b = stackalloc byte[4];
        return address.TryWriteBytes(b, out int n) && n == 4 ? InAddr.Read(b) : throw new NotSupportedException($"{address}: Vimage has IPv4 only");
    }
}
