using System.Text;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Tcp;

namespace ShopNetwork;

/// <summary>
/// The shop's stock service on plain vnet TCP sockets: one line in ("sku"), one line out ("sku=count"). Listens on
/// <c>port</c> in the server vnet until disposed; each connection serves requests until the client closes it.
/// </summary>
public sealed class StockServer : IAsyncDisposable
{
    public const ushort Port = 7000;
    private readonly TcpSocket _listener;
    private readonly Task _accepting;
    private readonly CancellationTokenSource _stop = new();

    public StockServer(Vnet server, IReadOnlyDictionary<string, int> stock)
    {
        Stock = stock;
        _listener = TcpSocket.Create(server);
        _listener.ReuseAddress = true;
        _listener.Bind(InAddr.Any, Port);
        _listener.Listen();
        _accepting = AcceptLoop();
    }

    public IReadOnlyDictionary<string, int> Stock { get; }

    /// <summary>One request from a client vnet: connect, ask, read the answer.</summary>
    public static async Task<string> AskAsync(Vnet client, InAddr server, string sku, CancellationToken cancellationToken)
    {
        using TcpSocket so = TcpSocket.Create(client);
        await so.ConnectAsync(server, Port, cancellationToken).ConfigureAwait(false);
        await using TcpStream stream = so.GetStream(ownsSocket: false);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(sku + "\n"), cancellationToken).ConfigureAwait(false);
        return await ReadLineAsync(stream, cancellationToken).ConfigureAwait(false) ?? throw new IOException("the server closed the connection");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Close();
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or Vimage.Net.Sockets.NetSocketException or ObjectDisposedException)
        {
            // the listener closed under the pending accept
        }

        _stop.Dispose();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpSocket conn = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            _ = Serve(conn);
        }
    }

    private async Task Serve(TcpSocket conn)
    {
        await using TcpStream stream = conn.GetStream(ownsSocket: true);
        try
        {
            while (await ReadLineAsync(stream, _stop.Token).ConfigureAwait(false) is { } sku)
            {
                string answer = $"{sku}={(Stock.TryGetValue(sku, out int n) ? n : 0)}\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(answer), _stop.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or Vimage.Net.Sockets.NetSocketException)
        {
            // a partitioned client's connection is reset or abandoned; the next one starts afresh
        }
    }

    private static async Task<string?> ReadLineAsync(Stream stream, CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        byte[] one = new byte[1];
        while (await stream.ReadAsync(one, cancellationToken).ConfigureAwait(false) == 1)
        {
            if (one[0] == '\n')
            {
                return line.ToString();
            }

            line.Append((char)one[0]);
        }

        return line.Length == 0 ? null : line.ToString();
    }
}
