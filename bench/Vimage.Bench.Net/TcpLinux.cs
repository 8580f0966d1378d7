using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Vimage.Bench.Net;

/// <summary>
/// The Linux side of the tcp mode: namespaces <c>vbench-ta-PID</c> (192.0.2.1/24 and 192.0.2.3/24) and
/// <c>vbench-tb-PID</c> (192.0.2.2/24) joined by a veth pair; System.Net.Sockets.Socket's blocking calls, every
/// socket created on a thread inside its namespace. A's ephemeral range is set to FreeBSD's 10000-65535.
/// </summary>
internal sealed class TcpLinux : TcpSide
{
    /// <summary>The slab caches an idle TCP socket with a file descriptor occupies (the struct tcp_sock, the socket inode, its dentry and struct file).</summary>
    private static readonly string[] SlabCaches = ["TCP", "sock_inode_cache", "dentry", "filp", "eventpoll_epi"];
    private static readonly IPAddress AddrB = IPAddress.Parse("192.0.2.2");
    private static readonly IPAddress[] Clients = [IPAddress.Parse("192.0.2.1"), IPAddress.Parse(SecondClient)];
    private readonly NetnsPair _pair;

    private TcpLinux(NetnsPair pair)
    {
        _pair = pair;
        Description = $"veth {pair.IfA} 192.0.2.1/24 + 192.0.2.3/24 in netns {pair.NsA} <-> {pair.IfB} 192.0.2.2/24 in netns {pair.NsB}, kernel {NetnsPair.KernelRelease()}, " +
            $"cc {NetnsPair.InNetns(pair.NsA, () => Read("/proc/sys/net/ipv4/tcp_congestion_control"))}, tcp_rmem {Read("/proc/sys/net/ipv4/tcp_rmem")}, tcp_wmem {Read("/proc/sys/net/ipv4/tcp_wmem")}, " +
            $"veth offloads default (GSO/GRO on), RLIMIT_NOFILE {Native.NoFileLimit()}";
    }

    public override string Name => "linux";

    public override int MaxConnections => (int)Math.Min(int.MaxValue, (Native.NoFileLimit() - 1000) / 2); // each is 2 descriptors; 1,000 spare for the runtime

    public override string Description { get; }

    public override string MemoryParts => "kernel slab objects of the caches " + string.Join(", ", SlabCaches) +
        " (active objects x object size, /proc/slabinfo, machine-wide) + sockstat TCP mem pages + GC.GetTotalMemory(true) (the Socket objects)";

    /// <summary>Creates the namespaces, or returns null with the reason the baseline cannot run.</summary>
    public static TcpLinux? TryCreate(out string reason)
    {
        NetnsPair? pair = NetnsPair.TryCreate("vbench-t", "vt", "sockets in them", null, null, "192.0.2.1/24", "192.0.2.2/24", p =>
        {
            NetnsPair.Ip($"-n {p.NsA} addr add {SecondClient}/24 dev {p.IfA}");
            NetnsPair.TryRun("ip", $"netns exec {p.NsA} sysctl -qw net.ipv4.ip_local_port_range=\"10000 65535\"");

            _ = Native.RaiseNoFileLimit(250_000); // 100,000 connections are 200,000 descriptors
        }, out reason);
        return pair is null ? null : new TcpLinux(pair);
    }

    public override IBenchSocket Listen(ushort port, int backlog) => NetnsPair.InNetns(_pair.NsB, () =>
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        s.Bind(new IPEndPoint(IPAddress.Any, port));
        s.Listen(backlog);
        return (IBenchSocket)new Sock(s);
    });

    public override IBenchSocket Connect(ushort port, int client = 0)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (client != 0)
            {
                s.Bind(new IPEndPoint(Clients[client], 0));
            }

            s.Connect(new IPEndPoint(AddrB, port));
            return new Sock(s);
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    public override T OnClient<T>(Func<T> body) => NetnsPair.InNetns(_pair.NsA, body);

    public override (long Bytes, string Parts) Memory()
    {
        long heap = GC.GetTotalMemory(forceFullCollection: true);
        long slab = 0;
        var parts = new List<string>();
        foreach (string line in File.ReadLines("/proc/slabinfo"))
        {
            string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length > 3 && SlabCaches.Contains(f[0]))
            {
                long bytes = long.Parse(f[1], CultureInfo.InvariantCulture) * long.Parse(f[3], CultureInfo.InvariantCulture);
                slab += bytes;
                parts.Add($"{f[0]} {f[1]} x {f[3]} B");
            }
        }

        long mem = Sockstat(_pair.NsA, "mem") * Environment.SystemPageSize; // tcp_memory_allocated: global, in pages
        return (slab + mem + heap, $"slab {slab:N0} B ({string.Join(", ", parts)}), sockstat TCP mem {mem:N0} B, managed heap {heap:N0} B");
    }

    public override (long A, long B) TimeWait() => (Sockstat(_pair.NsA, "tw"), Sockstat(_pair.NsB, "tw"));

    public override (long Sent, long Retransmitted) Segments()
        => (Snmp(_pair.NsA, "OutSegs"), Snmp(_pair.NsA, "RetransSegs"));

    public override void Dispose() => _pair.Dispose();

    /// <summary>A field of the "TCP:" line of /proc/net/sockstat inside <paramref name="ns"/> (inuse/tw per namespace, mem global).</summary>
    private static long Sockstat(string ns, string field)
    {
        string line = NetnsPair.InNetns(ns, () => File.ReadLines("/proc/thread-self/net/sockstat").First(l => l.StartsWith("TCP:", StringComparison.Ordinal)));
        string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int i = Array.IndexOf(f, field);
        return i > 0 && i + 1 < f.Length ? long.Parse(f[i + 1], CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>A field of the Tcp: lines of /proc/net/snmp inside <paramref name="ns"/>.</summary>
    private static long Snmp(string ns, string field)
    {
        string[][] tcp = NetnsPair.InNetns(ns, () => File.ReadAllLines("/proc/thread-self/net/snmp"))
            .Where(l => l.StartsWith("Tcp:", StringComparison.Ordinal)).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        int i = Array.IndexOf(tcp[0], field);
        return i > 0 && tcp.Length > 1 ? long.Parse(tcp[1][i], CultureInfo.InvariantCulture) : 0;
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim().Replace('\t', ' ');
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private sealed class Sock(Socket s) : IBenchSocket
    {
        public int Send(ReadOnlySpan<byte> data) => s.Send(data);

        public int Receive(Span<byte> buffer) => s.Receive(buffer);

        public IBenchSocket Accept() => new Sock(s.Accept());

        public void SetNoDelay() => s.NoDelay = true;

        public void Dispose() => s.Dispose();
    }
}
