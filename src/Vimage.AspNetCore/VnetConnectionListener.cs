using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Vimage.Net.Tcp;

namespace Vimage.AspNetCore;

/// <summary>
/// A listening vnet TCP socket as Kestrel's IConnectionListener. <see cref="UnbindAsync"/> closes the listening
/// socket (connections already accepted live on); a pending <see cref="AcceptAsync"/> then returns null, Kestrel's
/// signal that the listener is done. <see cref="DisposeAsync"/> unbinds too.
/// </summary>
internal sealed class VnetConnectionListener(TcpSocket listener, EndPoint endPoint, MemoryPool<byte> pool) : IConnectionListener
{
    private volatile bool _unbound;

    public EndPoint EndPoint { get; } = endPoint;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (!_unbound)
        {
            TcpSocket socket;
            try
            {
                socket = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return null; // unbound, or the vnet went away: no more connections
            }
            catch (Vimage.Net.Sockets.NetSocketException)
            {
                continue; // ECONNABORTED: a connection reset before accept, as Kestrel's socket transport retries
            }

            socket.NoDelay = true;
            var connection = new VnetConnection(socket, pool);
            connection.Start();
            return connection;
        }

        return null;
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _unbound = true;
        listener.Close();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => UnbindAsync();
}
