using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;

namespace Vimage.AspNetCore;

/// <summary>
/// Kestrel's transport inside a vnet: binds <see cref="VnetEndPoint"/>s (in their vnet, or this factory's) and IPv4
/// <see cref="IPEndPoint"/>s (in this factory's vnet: with UseVimage every TCP listener of the app lives there).
/// An address in use is <see cref="AddressInUseException"/>, as Kestrel reports it; IPv6 is NotSupportedException
/// (Kestrel's "localhost" and "*" bindings then fall back to IPv4).
/// </summary>
public sealed class VnetConnectionListenerFactory(Vnet vnet) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    /// <summary>listen(2)'s backlog (Kestrel's socket transport default).</summary>
    public int Backlog { get; set; } = 512;

    /// <summary>The vnet this factory binds in when the endpoint names none.</summary>
    public Vnet Vnet { get; } = vnet ?? throw new ArgumentNullException(nameof(vnet));

    public bool CanBind(EndPoint endpoint) => endpoint is VnetEndPoint or IPEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        (Vnet v, InAddr address, int port) = endpoint switch
        {
            VnetEndPoint ve => (ve.Vnet ?? Vnet, ve.Address, ve.Port),
            IPEndPoint ip => (Vnet, VnetEndPoint.ToInAddr(ip.Address), ip.Port),
            _ => throw new NotSupportedException($"{endpoint}: Vimage binds IPv4 endpoints only"),
        };

        TcpSocket listener = TcpSocket.Create(v);
        try
        {
            listener.ReuseAddress = true; // as Kestrel's sockets on Unix: restart while old connections are in TIME_WAIT
            listener.Bind(address, (ushort)port);
            listener.Listen(Backlog);
        }
        catch (NetSocketException e) when (e.Errno == Errno.EADDRINUSE)
        {
            listener.Close();
            throw new AddressInUseException(e.Message, e);
        }
        catch
        {
            listener.Close();
            throw;
        }

        EndPoint bound = endpoint is VnetEndPoint
            ? new VnetEndPoint(v, listener.LocalAddress, listener.LocalPort)
            : new IPEndPoint(VnetEndPoint.ToIPAddress(listener.LocalAddress), listener.LocalPort);
        return ValueTask.FromResult<IConnectionListener>(new VnetConnectionListener(listener, bound, MemoryPool<byte>.Shared));
    }
}
