using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Tap;
using Socket = System.Net.Sockets.Socket;

namespace Vimage.Net.Tests;

/// <summary>
/// The whole stack against the real Linux kernel, through a TAP device in a network namespace the test makes:
/// the kernel's own ping(8) gets replies from a vnet, and a Linux UDP socket talks to a vnet's UDP socket.
/// </summary>
public sealed class KernelInteropTests
{
    private const string VnetAddress = "10.77.0.2";

    [SkippableFact]
    public void TheKernelsPingGetsRepliesFromAVnet()
    {
        string output = KernelPing("kernel-ping", ["-c", "3", "-i", "0.2", "-W", "2"], () => Icmp.FetchOutHist(IcmpType.EchoReply) >= 3);
        Assert.Contains("3 received", output);
    }

    /// <summary>
    /// Linux's ping -R: Linux records itself on output, the vnet records its address on input (ip_dooptions),
    /// icmp_reflect returns the option in the reply and Linux records itself again on input: the route through
    /// the vnet is printed (before, the reply carried no option and Linux printed no RR at all).
    /// </summary>
    [SkippableFact]
    public void TheKernelsPingRecordRouteShowsTheVnet()
    {
        string output = KernelPing("kernel-ping-rr", ["-R", "-c", "1", "-W", "2"], () => true);
        Assert.Contains("1 received", output);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(output, @"RR:\s+10\.77\.0\.1\s+10\.77\.0\.2\s+10\.77\.0\.1\s*\n"), output);
    }

    /// <summary>Runs Linux's ping to the vnet through a TAP in a namespace; returns its output once it succeeded.</summary>
    private static string KernelPing(string vnetName, string[] pingArgs, Func<bool> check)
    {
        TapEnvironment.SkipIfUnsupported();
        Skip.If(!File.Exists("/usr/bin/ping") && !File.Exists("/bin/ping"), "ping(8) is not installed (scripts/setup.sh installs iputils-ping)");
        using var ns = new TapNetns();
        Vnet vnet = Vnet.IsVimage ? Vnet.Create(vnetName) : Vnet.Vnet0;
        Ifnet? ifp = null;
        try
        {
            ifp = Attach(ns, vnet);
            var ping = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", ns.Name, "ping", .. pingArgs, VnetAddress])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            string output = ping.StandardOutput.ReadToEnd() + ping.StandardError.ReadToEnd();
            Assert.True(ping.WaitForExit(20_000));
            Assert.True(ping.ExitCode == 0, output);
            using (Curvnet.Set(vnet))
            {
                Assert.True(check(), output);
            }

            return output;
        }
        finally
        {
            Detach(ifp);
            if (vnet != Vnet.Vnet0)
            {
                vnet.Destroy();
            }
        }
    }

    [SkippableFact]
    public void UdpEchoBetweenAVnetAndALinuxSocket()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        Vnet vnet = Vnet.IsVimage ? Vnet.Create("kernel-udp") : Vnet.Vnet0;
        Ifnet? ifp = null;
        try
        {
            ifp = Attach(ns, vnet);
            long sentBefore = Udp.Fetch(vnet, UdpStat.udps_opackets); // vnet0 is shared without VIMAGE
            using UdpSocket echo = UdpSocket.Create(vnet);
            echo.Bind(InAddr.Any, 7);
            var server = Task.Run(() =>
            {
                byte[] buffer = new byte[2048];
                for (int i = 0; i < 3; i++)
                {
                    Vimage.Net.Inet.UdpReceiveResult got = echo.Receive(buffer, 10_000);
                    echo.SendTo(buffer.AsSpan(0, got.BytesReceived), got.RemoteAddress, got.RemotePort);
                }
            });

            using Socket linux = NetNamespace.Run(ns.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
            linux.ReceiveTimeout = 5000;
            linux.Bind(new IPEndPoint(TapNetns.LocalIp, 0));
            byte[] reply = new byte[2048];
            for (int i = 0; i < 3; i++)
            {
                byte[] message = System.Text.Encoding.ASCII.GetBytes($"linux says {i}");
                linux.SendTo(message, new IPEndPoint(IPAddress.Parse(VnetAddress), 7));
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                int n = linux.ReceiveFrom(reply, ref from);
                Assert.Equal(message, reply[..n]);
                Assert.Equal(new IPEndPoint(IPAddress.Parse(VnetAddress), 7), from);
            }

            Assert.True(server.Wait(10_000));
            Assert.Equal(3, Udp.Fetch(vnet, UdpStat.udps_opackets) - sentBefore);
        }
        finally
        {
            Detach(ifp);
            if (vnet != Vnet.Vnet0)
            {
                vnet.Destroy();
            }
        }
    }

    /// <summary>A tap in the namespace (kernel side 10.77.0.1/24) and its interface in the vnet (10.77.0.2/24).</summary>
    private static Ifnet Attach(TapNetns ns, Vnet vnet)
    {
        TapDevice device = TapDevice.Create(TapNetns.NewTapName(), 1, ns.Name);
        Ifnet ifp;
        using (Curvnet.Set(vnet))
        {
            ifp = TapCloner.CreateFor(device);
            ifp.SetUp(true);
            InAddrs.Add(ifp, InAddr.Parse(VnetAddress), 24);
        }

        ns.IpOk("link", "set", device.Name, "up");
        ns.IpOk("addr", "add", "10.77.0.1/24", "dev", device.Name);
        return ifp;
    }

    private static void Detach(Ifnet? ifp)
    {
        if (ifp is null || ifp.IsDetached)
        {
            return;
        }

        using (Curvnet.Set(ifp.Vnet))
        {
            Ifnets.Destroy(ifp.Name);
        }
    }
}
