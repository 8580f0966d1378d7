using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Vimage.Cli.Tests;

/// <summary>Client load cannot take the host down: the connection cap, descriptor exhaustion, clients that never read.</summary>
public sealed class HostLimitTests
{
    [SkippableFact]
    public void Twenty_thousand_connection_attempts_under_ulimit_1024_leave_the_host_serving()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "ulimit -n and /proc are Linux");
        const int Attempts = 20_000, Held = 1_200; // held at once: beyond the cap (256) and the host's limit (1024)
        Skip.If(OwnDescriptorLimit() < Held + 200, $"this test process may open only {OwnDescriptorLimit()} descriptors; it needs {Held + 200}");

        using var host = new LaunchedHost(descriptorLimit: 1024);
        var clock = Stopwatch.StartNew();
        int attempts = 0, waves = 0;
        while (attempts < Attempts)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(3), $"only {attempts} attempts in 3 minutes\n{host.Log}");
            var held = new List<Socket>(Held);
            try
            {
                while (held.Count < Held && attempts < Attempts)
                {
                    held.Add(host.Connect());
                    attempts++;
                }

                // The last one is over the cap: it is refused with the documented frames, not reset or left hanging.
                (string? error, int? exit) = Response(held[^1]);
                Assert.True(exit == 75, $"wave {waves}: exit {exit?.ToString() ?? "none"}, error {error}\n{host.Log}");
                Assert.Contains("too many connections", error);
                Assert.False(host.Process.HasExited, $"the host died after {attempts} attempts:\n{host.Log}");
            }
            finally
            {
                foreach (Socket socket in held)
                {
                    socket.Dispose();
                }
            }

            waves++;
        }

        // The idle connections closed: the host notices, frees their slots and serves a normal command.
        Assert.True(HostProcesses.WaitFor(() => host.Status().Contains(" 1 connection(s)"), TimeSpan.FromSeconds(20)), host.Status() + host.Log);
        Assert.Matches(@"\(limit 256, \d+ refused\)", host.Status());
        var forwarding = HostProcesses.Run(host.Env, "sysctl", "net.inet.ip.forwarding");
        Assert.Equal((0, "net.inet.ip.forwarding: 0\n", ""), forwarding);
        Assert.False(host.Process.HasExited, host.Log);
    }

    [SkippableFact]
    public void Clients_that_never_read_are_dropped_after_the_write_timeout_and_give_back_their_threads()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "thread counts come from /proc");
        const int Clients = 20;
        using var host = new LaunchedHost(["--io-timeout", "5", "--output-buffer", "4096"]);
        Assert.Equal(0, HostProcesses.Exec(host.SocketPath, "sysctl", "-n", "net.inet.ip.ttl").Exit); // warm: JIT, pool
        int baseline = host.Threads();

        // ~60 KB of output each: far more than the 4 KiB queue and the 8 KiB socket buffer hold.
        byte[] request = LaunchedHost.Request(["sysctl", .. Enumerable.Repeat("net.inet.ip.ttl", 3000)]);
        var clients = new List<Socket>();
        try
        {
            for (int i = 0; i < Clients; i++)
            {
                Socket socket = host.Connect();
                socket.ReceiveBufferSize = 1024;
                socket.Send(request);
                clients.Add(socket); // and never read
            }

            // Each command waits for its client (most at once at least: the first may time out before the last starts)...
            Assert.True(HostProcesses.WaitFor(() => host.Threads() >= baseline + Clients / 2, TimeSpan.FromSeconds(20)),
                $"threads {host.Threads()}, baseline {baseline}\n{host.Log}");

            // ...for at most the write timeout: then the client is dropped and the thread goes.
            Assert.True(HostProcesses.WaitFor(() => Regex.Count(host.Log, "dropped: the client took no output for 5 s") == Clients, TimeSpan.FromSeconds(40)),
                host.Log);
            Assert.True(HostProcesses.WaitFor(() => host.Threads() <= baseline + 2, TimeSpan.FromSeconds(40)),
                $"threads {host.Threads()}, baseline {baseline}\n{host.Log}");
            Assert.Contains(" 1 connection(s)", host.Status());
            Assert.Equal((0, "64\n", ""), HostProcesses.Exec(host.SocketPath, "sysctl", "-n", "net.inet.ip.ttl"));
        }
        finally
        {
            foreach (Socket socket in clients)
            {
                socket.Dispose();
            }
        }
    }

    [SkippableFact]
    public void A_descriptor_limit_lowered_under_the_running_host_lowers_the_cap_and_the_host_keeps_serving()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "prlimit and /proc are Linux");
        Skip.If(!File.Exists("/usr/bin/prlimit"), "prlimit (util-linux) is not installed");
        const int Held = 600;
        Skip.If(OwnDescriptorLimit() < Held + 200, $"this test process may open only {OwnDescriptorLimit()} descriptors; it needs {Held + 200}");
        using var host = new LaunchedHost();
        int pid = host.Process.Id;

        // 64 descriptors to spare: fewer than the runtime's reserve, so the cap drops to 1 connection.
        int soft = Directory.GetFiles($"/proc/{pid}/fd").Length + 64;
        Assert.Equal(0, HostProcesses.Run(new ProcessStartInfo("prlimit", ["--pid", $"{pid}", $"--nofile={soft}:"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }).Exit);
        var held = new List<Socket>(Held);
        try
        {
            for (int i = 0; i < Held; i++)
            {
                held.Add(host.Connect());
            }

            (string? error, int? exit) = Response(held[^1]);
            Assert.True(exit == 75, $"exit {exit?.ToString() ?? "none"}, error {error}\n{host.Log}");
            Assert.Contains("the host serves at most 1)", error);
            Assert.False(host.Process.HasExited, host.Log);
        }
        finally
        {
            foreach (Socket socket in held)
            {
                socket.Dispose();
            }
        }

        // One slot: the previous connection holds it until the host has closed it, so wait for it to be free.
        Assert.True(HostProcesses.WaitFor(() => host.Status().Contains(" 1 connection(s) (limit 1,"), TimeSpan.FromSeconds(20)), host.Status() + host.Log);
        byte[] ttl = LaunchedHost.Request("sysctl", "-n", "net.inet.ip.ttl");
        Assert.True(HostProcesses.WaitFor(() => host.TryExchange(ttl) is (0, "64\n", "", null), TimeSpan.FromSeconds(20)), host.Log);
        Assert.False(host.Process.HasExited, host.Log);
    }

    [Fact]
    public void An_oversized_request_is_refused_before_it_is_read()
    {
        using var host = new LaunchedHost();
        byte[] big = LaunchedHost.Request(["sysctl", .. Enumerable.Repeat("net.inet.ip.ttl", 5000)]); // > 64 KiB
        var (exit, _, _, error) = HostProcesses.Exchange(host.SocketPath, big);
        Assert.Equal(76, exit);
        Assert.Contains("exceeds the 65536 byte limit", error);
        Assert.Equal((0, "64\n", ""), HostProcesses.Exec(host.SocketPath, "sysctl", "-n", "net.inet.ip.ttl"));
    }

    /// <summary>The error and exit frames waiting on a socket the host refused (read to end of stream, 10 s at most).</summary>
    internal static (string? Error, int? Exit) Response(Socket socket)
    {
        socket.ReceiveTimeout = 10_000;
        var bytes = new List<byte>();
        var buffer = new byte[4096];
        int n;
        try
        {
            while ((n = socket.Receive(buffer)) > 0)
            {
                bytes.AddRange(buffer.AsSpan(0, n));
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            // what was queued before the reset is already in bytes
        }

        string? error = null;
        int? exit = null;
        byte[] all = [.. bytes];
        for (int at = 0; at + 4 <= all.Length;)
        {
            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(all.AsSpan(at));
            using JsonDocument frame = JsonDocument.Parse(all.AsMemory(at + 4, length));
            if (frame.RootElement.TryGetProperty("error", out JsonElement e))
            {
                error = e.GetString();
            }

            if (frame.RootElement.TryGetProperty("exit", out JsonElement x))
            {
                exit = x.GetInt32();
            }

            at += 4 + length;
        }

        return (error, exit);
    }

    private static int OwnDescriptorLimit()
    {
        string line = File.ReadLines("/proc/self/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        string soft = line["Max open files".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        return soft == "unlimited" ? int.MaxValue : int.Parse(soft);
    }
}
