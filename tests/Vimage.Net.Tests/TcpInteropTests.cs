using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tap;
using Vimage.Net.Tcp;
using LinuxSocket = System.Net.Sockets.Socket;

namespace Vimage.Net.Tests;

/// <summary>
/// Vimage's TCP against the Linux kernel's, through a TAP device into a network namespace the test makes (issue 14's
/// interop list): Linux curl fetches from a jail, Linux nc pushes data through a jail's echo and gets it back
/// intact, the same across a router jail whose dummynet pipes add delay and loss, across a 1280-byte link in the
/// middle (path MTU discovery on both sides), and connection refusal both ways. Skipped with the reason without
/// root, /dev/net/tun or the tools.
/// </summary>
public sealed class TcpInteropTests
{
    private const string JailAddress = "10.77.0.2";
    private const string ServerAddress = "10.78.0.2";

    [SkippableFact]
    public void Linux_curl_fetches_10_MB_from_a_jail_http_responder()
    {
        TapEnvironment.SkipIfUnsupported();
        Skip.If(!TapEnvironment.HasCommand("curl"), "curl is not installed (scripts/setup.sh installs it)");
        using var lab = new InteropLab("tcp-curl", routed: false);
        byte[] body = Pattern(10 * 1024 * 1024, seed: 1);
        using TcpSocket listener = lab.Listen(lab.Server, 80);
        Task server = Task.Run(() => ServeHttpOnce(listener, body));

        string file = Path.Combine(Path.GetTempPath(), $"vimage-curl-{Environment.ProcessId}-{Random.Shared.Next()}");
        try
        {
            (int exit, string stdout, string stderr) = lab.Exec(60_000, "curl", "-sS", "--max-time", "50", "-o", file, $"http://{JailAddress}/big");
            Assert.True(exit == 0, $"curl exit {exit}: {stdout}{stderr}");
            Assert.True(server.Wait(30_000), "the responder finished");
            Assert.Equal(SHA256.HashData(body), SHA256.HashData(File.ReadAllBytes(file)));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [SkippableFact]
    public void Linux_nc_sends_100_MB_into_a_jail_and_gets_the_same_100_MB_back()
        => NcEchoRoundTrip("tcp-nc", routed: false, megabytes: 100, impaired: false, timeoutMs: 240_000);

    [SkippableFact]
    public void Linux_nc_echo_of_10_MB_across_a_router_jail_with_20_ms_delay_and_1_percent_loss_each_way()
        => NcEchoRoundTrip("tcp-lossy", routed: true, megabytes: 10, impaired: true, timeoutMs: 240_000);

    /// <summary>
    /// Linux (MTU 1500) — router R1 — 1280-byte epair — router R2 — server (MTU 1500): both ends negotiate MSS 1460,
    /// so the full segments each sends meet the narrow link in the middle with DF set. R1 answers Linux's with ICMP
    /// need-frag (Linux lowers its path MTU), R2 answers the server's (Vimage's tcp_ctlinput lowers t_maxseg).
    /// </summary>
    [SkippableFact]
    public void Path_mtu_discovery_across_a_1280_byte_link_in_the_middle_both_ways()
    {
        TapEnvironment.SkipIfUnsupported();
        Skip.IfNot(Vnet.IsVimage, "needs several vnets (VIMAGE build)");
        Skip.If(!TapEnvironment.HasCommand("nc"), "nc is not installed (scripts/setup.sh installs netcat-openbsd)");
        using var lab = new InteropLab("tcp-pmtu", routed: true, middleMtu: 1280);
        long needFragBefore = StackFixture.In(lab.Routers[^1], () => Icmp.FetchOutHist(IcmpType.Unreach));
        RunNcEcho(lab, megabytes: 4, timeoutMs: 120_000);
        Assert.True(StackFixture.In(lab.Routers[0], () => Icmp.FetchOutHist(IcmpType.Unreach)) > 0, "R1 sent Linux a need-frag");
        Assert.True(StackFixture.In(lab.Routers[^1], () => Icmp.FetchOutHist(IcmpType.Unreach)) > needFragBefore, "R2 sent the server a need-frag");
    }

    [SkippableFact]
    public void A_jail_connects_to_a_linux_listener_and_both_directions_carry_data()
    {
        TapEnvironment.SkipIfUnsupported();
        using var lab = new InteropLab("tcp-out", routed: false);
        using LinuxSocket listener = NetNamespace.Run(lab.Namespace.Name, () => new LinuxSocket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp));
        listener.Bind(new IPEndPoint(TapNetns.LocalIp, 0));
        listener.Listen(4);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        Task<byte[]> linuxSide = Task.Run(() =>
        {
            using LinuxSocket c = listener.Accept();
            c.ReceiveTimeout = 20_000;
            byte[] got = ReadAll(buffer => c.Receive(buffer));
            c.Send(SHA256.HashData(got));
            c.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            return got;
        });

        byte[] data = Pattern(1_000_000, seed: 7);
        using TcpSocket client = TcpSocket.Create(lab.Server);
        client.Connect(InAddr.Parse(TapNetns.LocalIp.ToString()), (ushort)port, timeoutMs: 20_000);
        SendAll(client, data);
        client.Shutdown(ShutdownHow.SHUT_WR);
        byte[] digest = ReadAll(buffer => client.Receive(buffer, 20_000));
        Assert.True(linuxSide.Wait(20_000));
        Assert.Equal(data, linuxSide.Result);
        Assert.Equal(SHA256.HashData(data), digest);
    }

    [SkippableFact]
    public void Refusals_both_ways_a_closed_linux_port_is_ECONNREFUSED_and_linux_sees_the_jails_RST()
    {
        TapEnvironment.SkipIfUnsupported();
        using var lab = new InteropLab("tcp-refuse", routed: false);

        // A port nothing listens on in the namespace: Linux answers the SYN with a RST.
        using TcpSocket client = TcpSocket.Create(lab.Server);
        NetSocketException refused = Assert.Throws<NetSocketException>(
            () => client.Connect(InAddr.Parse(TapNetns.LocalIp.ToString()), 9, timeoutMs: 20_000));
        Assert.Equal(Errno.ECONNREFUSED, refused.Errno);

        // And the other way: the jail's tcp_dropwithreset answers Linux's SYN to a closed port.
        using LinuxSocket linux = NetNamespace.Run(lab.Namespace.Name, () => new LinuxSocket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp));
        var e = Assert.Throws<System.Net.Sockets.SocketException>(() => linux.Connect(new IPEndPoint(IPAddress.Parse(JailAddress), 9)));
        Assert.Equal(System.Net.Sockets.SocketError.ConnectionRefused, e.SocketErrorCode);
    }

    private static void NcEchoRoundTrip(string name, bool routed, int megabytes, bool impaired, int timeoutMs)
    {
        TapEnvironment.SkipIfUnsupported();
        Skip.If(routed && !Vnet.IsVimage, "needs several vnets (VIMAGE build)");
        Skip.If(!TapEnvironment.HasCommand("nc"), "nc is not installed (scripts/setup.sh installs netcat-openbsd)");
        using var lab = new InteropLab(name, routed, impaired: impaired);
        RunNcEcho(lab, megabytes, timeoutMs);
        if (impaired)
        {
            Assert.True(lab.ImpairmentDrops() > 0, "the pipes dropped packets: recovery was exercised");
        }
    }

    /// <summary>
    /// A jail echo server on port 9000; Linux's `nc -N` streams a file into it and writes what comes back to another
    /// file. The echo writes back as it reads and closes after the client's FIN, so nc ends.
    /// </summary>
    private static void RunNcEcho(InteropLab lab, int megabytes, int timeoutMs)
    {
        string dir = Directory.CreateTempSubdirectory("vimage-nc-").FullName;
        try
        {
            string input = Path.Combine(dir, "in"), output = Path.Combine(dir, "out");
            WritePattern(input, megabytes * 1024L * 1024L, seed: megabytes);
            using TcpSocket listener = lab.Listen(lab.Server, 9000);
            Task echo = Task.Run(() =>
            {
                using TcpSocket c = listener.Accept(30_000);
                byte[] buffer = new byte[256 * 1024];
                while (true)
                {
                    int n = c.Receive(buffer, 60_000);
                    if (n == 0)
                    {
                        break;
                    }

                    SendAll(c, buffer.AsSpan(0, n));
                }

                c.Shutdown(ShutdownHow.SHUT_WR);
            });

            string target = lab.Routed ? ServerAddress : JailAddress;
            (int exit, string stdout, string stderr) = lab.Exec(timeoutMs, "sh", "-c", $"nc -N -w 30 {target} 9000 < {input} > {output}");
            Assert.True(exit == 0, $"nc exit {exit}: {stdout}{stderr}");
            Assert.True(echo.Wait(30_000), "the echo finished");
            Assert.True(echo.IsCompletedSuccessfully, echo.Exception?.ToString());
            Assert.Equal(new FileInfo(input).Length, new FileInfo(output).Length);
            Assert.Equal(Sha256(input), Sha256(output));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void ServeHttpOnce(TcpSocket listener, byte[] body)
    {
        using TcpSocket c = listener.Accept(30_000);
        byte[] request = new byte[8192];
        int have = 0;
        while (have < request.Length)
        {
            int n = c.Receive(request.AsSpan(have), 30_000);
            if (n == 0)
            {
                break;
            }

            have += n;
            if (request.AsSpan(0, have).IndexOf("\r\n\r\n"u8) >= 0)
            {
                break;
            }
        }

        Assert.StartsWith("GET /big HTTP/1.1", System.Text.Encoding.ASCII.GetString(request, 0, have));
        SendAll(c, System.Text.Encoding.ASCII.GetBytes($"HTTP/1.0 200 OK\r\nContent-Length: {body.Length}\r\nContent-Type: application/octet-stream\r\n\r\n"));
        SendAll(c, body);
        c.Shutdown(ShutdownHow.SHUT_WR);

        // Wait for curl's close so the FIN exchange completes before the socket goes.
        while (c.Receive(request, 30_000) > 0)
        {
        }
    }

    private static void SendAll(TcpSocket s, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int n = s.Send(data, 60_000);
            data = data[n..];
        }
    }

    private static byte[] ReadAll(Func<byte[], int> receive)
    {
        using var all = new MemoryStream();
        byte[] buffer = new byte[65536];
        int n;
        while ((n = receive(buffer)) > 0)
        {
            all.Write(buffer, 0, n);
        }

        return all.ToArray();
    }

    private static byte[] Pattern(int length, int seed)
    {
        byte[] b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static void WritePattern(string path, long length, int seed)
    {
        var random = new Random(seed);
        byte[] chunk = new byte[1 << 20];
        using FileStream f = File.Create(path);
        for (long left = length; left > 0; left -= chunk.Length)
        {
            random.NextBytes(chunk);
            f.Write(chunk, 0, (int)Math.Min(chunk.Length, left));
        }
    }

    private static byte[] Sha256(string path)
    {
        using FileStream f = File.OpenRead(path);
        return SHA256.HashData(f);
    }
}

/// <summary>
/// Linux namespace ↔ TAP ↔ jail. With <c>routed</c>: the TAP's jail is router R1 (10.77.0.2), a server jail sits
/// behind it at 10.78.0.2 (through a second router R2 and a middle link of <c>middleMtu</c> when given), Linux routes
/// 10.78.0.0/16 through R1. With <c>impaired</c>: R1 runs dummynet pipes of 20 ms and 1% loss in each direction.
/// </summary>
internal sealed class InteropLab : IDisposable
{
    private readonly Topology _topology = new();
    private readonly List<Vnet> _own = [];
    private readonly Ifnet _tap;
    private readonly bool _impaired;

    public InteropLab(string name, bool routed, int middleMtu = 0, bool impaired = false)
    {
        Routed = routed;
        _impaired = impaired;
        Namespace = new TapNetns();
        Vnet first = Vnet.IsVimage ? New($"{name}-r1") : Vnet.Vnet0;
        TapDevice device = TapDevice.Create(TapNetns.NewTapName(), 1, Namespace.Name);
        using (Curvnet.Set(first))
        {
            _tap = TapCloner.CreateFor(device);
            _tap.SetUp(true);
            InAddrs.Add(_tap, InAddr.Parse("10.77.0.2"), 24);
        }

        Namespace.IpOk("link", "set", device.Name, "up");
        Namespace.IpOk("addr", "add", "10.77.0.1/24", "dev", device.Name);
        if (!routed)
        {
            Server = first;
            Routers = [];
            return;
        }

        Namespace.IpOk("route", "add", "10.78.0.0/16", "via", "10.77.0.2");
        Sysctl.Set("net.inet.ip.forwarding", "1", first);
        var routers = new List<Vnet> { first };
        Vnet last = first;
        if (middleMtu > 0)
        {
            Vnet second = New($"{name}-r2");
            (Ifnet a, Ifnet b) = _topology.Link(first, "10.78.1.1/24", second, "10.78.1.2/24");
            SetMtu(a, middleMtu);
            SetMtu(b, middleMtu);
            Sysctl.Set("net.inet.ip.forwarding", "1", second);
            In(first, () => Routes.AddGateway(InAddr.Parse("10.78.0.0"), 24, InAddr.Parse("10.78.1.2")));
            In(second, () => Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("10.78.1.1")));
            routers.Add(second);
            last = second;
        }

        Server = New($"{name}-srv");
        _topology.Link(last, "10.78.0.1/24", Server, "10.78.0.2/24");
        In(Server, () => Routes.AddGateway(InAddr.Any, 0, InAddr.Parse("10.78.0.1")));
        Routers = routers;
        if (impaired)
        {
            ImpairRouter(first);
        }
    }

    public TapNetns Namespace { get; }

    public Vnet Server { get; }

    public IReadOnlyList<Vnet> Routers { get; }

    public bool Routed { get; }

    public TcpSocket Listen(Vnet vnet, ushort port)
    {
        TcpSocket s = TcpSocket.Create(vnet);
        s.ReuseAddress = true;
        s.Bind(InAddr.Any, port);
        s.Listen(8);
        return s;
    }

    /// <summary>Runs a program in the namespace; returns its exit status and output.</summary>
    public (int Exit, string Out, string Err) Exec(int timeoutMs, string file, params string[] args)
    {
        var psi = new ProcessStartInfo("ip", ["netns", "exec", Namespace.Name, file, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return (-1, stdout.Result, $"{stderr.Result}\n(timed out after {timeoutMs} ms)");
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Packets the router's pipes dropped (plr), both directions.</summary>
    public long ImpairmentDrops()
    {
        long drops = 0;
        foreach (int pipe in new[] { 1, 2 })
        {
            drops += In(Routers[0], () => Vimage.Net.Dummynet.DnIo.Tables.FindPipe(pipe)?.Drops ?? 0);
        }

        return drops;
    }

    public void Dispose()
    {
        if (_impaired)
        {
            In(Routers[0], () => { Vimage.Net.Ipfw.IpFw.Unload(); return 0; });
        }

        if (!_tap.IsDetached)
        {
            using (Curvnet.Set(_tap.Vnet))
            {
                Ifnets.Destroy(_tap.Name);
            }
        }

        _topology.Dispose();
        foreach (Vnet v in _own)
        {
            if (v.State == VnetState.Live)
            {
                v.Destroy();
            }
        }

        Namespace.Dispose();
    }

    private static T In<T>(Vnet v, Func<T> f) => StackFixture.In(v, f);

    private static void In(Vnet v, Action f)
    {
        using (Curvnet.Set(v))
        {
            f();
        }
    }

    private static void SetMtu(Ifnet ifp, int mtu)
    {
        using (Curvnet.Set(ifp.Vnet))
        {
            ifp.SetMtu(mtu);
        }
    }

    /// <summary>ipfw pipe 1 config delay 20ms plr 0.01 (toward the server), pipe 2 the same (toward Linux).</summary>
    private static void ImpairRouter(Vnet router)
    {
        using (Curvnet.Set(router))
        {
            Vimage.Net.Ipfw.IpFw.Load();
            var d = Vimage.Net.Dummynet.DnIo.Tables;
            d.ConfigurePipe(1, new Vimage.Net.Dummynet.DnPipeConfig { DelayUs = 20_000, Plr = 0.01, Seed = 1 });
            d.ConfigurePipe(2, new Vimage.Net.Dummynet.DnPipeConfig { DelayUs = 20_000, Plr = 0.01, Seed = 2 });
            var chain = Vimage.Net.Ipfw.IpFw.Chain;
            chain.Add(new Vimage.Net.Ipfw.IpFwRule
            {
                Number = 100, Action = Vimage.Net.Ipfw.IpFwAction.Pipe, Argument = 1, Direction = Vimage.Net.Ipfw.IpFwDir.In,
                Destination = Vimage.Net.Ipfw.IpFwAddr.Net(InAddr.Parse("10.78.0.0").Value, 16),
            }, 100);
            chain.Add(new Vimage.Net.Ipfw.IpFwRule
            {
                Number = 200, Action = Vimage.Net.Ipfw.IpFwAction.Pipe, Argument = 2, Direction = Vimage.Net.Ipfw.IpFwDir.In,
                Destination = Vimage.Net.Ipfw.IpFwAddr.Net(InAddr.Parse("10.77.0.0").Value, 24),
            }, 100);
            chain.Add(new Vimage.Net.Ipfw.IpFwRule { Number = 300, Action = Vimage.Net.Ipfw.IpFwAction.Allow }, 100);
        }
    }

    private Vnet New(string name)
    {
        Vnet v = Vnet.Create(name);
        _own.Add(v);
        return v;
    }
}
