using System.Buffers.Binary;
using System.Diagnostics;
using Vimage.Cli.Commands;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Arp;
using Vimage.Net.Inet;
using Vimage.Net.Sockets;
using Vimage.Net.Stack;
using Vimage.Net.Udp;

namespace Vimage.Fuzz.Targets;

/// <summary>
/// A stack for the packet targets: a vnet of its own (vnet0 without VIMAGE) with two Ethernet interfaces,
/// fuzz0 192.0.2.1/24 and fuzz1 198.51.100.1/24, forwarding on and no ICMP rate limit so every path is reachable.
/// Frames enter through if_input (<see cref="Ifnet.Input"/>) exactly as a driver delivers them; what the stack
/// sends goes to a driver that frees it at once. The harness's only calls into the stack are in this class.
/// </summary>
internal sealed class FuzzStack
{
    public static readonly byte[] Mac0 = [0x02, 0x00, 0x00, 0xf0, 0x00, 0x00];
    public static readonly byte[] Mac1 = [0x02, 0x00, 0x00, 0xf0, 0x00, 0x01];
    public static readonly byte[] PeerMac = [0x02, 0x00, 0x00, 0xf0, 0x00, 0x02];
    public static readonly InAddr Addr0 = InAddr.Parse("192.0.2.1");
    public static readonly InAddr Peer0 = InAddr.Parse("192.0.2.2");
    public static readonly InAddr Addr1 = InAddr.Parse("198.51.100.1");
    public static readonly InAddr Peer1 = InAddr.Parse("198.51.100.2");

    public const ushort SocketPort = 7;
    private static readonly string[] Knobs = ["net.inet.ip.accept_sourceroute", "net.inet.icmp.bmcastecho", "net.link.ether.inet.proxyall", "net.inet.udp.blackhole"];
    private int _knobs;
    private readonly long _baseline;
    private readonly UdpSocket _socket;
    private readonly byte[] _received = new byte[65_536];
    private readonly Ifnet[] _interfaces;

    public FuzzStack()
    {
        _baseline = Outstanding();
        Vnet = Vnet.IsVimage ? Vnet.Create("fuzz") : Vnet.Vnet0;
        using (Curvnet.Set(Vnet))
        {
            NetStack.EnsureInitialized();
            _interfaces =
            [
                Attach("fuzz0", Mac0, Addr0, Peer0),
                Attach("fuzz1", Mac1, Addr1, Peer1),
                Ifnets.Find("lo0"),
            ];
        }

        // A socket on port 7 takes unicast and broadcast datagrams (udp_append, udp_multi_input).
        _socket = UdpSocket.Create(Vnet);
        _socket.AllowBroadcast = true;
        _socket.Bind(InAddr.Any, SocketPort);
        Sysctl.Set("net.inet.ip.forwarding", 1, Vnet);
        Sysctl.Set("net.inet.icmp.icmplim", 0, Vnet);
    }

    public Vnet Vnet { get; }

    /// <summary>
    /// Sets the vnet's knobs that change what input does, one bit each: accept_sourceroute, icmp.bmcastecho,
    /// arp proxyall, udp.blackhole. Only changes are written.
    /// </summary>
    public void Configure(int knobs)
    {
        for (int bit = 0; bit < Knobs.Length; bit++)
        {
            int on = (knobs >> bit) & 1;
            if (on != ((_knobs >> bit) & 1))
            {
                Sysctl.Set(Knobs[bit], on, Vnet);
            }
        }

        _knobs = knobs & ((1 << Knobs.Length) - 1);
    }

    /// <summary>Delivers one frame (Ethernet, or bare IP for lo0) on interface 0, 1 or 2 (lo0).</summary>
    public void Input(int iface, ReadOnlySpan<byte> frame)
    {
        Mbuf? m = MbufPool.GetFor(frame.Length);
        if (m is null || !m.SetData(frame))
        {
            m?.Free();
            return;
        }

        using (Curvnet.Set(Vnet))
        {
            _interfaces[iface % _interfaces.Length].Input(m);
        }
    }

    /// <summary>Ends a run: fragments still waiting are dropped so no state carries into the next input.</summary>
    public void EndRun()
    {
        using (Curvnet.Set(Vnet))
        {
            IpReass.Drain();
        }

        while (_socket.QueuedDatagrams > 0)
        {
            _socket.Receive(_received, timeoutMs: 0);
        }
    }

    /// <summary>Removes everything this stack built and checks every packet buffer came back to the pool.</summary>
    public string? Teardown()
    {
        if (Environment.GetEnvironmentVariable("VIMAGE_FUZZ_STATS") is not null)
        {
            // How deep the inputs got: the stack's own counters (netstat -s), for tuning seeds and the harness.
            var context = new CommandContext(Vnet, Console.Out, Console.Error, new JailRegistry());
            CommandDispatcher.CreateDefault().Run(context, ["netstat", "-s"]);
        }

        _socket.Close();
        if (Vnet.IsVimage)
        {
            Vnet.Destroy();
        }
        else
        {
            using (Curvnet.Set(Vnet))
            {
                IpReass.Drain();
                Ifnets.Detach(_interfaces[0]);
                Ifnets.Detach(_interfaces[1]);
            }
        }

        // Buffers may still be crossing lo0's queue: wait for them, with a limit that fails the run.
        var clock = Stopwatch.StartNew();
        while (Outstanding() != _baseline && clock.ElapsedMilliseconds < 5_000)
        {
            Thread.Sleep(10);
        }

        long leaked = Outstanding() - _baseline;
        return leaked == 0 ? null : $"{leaked} packet buffers never came back to the pool";
    }

    /// <summary>Sets the IPv4 header checksum (when the header fits) so mutated packets get past ip_input's check.</summary>
    public static void FixIpChecksum(Span<byte> ip)
    {
        if (ip.Length < 20)
        {
            return;
        }

        int hlen = Math.Min((ip[0] & 0x0f) * 4, ip.Length);
        if (hlen < 12)
        {
            return;
        }

        ip[10] = ip[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Compute(ip[..hlen]));
    }

    /// <summary>Sets the ICMP or UDP checksum over what the packet holds, so the payload parsers get to run.</summary>
    public static void FixTransportChecksum(Span<byte> ip)
    {
        if (ip.Length < 20 || (ip[0] & 0x0f) * 4 is var hlen && (hlen < 20 || hlen > ip.Length))
        {
            return;
        }

        Span<byte> l4 = ip[hlen..Math.Min(ip.Length, Math.Max(hlen, BinaryPrimitives.ReadUInt16BigEndian(ip[2..])))];
        switch (ip[9])
        {
            case IpProto.Icmp when l4.Length >= 4:
                l4[2] = l4[3] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(l4[2..], Checksum.Compute(l4));
                break;
            case IpProto.Udp when l4.Length >= 8:
                l4[6] = l4[7] = 0;
                ulong pseudo = Checksum.PseudoHeader(InAddr.Read(ip[12..]), InAddr.Read(ip[16..]), IpProto.Udp, l4.Length);
                ushort sum = Checksum.Finish(Checksum.Sum(l4, pseudo));
                BinaryPrimitives.WriteUInt16BigEndian(l4[6..], sum == 0 ? (ushort)0xffff : sum);
                break;
        }
    }

    private static long Outstanding() => MbufPool.Clusters.Outstanding + MbufPool.Jumbo.Outstanding;

    private static Ifnet Attach(string name, byte[] mac, InAddr address, InAddr peer)
    {
        Ifnet ifp = Ifnets.Attach(name, IfType.IFT_ETHER, new SinkDriver(), mac, IfFlags.IFF_BROADCAST | IfFlags.IFF_SIMPLEX | IfFlags.IFF_MULTICAST);
        ifp.SetUp(true);
        InAddrs.Add(ifp, address, 24);
        ArpLayer.AddStatic(ifp, peer, PeerMac); // a resolved neighbour: forwarded packets leave at once
        return ifp;
    }

    /// <summary>A driver whose wire is a sink: it counts what leaves and frees it.</summary>
    private sealed class SinkDriver : IIfDriver
    {
        public string DriverName => "fuzz";

        public int Transmit(Ifnet ifp, Mbuf m)
        {
            ifp.CountOutput(m.Length, (m.Flags & (MbufFlags.Broadcast | MbufFlags.Multicast)) != 0);
            m.Free();
            return 0;
        }

        public void Init(Ifnet ifp) => ifp.SetRunning(true);

        public void Stop(Ifnet ifp) => ifp.SetRunning(false);

        public void Detach(Ifnet ifp)
        {
        }
    }
}
