using Vimage.Net.Inet;

namespace Vimage.Net.Udp;

/// <summary>
/// What recvfrom(2) returns for one datagram: the bytes copied, the sender, and MSG_TRUNC when the datagram did not
/// fit (the rest of it is discarded, as for any datagram socket).
/// </summary>
public readonly record struct UdpReceiveResult(int BytesReceived, InAddr RemoteAddress, ushort RemotePort, int DatagramLength)
{
    /// <summary>MSG_TRUNC: the datagram was longer than the buffer.</summary>
    public bool Truncated => DatagramLength > BytesReceived;

    public override string ToString() => $"{BytesReceived} bytes from {RemoteAddress}:{RemotePort}{(Truncated ? $" (truncated from {DatagramLength})" : "")}";
}
