using System.Diagnostics;
using System.Globalization;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tcp;

namespace Vimage.Cli;

/// <summary>
/// The demo's TCP transfer: a sink in one jail reads until the client's FIN and answers with the byte count it
/// got; the client sends a block of data through the router, and the time runs from connect to that answer.
/// </summary>
internal static class TcpTransfer
{
    public const ushort Port = 5001;

    /// <summary>Returns the bytes the server acknowledged (0 on failure, with the error printed).</summary>
    public static long Run(TextWriter output, Vnet client, Vnet server, string serverAddress = "198.51.100.2", int megabytes = 32)
    {
        long total = megabytes * 1024L * 1024L;
        long rexmitBefore = Tcp.Fetch(client, TcpStat.tcps_sndrexmitpack);
        using TcpSocket listener = TcpSocket.Create(server);
        listener.ReuseAddress = true;
        listener.Bind(InAddr.Any, Port);
        listener.Listen(1);
        Task<long> sink = Task.Run(() =>
        {
            using TcpSocket c = listener.Accept(10_000);
            byte[] buffer = new byte[256 * 1024];
            long got = 0;
            int n;
            while ((n = c.Receive(buffer, 10_000)) > 0)
            {
                got += n;
            }

            c.Send(BitConverter.GetBytes(got));
            c.Shutdown(ShutdownHow.SHUT_WR);
            return got;
        });

        try
        {
            using TcpSocket socket = TcpSocket.Create(client);
            byte[] chunk = new byte[256 * 1024];
            new Random(1).NextBytes(chunk);
            var clock = Stopwatch.StartNew();
            socket.Connect(InAddr.Parse(serverAddress), Port, timeoutMs: 5000);
            double connectMs = clock.Elapsed.TotalMilliseconds;
            for (long sent = 0; sent < total;)
            {
                sent += socket.Send(chunk.AsSpan(0, (int)Math.Min(chunk.Length, total - sent)), 10_000);
            }

            socket.Shutdown(ShutdownHow.SHUT_WR);
            byte[] answer = new byte[8];
            int have = 0;
            while (have < answer.Length && socket.Receive(answer.AsSpan(have), 10_000) is > 0 and int n)
            {
                have += n;
            }

            double seconds = clock.Elapsed.TotalSeconds;
            long acknowledged = have == 8 ? BitConverter.ToInt64(answer) : 0;
            sink.Wait(10_000);
            string rate = (acknowledged * 8 / seconds / 1e6).ToString("0", CultureInfo.InvariantCulture);
            output.WriteLine($"  connected to {serverAddress}:{Port} in {connectMs:0.000} ms (SYN, SYN-ACK, ACK through the router)");
            output.WriteLine($"  {acknowledged:N0} bytes sent and counted by the server in {seconds:0.000} s: {rate} Mbit/s, " +
                             $"{Tcp.Fetch(client, TcpStat.tcps_sndrexmitpack) - rexmitBefore} segments retransmitted");
            return acknowledged;
        }
        catch (Exception e) when (e is NetSocketException or AggregateException)
        {
            output.WriteLine($"  tcp {serverAddress}:{Port}: {e.Message}");
            return 0;
        }
    }
}
