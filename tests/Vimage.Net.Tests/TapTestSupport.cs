using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using PacketDotNet;
using PacketDotNet.Utils;
using Vimage.Net.Tap;

namespace Vimage.Net.Tests;

/// <summary>What the TAP tests need from the machine; a non-null reason means skip (with that message).</summary>
internal static class TapEnvironment
{
    private static readonly Lazy<string?> s_skipReason = new(Probe);

    public static string? SkipReason => s_skipReason.Value;

    public static void SkipIfUnsupported() => Skip.If(SkipReason is not null, SkipReason);

    public static bool HasCommand(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, name)));

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
            return "TAP tests need Linux";
        if (!TapDevice.IsSupported)
            return $"TAP not usable here: {TapDevice.UnsupportedReason} (needs root and /dev/net/tun)";
        if (!HasCommand("ip"))
            return "TAP tests need the 'ip' command (iproute2; scripts/setup.sh installs it)";
        return null;
    }

    public static (int Exit, string Out, string Err) Run(string file, params string[] args) =>
        RunAsync(file, args).GetAwaiter().GetResult();

    public static async Task<(int Exit, string Out, string Err)> RunAsync(string file, string[] args, int timeoutMs = 10_000)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeoutMs);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeoutMs} ms");
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}

/// <summary>
/// A throw-away network namespace (<c>vimage-tap-XXXXXXXX</c>) created with <c>ip netns add</c> and deleted with
/// <c>ip netns del</c> on dispose, whatever happened in between.
/// </summary>
internal sealed class TapNetns : IDisposable
{
    public static readonly IPAddress LocalIp = IPAddress.Parse("10.77.0.1");
    public static readonly IPAddress PeerIp = IPAddress.Parse("10.77.0.2");
    public static readonly PhysicalAddress PeerMac = PhysicalAddress.Parse("02-00-00-00-00-02");

    public TapNetns()
    {
        Name = "vimage-tap-" + Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next())).ToLowerInvariant();
        var r = TapEnvironment.Run("ip", "netns", "add", Name);
        if (r.Exit != 0)
            throw new InvalidOperationException($"ip netns add {Name} failed ({r.Exit}): {r.Err}");
    }

    public string Name { get; }

    /// <summary>Runs <c>ip -n NAME args...</c>.</summary>
    public (int Exit, string Out, string Err) Ip(params string[] args) =>
        TapEnvironment.Run("ip", ["-n", Name, .. args]);

    public string IpOk(params string[] args)
    {
        var r = Ip(args);
        Assert.True(r.Exit == 0, $"ip -n {Name} {string.Join(' ', args)} failed ({r.Exit}): {r.Err}");
        return r.Out;
    }

    /// <summary>A fresh unique tap name (the namespace is private, but unique names make failures easier to read).</summary>
    public static string NewTapName() => "vtap" + Random.Shared.Next(0, 1 << 24).ToString("x6");

    /// <summary>Creates a tap in this namespace, brings it up with 10.77.0.1/24.</summary>
    public TapDevice CreateUpTap(int queues)
    {
        var tap = TapDevice.Create(NewTapName(), queues, Name);
        try
        {
            IpOk("link", "set", tap.Name, "up");
            IpOk("addr", "add", "10.77.0.1/24", "dev", tap.Name);
            return tap;
        }
        catch
        {
            tap.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        var r = TapEnvironment.Run("ip", "netns", "del", Name);
        if (r.Exit != 0)
            Console.Error.WriteLine($"warning: ip netns del {Name} failed ({r.Exit}): {r.Err}");
    }
}

/// <summary>Reads from a tap until a frame matches, and builds frames by hand (no PacketDotNet on the write side).</summary>
internal static class TapFrames
{
    public static readonly PhysicalAddress Broadcast = PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF");

    /// <summary>Reads frames from all queues until <paramref name="match"/> accepts one (IPv6 chatter etc. is skipped).</summary>
    public static (byte[] Bytes, EthernetPacket Packet, int Queue) ReadUntil(
        TapDevice tap, Func<EthernetPacket, bool> match, string what, int timeoutMs = 5000)
    {
        var buf = new byte[65536];
        var seen = new List<string>();
        long deadline = Environment.TickCount64 + timeoutMs;
        while (true)
        {
            long left = deadline - Environment.TickCount64;
            Assert.True(left > 0, $"no {what} within {timeoutMs} ms; frames seen: [{string.Join("; ", seen)}]");
            int n = tap.ReadAny(buf, (int)left, out int queue);
            if (n == 0)
                continue;
            byte[] bytes = buf.AsSpan(0, n).ToArray();
            var eth = new EthernetPacket(new ByteArraySegment(bytes));
            if (match(eth))
                return (bytes, eth, queue);
            seen.Add($"q{queue} {eth.Type} {n}B");
        }
    }

    public static bool IsArpRequestFor(EthernetPacket eth, IPAddress target) =>
        eth.Type == EthernetType.Arp
        && eth.Extract<ArpPacket>() is { Operation: ArpOperation.Request } arp
        && arp.TargetProtocolAddress.Equals(target);

    public static IPv4Packet? Ipv4To(EthernetPacket eth, IPAddress dst, ProtocolType proto) =>
        eth.Type == EthernetType.IPv4 && eth.Extract<IPv4Packet>() is { } ip
            && ip.DestinationAddress.Equals(dst) && ip.Protocol == proto ? ip : null;

    /// <summary>ARP reply "<paramref name="senderIp"/> is-at <paramref name="senderMac"/>", to the requester, padded to 60 bytes.</summary>
    public static byte[] ArpReply(PhysicalAddress senderMac, IPAddress senderIp, PhysicalAddress targetMac, IPAddress targetIp)
    {
        var f = new byte[60];
        targetMac.GetAddressBytes().CopyTo(f, 0);
        senderMac.GetAddressBytes().CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);      // htype Ethernet
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800); // ptype IPv4
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 2);      // reply
        senderMac.GetAddressBytes().CopyTo(f, 22);
        senderIp.GetAddressBytes().CopyTo(f, 28);
        targetMac.GetAddressBytes().CopyTo(f, 32);
        targetIp.GetAddressBytes().CopyTo(f, 38);
        return f;
    }

    /// <summary>Ethernet + IPv4 + UDP (checksum 0, which IPv4 allows).</summary>
    public static byte[] Udp(PhysicalAddress srcMac, PhysicalAddress dstMac, IPAddress srcIp, IPAddress dstIp,
        int srcPort, int dstPort, ReadOnlySpan<byte> payload)
    {
        var f = new byte[14 + 20 + 8 + payload.Length];
        dstMac.GetAddressBytes().CopyTo(f, 0);
        srcMac.GetAddressBytes().CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)Random.Shared.Next(1, 65536));
        ip[8] = 64;
        ip[9] = 17;
        srcIp.GetAddressBytes().CopyTo(ip[12..]);
        dstIp.GetAddressBytes().CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum(ip));
        Span<byte> udp = f.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)srcPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)dstPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + payload.Length));
        payload.CopyTo(udp[8..]);
        return f;
    }

    /// <summary>Turns an Ethernet/IPv4/ICMP echo request into the matching echo reply from <paramref name="replierMac"/>.</summary>
    public static byte[] EchoReplyFor(ReadOnlySpan<byte> request, PhysicalAddress replierMac)
    {
        byte[] f = request.ToArray();
        request.Slice(6, 6).CopyTo(f);                 // back to the sender
        replierMac.GetAddressBytes().CopyTo(f, 6);
        int ihl = (f[14] & 0x0f) * 4;
        Span<byte> ip = f.AsSpan(14, ihl);
        request.Slice(14 + 12, 4).CopyTo(ip[16..]);    // swap addresses
        request.Slice(14 + 16, 4).CopyTo(ip[12..]);
        ip[8] = 64;
        ip[10] = ip[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum(ip));
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        Span<byte> icmp = f.AsSpan(14 + ihl, total - ihl);
        icmp[0] = 0;                                   // echo reply
        icmp[2] = icmp[3] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum(icmp));
        return f;
    }

    public static ushort InternetChecksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length)
            sum += (uint)data[i] << 8;
        while (sum > 0xffff)
            sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
