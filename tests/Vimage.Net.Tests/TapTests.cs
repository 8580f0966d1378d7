using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PacketDotNet;
using Vimage.Net.Tap;
using PacketProtocol = PacketDotNet.ProtocolType;

namespace Vimage.Net.Tests;

/// <summary>
/// Linux TAP devices against the real kernel. Each test makes its own network namespace (vimage-tap-XXXXXXXX) and
/// deletes it afterwards; without root, /dev/net/tun or iproute2 every test is reported as skipped with the reason.
/// The kernel is made to transmit by a UDP socket created inside the namespace (no ping needed), except in the ping
/// test, which needs iputils-ping.
/// </summary>
public sealed class TapTests
{
    private static readonly byte[] Payload = Encoding.ASCII.GetBytes("vimage-tap-probe");

    /// <summary>A UDP socket living in the namespace; sending through it makes the kernel ARP for 10.77.0.2.</summary>
    private static Socket UdpSocketIn(TapNetns ns)
    {
        Socket s = NetNamespace.Run(ns.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp));
        s.Bind(new IPEndPoint(TapNetns.LocalIp, 0));
        s.ReceiveTimeout = 5000;
        return s;
    }

    [SkippableFact]
    public void KernelArpRequestIsReadFromTheTap()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        using TapDevice tap = ns.CreateUpTap(queues: 2);
        using Socket udp = UdpSocketIn(ns);

        udp.SendTo(Payload, new IPEndPoint(TapNetns.PeerIp, 9));

        var (bytes, eth, _) = TapFrames.ReadUntil(tap, e => e.Type == EthernetType.Arp, "ARP request");
        var arp = eth.Extract<ArpPacket>();
        Assert.NotNull(arp);
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal(TapNetns.PeerIp, arp.TargetProtocolAddress);  // who-has 10.77.0.2
        Assert.Equal(TapNetns.LocalIp, arp.SenderProtocolAddress); // tell 10.77.0.1
        Assert.Equal(TapFrames.Broadcast, eth.DestinationHardwareAddress);
        Assert.Equal(eth.SourceHardwareAddress, arp.SenderHardwareAddress);
        Assert.True(bytes.Length >= 42, $"ARP frame of {bytes.Length} bytes");
        // RxFrames also counts IPv6 chatter (MLD, router solicitations) the link emits when it comes up.
        Assert.True(tap.Queue(0).RxFrames + tap.Queue(1).RxFrames >= 1);
    }

    [SkippableFact]
    public void WrittenArpReplyReachesNeighbourTableAndUdpRoundTripsThroughBothQueues()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        using TapDevice tap = ns.CreateUpTap(queues: 2);
        using Socket udp = UdpSocketIn(ns);
        int localPort = ((IPEndPoint)udp.LocalEndPoint!).Port;

        udp.SendTo(Payload, new IPEndPoint(TapNetns.PeerIp, 9));
        var (_, request, _) = TapFrames.ReadUntil(tap, e => TapFrames.IsArpRequestFor(e, TapNetns.PeerIp), "ARP request");
        var tapMac = request.SourceHardwareAddress;

        // "10.77.0.2 is-at 02:00:00:00:00:02", answering the kernel's request (its entry is INCOMPLETE, so it accepts).
        byte[] reply = TapFrames.ArpReply(TapNetns.PeerMac, TapNetns.PeerIp, tapMac, TapNetns.LocalIp);
        Assert.True(tap.Queue(0).Write(reply), $"write failed: errno {tap.Queue(0).LastErrno}");
        Assert.Equal(1, tap.Queue(0).TxFrames);

        string neigh = "";
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 5000)
        {
            neigh = ns.IpOk("neigh", "show", "10.77.0.2", "dev", tap.Name);
            if (neigh.Contains("lladdr 02:00:00:00:00:02", StringComparison.Ordinal))
                break;
            Thread.Sleep(20);
        }
        Assert.Contains("lladdr 02:00:00:00:00:02", neigh);

        // The datagram the kernel held back while resolving now goes out to our MAC.
        var (_, dgram, _) = TapFrames.ReadUntil(tap,
            e => TapFrames.Ipv4To(e, TapNetns.PeerIp, PacketProtocol.Udp) is not null, "queued UDP datagram");
        Assert.Equal(TapNetns.PeerMac, dgram.DestinationHardwareAddress);
        var udpIn = dgram.Extract<UdpPacket>();
        Assert.Equal(9, udpIn.DestinationPort);
        Assert.Equal(localPort, udpIn.SourcePort);
        Assert.Equal(Payload, udpIn.PayloadData);

        // Answer through each queue: the socket must get both.
        for (int q = 0; q < 2; q++)
        {
            byte[] frame = TapFrames.Udp(TapNetns.PeerMac, tapMac, TapNetns.PeerIp, TapNetns.LocalIp, 9, localPort,
                Encoding.ASCII.GetBytes($"reply via queue {q}"));
            Assert.True(tap.Queue(q).Write(frame), $"queue {q} write failed: errno {tap.Queue(q).LastErrno}");
        }
        var got = new HashSet<string>();
        var buf = new byte[2048];
        for (int i = 0; i < 2; i++)
        {
            EndPoint from = new IPEndPoint(IPAddress.Any, 0);
            int n = udp.ReceiveFrom(buf, ref from);
            Assert.Equal(new IPEndPoint(TapNetns.PeerIp, 9), from);
            got.Add(Encoding.ASCII.GetString(buf, 0, n));
        }
        Assert.Equal(["reply via queue 0", "reply via queue 1"], got.Order());
        Assert.Equal(0, tap.Queue(0).TxErrors + tap.Queue(1).TxErrors);
    }

    [SkippableFact]
    public async Task PingGetsHandBuiltEchoReply()
    {
        TapEnvironment.SkipIfUnsupported();
        Skip.IfNot(TapEnvironment.HasCommand("ping"), "ping not installed (iputils-ping; scripts/setup.sh installs it)");
        using var ns = new TapNetns();
        using TapDevice tap = ns.CreateUpTap(queues: 2);

        Task<(int Exit, string Out, string Err)> ping =
            TapEnvironment.RunAsync("ip", ["netns", "exec", ns.Name, "ping", "-n", "-c", "1", "-W", "5", "10.77.0.2"]);
        try
        {
            var (_, arp, _) = TapFrames.ReadUntil(tap, e => TapFrames.IsArpRequestFor(e, TapNetns.PeerIp), "ARP request", 8000);
            Assert.True(tap.Queue(1).Write(
                TapFrames.ArpReply(TapNetns.PeerMac, TapNetns.PeerIp, arp.SourceHardwareAddress, TapNetns.LocalIp)));

            var (bytes, echo, _) = TapFrames.ReadUntil(tap,
                e => TapFrames.Ipv4To(e, TapNetns.PeerIp, PacketProtocol.Icmp)?.Extract<IcmpV4Packet>()?.TypeCode
                    == IcmpV4TypeCode.EchoRequest, "ICMP echo request", 8000);
            Assert.Equal(TapNetns.PeerMac, echo.DestinationHardwareAddress);

            byte[] reply = TapFrames.EchoReplyFor(bytes, TapNetns.PeerMac);
            // Check our hand-built reply with an independent decoder before handing it to the kernel.
            var decoded = new EthernetPacket(new PacketDotNet.Utils.ByteArraySegment(reply));
            var ip = decoded.Extract<IPv4Packet>();
            Assert.True(ip.ValidIPChecksum);
            Assert.Equal(TapNetns.LocalIp, ip.DestinationAddress);
            var icmp = decoded.Extract<IcmpV4Packet>();
            Assert.Equal(IcmpV4TypeCode.EchoReply, icmp.TypeCode);
            Assert.True(icmp.ValidIcmpChecksum);
            Assert.True(tap.Queue(0).Write(reply), $"write failed: errno {tap.Queue(0).LastErrno}");
        }
        finally
        {
            var (exit, stdout, stderr) = await ping;
            Assert.True(exit == 0, $"ping exited {exit}: {stdout} {stderr}");
            Assert.Contains("1 received", stdout);
        }
    }

    [SkippableFact]
    public void TwoQueuesOpenTwoUsableDescriptors()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        using TapDevice tap = ns.CreateUpTap(queues: 2);

        Assert.Equal(2, tap.QueueCount);
        Assert.Equal(ns.Name, tap.Netns);
        Assert.True(tap.InterfaceIndex > 0);
        int fd0 = (int)tap.Queue(0).Handle.DangerousGetHandle();
        int fd1 = (int)tap.Queue(1).Handle.DangerousGetHandle();
        Assert.NotEqual(fd0, fd1);
        Assert.Equal("/dev/net/tun", new FileInfo($"/proc/self/fd/{fd0}").LinkTarget);
        Assert.Equal("/dev/net/tun", new FileInfo($"/proc/self/fd/{fd1}").LinkTarget);
        Assert.Throws<ArgumentOutOfRangeException>(() => tap.Queue(2));

        // The kernel counts frames written through either queue as received by the interface.
        long before = RxPackets(ns, tap.Name);
        byte[] garp = TapFrames.ArpReply(TapNetns.PeerMac, TapNetns.PeerIp, TapFrames.Broadcast, TapNetns.PeerIp);
        Assert.True(tap.Queue(0).Write(garp));
        Assert.True(tap.Queue(1).Write(garp));
        Assert.Equal(1, tap.Queue(0).TxFrames);
        Assert.Equal(1, tap.Queue(1).TxFrames);
        Assert.Equal(before + 2, RxPackets(ns, tap.Name));
    }

    private static long RxPackets(TapNetns ns, string dev)
    {
        // "ip -s link show" prints the RX counters on the line after the "RX:" header.
        string[] lines = ns.IpOk("-s", "link", "show", "dev", dev).Split('\n', StringSplitOptions.TrimEntries);
        int header = Array.FindIndex(lines, l => l.StartsWith("RX:", StringComparison.Ordinal));
        Assert.True(header >= 0, string.Join('\n', lines));
        return long.Parse(lines[header + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    }

    [Fact]
    public void BadQueueCountsAndNamesAreRejectedBeforeAnySystemCall()
    {
        foreach (int q in new[] { 0, -1, TapDevice.MaxQueues + 1 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => TapDevice.Create("vtapx", q));
            Assert.Equal("queues", e.ParamName);
        }
        Assert.Throws<ArgumentException>(() => TapDevice.Create("", 1));
        Assert.Throws<ArgumentException>(() => TapDevice.Create("a-name-that-is-16", 1));
        Assert.Throws<ArgumentException>(() => TapDevice.Create("bad/name", 1));
        Assert.Throws<ArgumentException>(() => TapDevice.Create("bad name", 1));
    }

    [SkippableFact]
    public void SameNameInSameNamespaceFailsWithEbusyWhileTheFirstIsOpen()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        string name = TapNetns.NewTapName();
        using (TapDevice first = TapDevice.Create(name, 2, ns.Name))
        {
            var e = Assert.Throws<TapException>(() => TapDevice.Create(name, 1, ns.Name));
            Assert.Equal(16, e.Errno);
            Assert.StartsWith($"tap {name}: TUNSETIFF failed: EBUSY (16)", e.Message);
            // The failed attempt left the first device and its queues intact.
            Assert.Equal(0, ns.Ip("link", "show", "dev", name).Exit);
            Assert.Equal(0, first.Queue(1).Read(new byte[2048], 0));

            // Any existing interface name is refused the same way.
            Assert.Equal(16, Assert.Throws<TapException>(() => TapDevice.Create("lo", 1, ns.Name)).Errno);
        }
        using TapDevice again = TapDevice.Create(name, 1, ns.Name);
        Assert.Equal(name, again.Name);
    }

    [SkippableFact]
    public void DisposeRemovesTheInterfaceAndWakesABlockedReader()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        TapDevice tap = ns.CreateUpTap(queues: 2);
        string name = tap.Name;
        Assert.Equal(0, ns.Ip("link", "show", "dev", name).Exit);

        string? readerTid = null;
        var reader = Task.Factory.StartNew(() =>
        {
            Volatile.Write(ref readerTid, Path.GetFileName(File.ResolveLinkTarget("/proc/thread-self", false)!.FullName));
            var buf = new byte[2048];
            while (true)
                tap.Queue(1).Read(buf, -1);
        }, TaskCreationOptions.LongRunning);

        // Dispose must wake a reader blocked in poll(2): wait until the kernel says it sleeps there (wchan).
        Assert.True(Frames.WaitFor(() => Volatile.Read(ref readerTid) is { } tid
            && File.ReadAllText($"/proc/self/task/{tid}/wchan").Contains("poll", StringComparison.Ordinal)), "the reader never blocked in poll");

        tap.Dispose();
        tap.Dispose(); // idempotent

        var ex = Assert.ThrowsAny<Exception>(() => reader.Wait(5000));
        Assert.IsType<ObjectDisposedException>(ex.InnerException);
        Assert.Throws<ObjectDisposedException>(() => tap.Queue(0));

        var sw = Stopwatch.StartNew();
        var r = ns.Ip("link", "show", "dev", name);
        while (r.Exit == 0 && sw.ElapsedMilliseconds < 3000)
        {
            Thread.Sleep(20);
            r = ns.Ip("link", "show", "dev", name);
        }
        Assert.NotEqual(0, r.Exit);
    }

    [SkippableFact]
    public void ReadTimesOutWriteCountsErrorsAndNeitherAllocates()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        // Link down: the kernel sends nothing, so reads time out deterministically.
        using TapDevice tap = TapDevice.Create(TapNetns.NewTapName(), 2, ns.Name);
        TapQueue q = tap.Queue(0);
        var buf = new byte[2048];

        var sw = Stopwatch.StartNew();
        Assert.Equal(0, q.Read(buf, 100));
        Assert.InRange(sw.ElapsedMilliseconds, 90, 2000);
        Assert.Equal(0, tap.ReadAny(buf, 50, out int which));
        Assert.Equal(-1, which);

        byte[] runt = new byte[4]; // shorter than an Ethernet header: the kernel says EINVAL
        Assert.False(q.Write(runt));
        Assert.Equal(1, q.TxErrors);
        Assert.Equal(22, q.LastErrno);

        // Warm up, then measure: no managed allocation per call.
        q.Read(buf, 0);
        tap.ReadAny(buf, 0, out _);
        q.Write(runt);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            q.Read(buf, 0);
            tap.ReadAny(buf, 0, out _);
            q.Write(runt);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(1002, q.TxErrors);
    }

    [SkippableFact]
    public void UnknownNamespaceIsAClearError()
    {
        TapEnvironment.SkipIfUnsupported();
        var e = Assert.Throws<TapException>(() => TapDevice.Create("vtapz", 1, "vimage-tap-does-not-exist"));
        Assert.Equal(2, e.Errno);
        Assert.Contains("tap vtapz: open /var/run/netns/vimage-tap-does-not-exist", e.Message);
        Assert.Contains("ENOENT (2)", e.Message);
    }
}
