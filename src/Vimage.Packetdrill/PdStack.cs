using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Inet;
using Vimage.Net.Stack;

namespace Vimage.Packetdrill;

/// <summary>
/// The stack under test: one vnet ("packetdrill"; vnet0 without VIMAGE) with tun0 (<see cref="PdTun"/>) holding the
/// local address and a route to packetdrill's remote network through it, on the stack's virtual clock. Options come
/// from packetdrill's --so_flags, as "key=value" words: local_ip (default 192.168.0.1, packetdrill's --local_ip),
/// gateway_ip (192.168.0.2) and remote_net (192.0.2.0/24, --remote_ip's network). An inbound packet for another
/// address of 192.168.0.0/16 (packetdrill picks a random local address when not given one) adds that address to
/// tun0 first (at most <see cref="MaxLearned"/> of them).
/// </summary>
internal sealed class PdStack
{
    public const int MaxLearned = 16;

    /// <summary>Longest a netdev_receive moves virtual time waiting for a packet (keepalive's 2 h and some).</summary>
    public const long MaxIdleAdvanceUs = 3L * 3600 * 1_000_000;

    private readonly HashSet<uint> _local = [];
    private readonly long _epochUs;

    public PdStack(string flags)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string word in flags.Split([' ', ',', ';', '\t'], StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = word.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                options[word[..eq]] = word[(eq + 1)..];
            }
        }

        Local = InAddr.Parse(options.GetValueOrDefault("local_ip", "192.168.0.1"));
        InAddr gateway = InAddr.Parse(options.GetValueOrDefault("gateway_ip", "192.168.0.2"));
        if (!InAddr.TryParsePrefix(options.GetValueOrDefault("remote_net", "192.0.2.0/24"), out InAddr remote, out int remoteLen, 24))
        {
            throw new ArgumentException("remote_net: not an IPv4 prefix");
        }

        NetStack.EnsureInitialized();
        NetTimers.UseVirtualClock();
        _epochUs = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000) - NetTimers.NowUs;
        Vnet = Vnet.IsVimage ? Vnet.Create("packetdrill") : Vnet.Vnet0;
        Tun = new PdTun();
        using (Curvnet.Set(Vnet))
        {
            Ifnet = Ifnets.Attach("tun0", IfType.IFT_PPP, Tun, [], IfFlags.IFF_POINTOPOINT | IfFlags.IFF_MULTICAST);
            Ifnet.SetUp(true);
            InAddrs.Add(Ifnet, Local, 16);
            _local.Add(Local.Value);
            Routes.AddGateway(new InAddr(remote.Value & InAddr.MaskOf(remoteLen)), remoteLen, gateway);
        }
    }

    public Vnet Vnet { get; }

    public Ifnet Ifnet { get; }

    public PdTun Tun { get; }

    public InAddr Local { get; }

    /// <summary>packetdrill's gettimeofday: the virtual clock, offset to wall time at start-up.</summary>
    public long WallUs => _epochUs + NetTimers.NowUs;

    /// <summary>netdev_send: a raw IPv4 packet into the stack (processed synchronously: net.isr direct).</summary>
    public int Inject(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < 20 || (packet[0] >> 4) != 4)
        {
            return -1;
        }

        if (InAddr.Read(packet[12..]).IsAny && InAddr.Read(packet[16..]).IsAny)
        {
            // packetdrill's zero tuple: it maps a socket's packets to live addresses only once the script listened
            // or connected on it (run_packet.c), so an inbound segment for a socket that only bound goes from and to
            // 0.0.0.0, which the stack would drop unseen (ips_cantforward) and the script would wait for an answer
            // that never comes. Refused with the reason instead.
            Console.Error.WriteLine("libvimage_packetdrill: netdev_send: packet from 0.0.0.0 to 0.0.0.0: packetdrill has no live "
                + "addresses for the socket under test (an inbound packet before listen or connect); listen (and close) a socket first");
            return -1;
        }

        using (Curvnet.Set(Vnet))
        {
            var dst = InAddr.Read(packet[16..]);
            if (!_local.Contains(dst.Value) && (dst.Value & 0xffff0000) == 0xc0a80000 && _local.Count < MaxLearned)
            {
                InAddrs.Add(Ifnet, dst, 32);
                _local.Add(dst.Value);
            }

            Mbuf? m = MbufPool.GetFor(packet.Length);
            if (m is null)
            {
                return -1;
            }

            packet.CopyTo(m.Append(packet.Length));
            Ifnet.Input(m);
        }

        return 0;
    }

    /// <summary>
    /// netdev_receive: the next packet the stack sent. While there is none, what other threads (a blocking call's)
    /// may still send gets a moment of real time; then virtual time moves to the next timer due and runs it, until
    /// a packet leaves or nothing is scheduled (or <see cref="MaxIdleAdvanceUs"/> passed): false.
    /// </summary>
    public bool Receive(out byte[] packet, out long wallUs)
    {
        long limit = NetTimers.NowUs + MaxIdleAdvanceUs;
        int idle = 0;
        while (true)
        {
            if (Tun.TryDequeue(idle == 0 ? 0 : 2, out packet, out long us))
            {
                wallUs = _epochUs + us;
                return true;
            }

            long next = NetTimers.NextDueUs();
            if (next == long.MaxValue || next > limit)
            {
                if (++idle > 100)
                {
                    wallUs = WallUs;
                    return false; // nothing will ever come out
                }

                continue;
            }

            if (idle++ < 3)
            {
                continue; // a short real wait first: another thread may be about to send
            }

            NetTimers.AdvanceTo(Math.Max(next, NetTimers.NowUs));
            idle = 1;
        }
    }
}
