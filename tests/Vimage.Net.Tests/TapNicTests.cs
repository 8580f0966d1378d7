using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using PacketDotNet;
using PacketDotNet.Utils;
using Vimage.Core;
using Vimage.Net.Tap;
using PacketProtocol = PacketDotNet.ProtocolType;

namespace Vimage.Net.Tests;

/// <summary>
/// The tap driver (TapNic on iflib) against the real kernel: the host side of tapN lives in a throw-away namespace
/// with 10.77.0.1/24; the vnet side plays 10.77.0.2 with hand-built frames. Skipped without root, /dev/net/tun or
/// iproute2. The vnet is a fresh one when built with VIMAGE, vnet0 otherwise.
/// </summary>
public sealed class TapNicTests
{
    private static readonly byte[] Payload = Encoding.ASCII.GetBytes("vimage-tapnic");

    /// <summary>Enough flows that both TX queues get some (all on one queue: 2^-31).</summary>
    private const int Flows = 32;

    [SkippableFact]
    public void VnetArpRequestIsAnsweredByTheKernel()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        using var vnet = new TestVnet("tapnic-arp");
        TapHostConfig saved = TapCloner.HostConfig;
        Ifnet ifp;
        try
        {
            TapCloner.Configure("vtnic%d", ns.Name, queues: 1);
            using (Curvnet.Set(vnet.Vnet))
            {
                ifp = Ifnets.Create("tap")[0];
            }
        }
        finally
        {
            TapCloner.HostConfig = saved;
        }

        TapNic nic = TapNic.Of(ifp)!;
        Assert.StartsWith("tap", ifp.Name);
        Assert.Same(vnet.Vnet, ifp.Vnet);
        Assert.Equal("vtnic0", nic.Device.Name); // %d resolved by the kernel inside the private namespace
        Assert.Equal(ns.Name, nic.Device.Netns);
        Assert.Equal(1, nic.Device.QueueCount);
        Assert.Equal(0x02, ifp.Lladdr[0] & 0x03); // locally administered unicast
        Assert.Equal(1, nic.ActiveReaders);

        var mac = new PhysicalAddress(ifp.Lladdr);
        var rx = new FrameRecorder(ifp);
        try
        {
            HostUp(ns, nic);
            ifp.SetUp(true);
            byte[] request = ArpRequest(mac, TapNetns.PeerIp, TapNetns.LocalIp);

            // Resend until answered: the host link may still be settling right after it came up.
            (EthernetPacket eth, Vnet? where) = rx.WaitFor(
                e => e.Extract<ArpPacket>() is { Operation: ArpOperation.Response } a && a.SenderProtocolAddress.Equals(TapNetns.LocalIp),
                "ARP reply from the kernel", resend: () => Assert.True(Frames.Send(ifp, request)));

            ArpPacket reply = eth.Extract<ArpPacket>();
            Assert.Equal(mac, eth.DestinationHardwareAddress);
            Assert.Equal(mac, reply.TargetHardwareAddress);
            Assert.Equal(TapNetns.PeerIp, reply.TargetProtocolAddress);
            Assert.Equal(eth.SourceHardwareAddress, reply.SenderHardwareAddress);
            Assert.Same(vnet.Vnet, where);
            Assert.True(nic.Device.Queue(0).TxFrames >= 1);
            Assert.True(ifp.Counter(IfCounter.IFCOUNTER_OPACKETS) >= 1);
            Assert.True(ifp.Counter(IfCounter.IFCOUNTER_IPACKETS) >= 1);
            Assert.Equal(0, ifp.Counter(IfCounter.IFCOUNTER_OERRORS));

            // The kernel learnt our MAC from the request.
            Assert.Contains($"lladdr {FormatMac(mac)}", ns.IpOk("neigh", "show", TapNetns.PeerIp.ToString(), "dev", nic.Device.Name));
        }
        finally
        {
            Destroy(ifp);
        }
    }

    [SkippableFact]
    public void KernelFramesArriveInTheRightVnetAndUdpRoundTripsOverTwoQueues()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        using var vnet = new TestVnet("tapnic-rx");
        Ifnet ifp;
        TapDevice device = TapDevice.Create(TapNetns.NewTapName(), 2, ns.Name);
        using (Curvnet.Set(vnet.Vnet))
        {
            ifp = TapCloner.CreateFor(device);
            Assert.Throws<ArgumentException>(() => TapCloner.CreateFor(device)); // one interface per device
        }

        Assert.Throws<InvalidOperationException>(() => TapCloner.CreateFor(device)); // no current vnet
        TapNic nic = TapNic.Of(ifp)!;
        Assert.Same(device, nic.Device);
        Assert.Equal(2, nic.ActiveReaders);
        Assert.Equal(2, nic.Context.TxQueues.Count);
        Assert.Equal(2, nic.Context.RxQueues.Count);
        var mac = new PhysicalAddress(ifp.Lladdr);
        var rx = new FrameRecorder(ifp);
        try
        {
            HostUp(ns, nic);
            ifp.SetUp(true);
            using Socket udp = NetNamespace.Run(ns.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp));
            udp.Bind(new IPEndPoint(TapNetns.LocalIp, 0));
            int kernelPort = ((IPEndPoint)udp.LocalEndPoint!).Port;
            udp.SendTo(Payload, new IPEndPoint(TapNetns.PeerIp, 9));

            // The kernel does not know 10.77.0.2 yet: it broadcasts who-has, which arrives in our vnet.
            (EthernetPacket request, Vnet? where) = rx.WaitFor(e => TapFrames.IsArpRequestFor(e, TapNetns.PeerIp), "kernel ARP request");
            Assert.Same(vnet.Vnet, where);
            Assert.Equal(TapFrames.Broadcast, request.DestinationHardwareAddress);
            Assert.Equal(TapNetns.LocalIp, request.Extract<ArpPacket>().SenderProtocolAddress);
            Assert.True(ifp.Counter(IfCounter.IFCOUNTER_IMCASTS) >= 1); // the driver flagged it M_BCAST

            // Answer it: the kernel then sends the queued datagram to our MAC.
            PhysicalAddress kernelMac = request.SourceHardwareAddress;
            Assert.True(Frames.Send(ifp, TapFrames.ArpReply(mac, TapNetns.PeerIp, kernelMac, TapNetns.LocalIp)));
            (EthernetPacket datagram, where) = rx.WaitFor(e => TapFrames.Ipv4To(e, TapNetns.PeerIp, PacketProtocol.Udp) is not null, "UDP datagram");
            Assert.Same(vnet.Vnet, where);
            Assert.Equal(mac, datagram.DestinationHardwareAddress);
            UdpPacket u = datagram.Extract<UdpPacket>();
            Assert.Equal(kernelPort, u.SourcePort);
            Assert.Equal(9, u.DestinationPort);
            Assert.Equal(Payload, u.PayloadData);

            // And back: datagrams from the vnet side reach the kernel's socket, whichever TX queue the flow hashes to.
            for (int i = 0; i < Flows; i++)
            {
                byte[] back = TapFrames.Udp(mac, kernelMac, TapNetns.PeerIp, TapNetns.LocalIp, 7000 + i, kernelPort, Encoding.ASCII.GetBytes($"reply {i}"));
                Assert.True(Frames.Send(ifp, back));
            }

            var got = new HashSet<string>();
            var buf = new byte[2048];
            udp.ReceiveTimeout = 5000;
            while (got.Count < Flows)
            {
                EndPoint from = new IPEndPoint(IPAddress.Any, 0);
                int n = udp.ReceiveFrom(buf, ref from);
                Assert.Equal(TapNetns.PeerIp, ((IPEndPoint)from).Address);
                got.Add(Encoding.ASCII.GetString(buf, 0, n));
            }

            Assert.Equal(Enumerable.Range(0, Flows).Select(i => $"reply {i}").ToHashSet(), got);
            Assert.True(nic.Device.Queue(0).TxFrames > 0 && nic.Device.Queue(1).TxFrames > 0,
                $"TX spread: q0={nic.Device.Queue(0).TxFrames} q1={nic.Device.Queue(1).TxFrames}");
        }
        finally
        {
            Destroy(ifp);
        }
    }

    [SkippableFact]
    public void DestroyRemovesTheKernelLinkStopsTheReadersAndLeaksNoBuffers()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        using var vnet = new TestVnet("tapnic-destroy");
        long baseline = MbufLeak.Baseline();
        TapDevice device = TapDevice.Create(TapNetns.NewTapName(), 3, ns.Name);
        string hostName = device.Name;
        Ifnet ifp;
        using (Curvnet.Set(vnet.Vnet))
        {
            ifp = TapCloner.CreateFor(device, unit: 5);
        }

        Assert.Equal("tap5", ifp.Name);
        TapNic nic = TapNic.Of(ifp)!;
        var rx = new FrameRecorder(ifp);
        HostUp(ns, nic);
        ifp.SetUp(true);
        var mac = new PhysicalAddress(ifp.Lladdr);
        rx.WaitFor(e => e.Extract<ArpPacket>() is { Operation: ArpOperation.Response }, "ARP reply",
            resend: () => Frames.Send(ifp, ArpRequest(mac, TapNetns.PeerIp, TapNetns.LocalIp)));
        for (int i = 0; i < 50; i++)
        {
            Frames.Send(ifp, TapFrames.Udp(mac, TapFrames.Broadcast, TapNetns.PeerIp, IPAddress.Parse("10.77.0.255"), 4000 + i, 9, Payload));
        }

        Assert.Equal(3, nic.ActiveReaders); // each idle reader holds the buffer it reads into

        using (Curvnet.Set(vnet.Vnet))
        {
            Ifnets.Destroy("tap5");
            Assert.Null(Ifnets.TryFind("tap5"));
        }

        Assert.True(ifp.IsDetached);
        Assert.Equal(0, nic.ActiveReaders); // destroy joins them
        Assert.Null(nic.ReaderError);
        Assert.Throws<ObjectDisposedException>(() => device.Queue(0));
        var show = ns.Ip("link", "show", hostName);
        Assert.True(show.Exit != 0, $"host link {hostName} still exists after destroy: {show.Out}");
        MbufLeak.AssertBack(baseline);

        // The unit is free again, and the device cannot be reused once closed.
        Assert.Throws<ObjectDisposedException>(() => TapCloner.CreateFor(device));
    }

    [SkippableFact]
    public void WritesTheKernelRefusesAreOutputErrorsAndFreeTheirBuffers()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        long baseline = MbufLeak.Baseline();
        Ifnet ifp;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            ifp = TapCloner.CreateFor(TapDevice.Create(TapNetns.NewTapName(), 1, ns.Name));
        }

        TapNic nic = TapNic.Of(ifp)!;
        try
        {
            ifp.SetUp(true);
            for (int i = 0; i < 5; i++)
            {
                Assert.True(Frames.Send(ifp, new byte[4])); // runt: write(2) says EINVAL
            }

            Assert.True(Frames.WaitFor(() => ifp.Counter(IfCounter.IFCOUNTER_OERRORS) == 5), $"oerrors {ifp.Counter(IfCounter.IFCOUNTER_OERRORS)}");
            Assert.Equal(5, nic.Device.Queue(0).TxErrors);
            Assert.Equal(22, nic.Device.Queue(0).LastErrno);
        }
        finally
        {
            Destroy(ifp);
        }

        MbufLeak.AssertBack(baseline);
    }

    [SkippableFact]
    public void BareDetachStillStopsTheReadersAndClosesTheDevice()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        Ifnet ifp;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            ifp = TapCloner.CreateFor(TapDevice.Create(TapNetns.NewTapName(), 2, ns.Name));
        }

        TapNic nic = TapNic.Of(ifp)!;
        string hostName = nic.Device.Name;
        Ifnets.Detach(ifp); // not through the cloner: the readers notice within a poll interval
        Assert.True(Frames.WaitFor(() => nic.ActiveReaders == 0, 5 * TapNic.ReaderPollMs + 2000), $"{nic.ActiveReaders} readers still running");
        Assert.True(Frames.WaitFor(() => ns.Ip("link", "show", hostName).Exit != 0, 5000), $"host link {hostName} survived the detach");
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Assert.Null(Ifnets.TryFind(ifp.Name));
        }
    }

#if VIMAGE
    [SkippableFact]
    public void DestroyingTheVnetDestroysItsTaps()
    {
        TapEnvironment.SkipIfUnsupported();
        using var ns = new TapNetns();
        Vnet jail = Vnet.Create("tapnic-jail");
        Ifnet ifp;
        using (Curvnet.Set(jail))
        {
            ifp = TapCloner.CreateFor(TapDevice.Create(TapNetns.NewTapName(), 1, ns.Name));
            Assert.Equal("tap0", ifp.Name);
        }

        TapNic nic = TapNic.Of(ifp)!;
        string hostName = nic.Device.Name;
        jail.Destroy();
        Assert.True(ifp.IsDetached);
        Assert.Equal(0, nic.ActiveReaders);
        Assert.True(ns.Ip("link", "show", hostName).Exit != 0, $"host link {hostName} survived its vnet");
    }
#endif

    [Fact]
    public void HostConfigIsValidated()
    {
        TapHostConfig saved = TapCloner.HostConfig;
        Assert.Equal(new TapHostConfig("vtap%d", null, 1), new TapHostConfig());
        Assert.Throws<ArgumentOutOfRangeException>(() => TapCloner.Configure(queues: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => TapCloner.Configure(queues: TapDevice.MaxQueues + 1));
        Assert.Throws<ArgumentException>(() => TapCloner.Configure(namePattern: "a-name-far-too-long%d"));
        Assert.Throws<ArgumentException>(() => TapCloner.Configure(netns: ""));
        Assert.Equal(saved, TapCloner.HostConfig);
        using (Curvnet.Set(Vnet.Vnet0))
        {
            Assert.Contains("tap", Ifnets.ClonerNames);
        }
    }

    private static void HostUp(TapNetns ns, TapNic nic)
    {
        ns.IpOk("link", "set", nic.Device.Name, "up");
        ns.IpOk("addr", "add", "10.77.0.1/24", "dev", nic.Device.Name);
    }

    private static void Destroy(Ifnet ifp)
    {
        if (!ifp.IsDetached)
        {
            using (Curvnet.Set(ifp.Vnet))
            {
                Ifnets.Destroy(ifp.Name);
            }
        }
    }

    private static string FormatMac(PhysicalAddress mac) =>
        string.Join(':', mac.GetAddressBytes().Select(b => b.ToString("x2")));

    /// <summary>"who-has <paramref name="targetIp"/> tell <paramref name="senderIp"/>", broadcast, padded to 60 bytes.</summary>
    private static byte[] ArpRequest(PhysicalAddress senderMac, IPAddress senderIp, IPAddress targetIp)
    {
        var f = new byte[60];
        TapFrames.Broadcast.GetAddressBytes().CopyTo(f, 0);
        senderMac.GetAddressBytes().CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 1); // request
        senderMac.GetAddressBytes().CopyTo(f, 22);
        senderIp.GetAddressBytes().CopyTo(f, 28);
        targetIp.GetAddressBytes().CopyTo(f, 38);                // target MAC stays zero
        return f;
    }

    /// <summary>A fresh vnet under VIMAGE (destroyed on dispose), vnet0 otherwise.</summary>
    private sealed class TestVnet(string name) : IDisposable
    {
        public Vnet Vnet { get; } = Vnet.IsVimage ? Vnet.Create(name) : Vnet.Vnet0;

        public void Dispose()
        {
            if (Vnet != Vnet.Vnet0 && Vnet.State == VnetState.Live)
            {
                Vnet.Destroy();
            }
        }
    }

    /// <summary>if_input for a tap interface: keeps a copy of each frame and the vnet it was delivered in.</summary>
    private sealed class FrameRecorder
    {
        private readonly BlockingCollection<(byte[] Frame, Vnet? Vnet)> _frames = new();

        public FrameRecorder(Ifnet ifp) => ifp.InputHandler = Handle;

        private void Handle(Ifnet ifp, Mbuf m)
        {
            _frames.Add((m.Data.ToArray(), Curvnet.Current));
            m.Free();
        }

        /// <summary>Waits for a frame <paramref name="match"/> accepts, calling <paramref name="resend"/> at once and then every 500 ms.</summary>
        public (EthernetPacket Packet, Vnet? Vnet) WaitFor(Func<EthernetPacket, bool> match, string what, Action? resend = null, int timeoutMs = 8000)
        {
            var seen = new List<string>();
            long deadline = Environment.TickCount64 + timeoutMs;
            long nextResend = 0;
            while (true)
            {
                long now = Environment.TickCount64;
                Assert.True(now < deadline, $"no {what} within {timeoutMs} ms; frames seen: [{string.Join("; ", seen)}]");
                if (resend is not null && now >= nextResend)
                {
                    resend();
                    nextResend = now + 500;
                }

                if (!_frames.TryTake(out var item, 50))
                {
                    continue;
                }

                var eth = new EthernetPacket(new ByteArraySegment(item.Frame));
                if (match(eth))
                {
                    return (eth, item.Vnet);
                }

                seen.Add($"{eth.Type} {item.Frame.Length}B");
            }
        }
    }
}
