using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Vimage.Cli.Tests;

/// <summary>
/// nc through a host process over the raw protocol, on vnet0's loopback (both build modes): stdin crosses only on
/// the host's grants, binary data comes back byte for byte as "data" frames, and input nobody asked for ends the
/// connection. The jail-to-jail cases (pipes, 4 MB both ways, -z, -u, -w) are scenarios/atf/netinet/nc.sh.
/// </summary>
public sealed class NcHostTests(HostProcess host) : IClassFixture<HostProcess>
{
    [Fact]
    public void Stdin_crosses_on_grants_and_binary_data_comes_back_intact()
    {
        byte[] payload = new byte[100_000];
        new Random(15).NextBytes(payload);
        payload[0] = 0;
        payload[1] = 0xff;

        using Socket listener = host.Connect();
        listener.ReceiveTimeout = 20_000;
        listener.Send(Request(false, "nc", "-l", "127.0.0.1", "7201"));
        WaitBound("7201");

        using Socket client = host.Connect();
        using var stream = new NetworkStream(client);
        stream.Write(Request(true, "nc", "-N", "127.0.0.1", "7201"));
        int sent = 0, grants = 0;
        bool eof = false;
        int? exit = null;
        while (exit is null)
        {
            JsonElement frame = ReadFrame(stream) ?? throw new Xunit.Sdk.XunitException("the host closed the client connection");
            if (frame.TryGetProperty("read", out JsonElement grant))
            {
                Assert.False(eof, "a grant after eof");
                grants++;
                int n = Math.Min(grant.GetInt32(), payload.Length - sent);
                stream.Write(n > 0 ? Frame($"{{\"in\":\"{Convert.ToBase64String(payload, sent, n)}\"}}") : Frame("{\"eof\":true}"));
                sent += n;
                eof = n == 0;
            }
            else if (frame.TryGetProperty("exit", out JsonElement status))
            {
                exit = status.GetInt32();
            }
        }

        Assert.Equal(0, exit);
        Assert.True(eof);
        Assert.True(grants >= payload.Length / 16384, $"{grants} grants for {payload.Length} bytes: the host asked for more than 16 KiB at once");

        using var received = new MemoryStream();
        using var listenerStream = new NetworkStream(listener);
        while (ReadFrame(listenerStream) is { } frame)
        {
            if (frame.TryGetProperty("data", out JsonElement data))
            {
                received.Write(data.GetBytesFromBase64());
            }
            else if (frame.TryGetProperty("exit", out JsonElement status))
            {
                Assert.Equal(0, status.GetInt32());
                break;
            }
        }

        Assert.Equal(payload, received.ToArray());
    }

    [Fact]
    public void A_client_without_stdin_gives_the_command_end_of_file()
    {
        using Socket listener = host.Connect();
        listener.ReceiveTimeout = 20_000;
        listener.Send(Request(false, "nc", "-l", "127.0.0.1", "7202"));
        WaitBound("7202");
        var (exit, _, err) = host.Exec("nc", "-N", "127.0.0.1", "7202"); // stdin EOF at once: -N sends the FIN
        Assert.True(exit == 0, err);
        using var stream = new NetworkStream(listener);
        JsonElement? frame;
        while ((frame = ReadFrame(stream)) is { } f && !f.TryGetProperty("exit", out _))
        {
            Assert.False(f.TryGetProperty("read", out _), "a grant to a client that streams no stdin");
        }

        Assert.Equal(0, frame?.GetProperty("exit").GetInt32());
    }

    [Fact]
    public void Input_nobody_asked_for_drops_the_client_and_cancels_its_command()
    {
        // nc -l waits in accept: it reads no stdin yet, so the host has granted nothing.
        using Socket listener = host.Connect();
        listener.ReceiveTimeout = 20_000;
        listener.Send(Request(true, "nc", "-l", "127.0.0.1", "7203"));
        WaitBound("7203");
        using var stream = new NetworkStream(listener);
        stream.Write(Frame("{\"in\":\"QUJD\"}"));
        try
        {
            while (ReadFrame(stream) is { } frame)
            {
                Assert.False(frame.TryGetProperty("exit", out _), "the command ran on after a protocol violation");
            }
        }
        catch (IOException)
        {
            // reset: dropped as well
        }

        Assert.True(CliFixture.WaitFor(() => !host.Exec("sockstat", "-4", "-l", "-q", "-p", "7203").Out.Contains(":7203 "), 10_000),
            "the cancelled nc still listens");
    }

    private void WaitBound(string port)
    {
        bool bound = CliFixture.WaitFor(() => host.Exec("sockstat", "-4", "-l", "-q", "-p", port).Out.Contains(':' + port + ' '), 10_000);
        Assert.True(bound, $"nobody listens on {port}:\n{host.Log}");
    }

    private static byte[] Request(bool stdin, params string[] argv)
        => Frame($"{{\"argv\":{JsonSerializer.Serialize(argv, HostTestJson.Default.StringArray)}{(stdin ? ",\"stdin\":true" : "")}}}");

    private static byte[] Frame(string json) => HostProcesses.Frame(Encoding.UTF8.GetBytes(json));

    private static JsonElement? ReadFrame(Stream stream)
    {
        var header = new byte[4];
        if (!Fill(stream, header))
        {
            return null;
        }

        var payload = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
        Assert.True(Fill(stream, payload), "truncated frame");
        return JsonDocument.Parse(payload).RootElement.Clone();
    }

    private static bool Fill(Stream stream, byte[] buffer)
    {
        for (int got = 0, n; got < buffer.Length; got += n)
        {
            if ((n = stream.Read(buffer, got, buffer.Length - got)) == 0)
            {
                return false;
            }
        }

        return true;
    }
}
