using System.Diagnostics;
using System.Text;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Udp;

namespace Vimage.Cli;

/// <summary>The demo's UDP echo: a server socket in one jail echoes what a client socket in another sends.</summary>
internal static class UdpEcho
{
    public const ushort Port = 7;

    public static void Run(TextWriter output, Vnet client, Vnet server, string serverAddress = "198.51.100.2", int count = 5)
    {
        using UdpSocket echo = UdpSocket.Create(server);
        echo.Bind(InAddr.Any, Port);
        using var stop = new CancellationTokenSource();
        Task serving = Task.Run(async () =>
        {
            byte[] buffer = new byte[2048];
            while (!stop.IsCancellationRequested)
            {
                UdpReceiveResult got = await echo.ReceiveFromAsync(buffer, stop.Token);
                echo.SendTo(buffer.AsSpan(0, got.BytesReceived), got.RemoteAddress, got.RemotePort);
            }
        });

        using UdpSocket socket = UdpSocket.Create(client);
        InAddr dst = InAddr.Parse(serverAddress);
        byte[] reply = new byte[2048];
        for (int i = 0; i < count; i++)
        {
            byte[] message = Encoding.ASCII.GetBytes($"hello #{i} from the client jail");
            var clock = Stopwatch.StartNew();
            try
            {
                socket.SendTo(message, dst, Port);
                int n = socket.ReceiveFrom(reply, out InAddr from, out ushort fromPort, 3000);
                output.WriteLine($"  {n} bytes echoed by {from}:{fromPort} in {clock.Elapsed.TotalMilliseconds:0.000} ms: \"{Encoding.ASCII.GetString(reply, 0, n)}\"");
            }
            catch (NetSocketException e)
            {
                output.WriteLine($"  udp {serverAddress}:{Port}: {e.Message}");
            }
        }

        stop.Cancel();
        try
        {
            serving.Wait(1000);
        }
        catch (AggregateException)
        {
            // the server loop ends with the cancellation (or the socket closing under it)
        }
    }
}
