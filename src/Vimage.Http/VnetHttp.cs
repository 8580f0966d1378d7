using System.Net;
using System.Net.Sockets;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Netdb;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;

namespace Vimage.Http;

/// <summary>
/// HttpClient inside a vnet: a <see cref="SocketsHttpHandler"/> whose ConnectCallback resolves the request's host
/// through the vnet's hosts table (<see cref="Hosts"/>: literal first, then the table) and connects a
/// <see cref="TcpSocket"/> of that vnet, returning its stream. HTTP/1.1, HTTP/2 with prior knowledge (h2c: set the
/// request's Version 2.0 and <see cref="HttpVersionPolicy.RequestVersionExact"/>) and HTTPS (SocketsHttpHandler's
/// own SslStream over the vnet stream, ALPN h2 or http/1.1) all work unchanged.
/// Failures surface as <see cref="HttpRequestException"/> whose inner exception is a <see cref="SocketException"/>
/// (ConnectionRefused, TimedOut, HostNotFound, ...) carrying FreeBSD's message ("connect: Connection refused").
/// </summary>
public static class VnetHttp
{
    /// <summary>A handler whose connections start in <paramref name="vnet"/>. ConnectTimeout and cancellation apply to the TCP connect.</summary>
    public static SocketsHttpHandler Handler(Vnet vnet)
    {
        ArgumentNullException.ThrowIfNull(vnet);
        return new SocketsHttpHandler
        {
            ConnectCallback = (context, cancellationToken) => ConnectAsync(vnet, context.DnsEndPoint, cancellationToken),
            UseProxy = false,
        };
    }

    /// <summary><c>new HttpClient(Handler(vnet))</c>.</summary>
    public static HttpClient CreateClient(Vnet vnet) => new(Handler(vnet), disposeHandler: true);

    /// <summary>
    /// The ConnectCallback: getaddrinfo in <paramref name="vnet"/>, then connect(2); the stream owns the socket.
    /// Usable on its own (for example with SslStream or a gRPC channel's handler).
    /// </summary>
    public static async ValueTask<Stream> ConnectAsync(Vnet vnet, DnsEndPoint endPoint, CancellationToken cancellationToken = default)
    {
        InAddr address;
        try
        {
            address = Hosts.Resolve(vnet, endPoint.Host);
        }
        catch (NetdbException e)
        {
            throw new SocketException((int)SocketError.HostNotFound, e.Message);
        }
        catch (ObjectDisposedException e)
        {
            throw new SocketException((int)SocketError.NetworkDown, e.Message); // the vnet was destroyed
        }

        if (endPoint.Port is < 0 or > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(endPoint), endPoint.Port, "port out of range");
        }

        TcpSocket socket;
        try
        {
            socket = TcpSocket.Create(vnet);
        }
        catch (ObjectDisposedException e)
        {
            throw new SocketException((int)SocketError.NetworkDown, e.Message); // the vnet was destroyed
        }

        try
        {
            socket.NoDelay = true; // as SocketsHttpHandler sets on its own sockets
            await socket.ConnectAsync(address, (ushort)endPoint.Port, cancellationToken).ConfigureAwait(false);
            return new VnetNetworkStream(socket, ownsSocket: true);
        }
        catch (NetSocketException e)
        {
            socket.Close();
            throw new SocketException((int)ToSocketError(e.Errno), e.Message);
        }
        catch (ObjectDisposedException e)
        {
            socket.Close();
            throw new SocketException((int)SocketError.NetworkDown, e.Message); // the vnet went away during connect
        }
        catch
        {
            socket.Close();
            throw;
        }
    }

    /// <summary>FreeBSD's errno as System.Net.Sockets names it.</summary>
    public static SocketError ToSocketError(int errno) => errno switch
    {
        Net.Errno.ECONNREFUSED => SocketError.ConnectionRefused,
        Net.Errno.ETIMEDOUT => SocketError.TimedOut,
        Net.Errno.ECONNRESET => SocketError.ConnectionReset,
        Net.Errno.ENETUNREACH => SocketError.NetworkUnreachable,
        Net.Errno.EHOSTUNREACH => SocketError.HostUnreachable,
        Net.Errno.EADDRINUSE => SocketError.AddressAlreadyInUse,
        Net.Errno.EADDRNOTAVAIL => SocketError.AddressNotAvailable,
        Net.Errno.ENETDOWN => SocketError.NetworkDown,
        Net.Errno.EPIPE => SocketError.Shutdown,
        Net.Errno.ECONNABORTED => SocketError.ConnectionAborted,
        _ => SocketError.SocketError,
    };
}
