using Vimage.Net.Sockets;

namespace Vimage.Net.Inet;

/// <summary>The addresses of a PCB (inp_inc): replaced as a whole on bind/connect so readers never see half an update.</summary>
public sealed record PcbEnds(InAddr Local, ushort LocalPort, InAddr Foreign, ushort ForeignPort)
{
    public static readonly PcbEnds Unbound = new(InAddr.Any, 0, InAddr.Any, 0);

    public bool IsBound => LocalPort != 0;

    public bool IsConnected => ForeignPort != 0;
}

/// <summary>
/// struct inpcb (netinet/in_pcb.c): the inet control block of one socket (its so_pcb), shared by every inet
/// transport: the addresses, the socket and the IP-level options (IP_TTL, IP_TOS). Found through its protocol's
/// <see cref="InPcbInfo"/>.
/// </summary>
public sealed class InPcb(Socket socket, InPcbInfo info)
{
    private volatile PcbEnds _ends = PcbEnds.Unbound;

    public Socket Socket { get; } = socket;

    /// <summary>inp_pcbinfo.</summary>
    public InPcbInfo Info { get; } = info;

    public PcbEnds Ends
    {
        get => _ends;
        set => _ends = value;
    }

    /// <summary>SO_REUSEADDR: a specific address may be bound beside a wildcard one on the same port.</summary>
    public bool ReuseAddress => (Socket.Options & SoOptions.SO_REUSEADDR) != 0;

    /// <summary>SO_REUSEPORT: the same address and port may be bound by several sockets that all set it.</summary>
    public bool ReusePort => (Socket.Options & SoOptions.SO_REUSEPORT) != 0;

    /// <summary>inp_ip_ttl (IP_TTL); 0 uses net.inet.ip.ttl.</summary>
    public byte Ttl { get; set; }

    /// <summary>inp_ip_tos (IP_TOS).</summary>
    public byte Tos { get; set; }

    /// <summary>inp_ip_p: a raw socket's protocol (0: every protocol).</summary>
    public int Protocol { get; init; }

    /// <summary>INP_HDRINCL (IP_HDRINCL): a raw socket's sends carry their own IP header.</summary>
    public bool HeaderIncluded { get; set; }

    /// <summary>inp_ppcb: the transport's own control block (TCP's tcpcb), which upper layers reach without Inet naming them.</summary>
    public object? Ppcb { get; set; }

    /// <summary>INP_TIMEWAIT: the connection waits out 2·MSL; a bind with SO_REUSEADDR may take its address and port.</summary>
    public bool TimeWait { get; set; }
}

/// <summary>An exact 4-tuple (the connection hash's key).</summary>
internal readonly record struct PcbKey(uint Local, ushort LocalPort, uint Foreign, ushort ForeignPort);

/// <summary>
/// struct inpcbinfo (one per protocol per vnet: V_udbinfo, later V_tcbinfo): every PCB is listed from socket
/// creation (inp_list) so the vnet's destructor can close what is left; bound ones sit in a port hash whose
/// buckets are immutable arrays replaced under the write lock, so input looks sockets up without locking or
/// allocating. With the 4-tuple hash (TCP), connected PCBs live there and not in those buckets (FreeBSD's
/// ipi_hash_exact vs ipi_hash_wild), so 100,000 connections accepted on one port neither make every SYN scan
/// them nor make each accept copy them; bind's checks see every bound PCB in <c>_ports</c> (ipi_porthashbase). Ephemeral ports come from net.inet.ip.portrange.first/last, sequentially or at a random start
/// (net.inet.ip.portrange.randomized), as in_pcb_lport_dest does.
/// </summary>
public sealed class InPcbInfo
{
    private const int HashSize = 256;

    // Until the first bind the port hash is this shared empty one (never written): most vnets' raw and UDP tables
    // never hold a bound PCB, so the buckets are made by the first bind.
    private static readonly InPcb[]?[] NoBuckets = new InPcb[]?[HashSize];
    private readonly object _lock = new();
    private InPcb[]?[] _hash = NoBuckets;
    private readonly HashSet<InPcb> _all = [];

    // in_pcbinfo's port hash (ipi_porthashbase): every bound PCB by local port, for bind's conflict checks; under _lock.
    private readonly Dictionary<ushort, HashSet<InPcb>> _ports = [];
    private int _lastPort;
    private bool _dead;

    // in_pcbinfo's connection hash (ipi_hash_exact): connected PCBs by 4-tuple, read lock-free by input.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<PcbKey, InPcb>? _exact;

    /// <summary>A table; <paramref name="exactHash"/> adds the 4-tuple hash a connection-oriented protocol looks segments up in.</summary>
    public InPcbInfo(bool exactHash = false)
    {
        if (exactHash)
        {
            _exact = new System.Collections.Concurrent.ConcurrentDictionary<PcbKey, InPcb>(); // grows with the connections
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _all.Count;
            }
        }
    }

    /// <summary>in_pcblist's walk: a copy of every PCB of the table (netstat, sockstat).</summary>
    public InPcb[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _all];
        }
    }

    /// <summary>in_pcballoc: false once the vnet is being torn down.</summary>
    public bool Attach(InPcb pcb)
    {
        lock (_lock)
        {
            if (_dead)
            {
                return false;
            }

            _all.Add(pcb);
            return true;
        }
    }

    /// <summary>in_pcbdetach + in_pcbremlists.</summary>
    public void Detach(InPcb pcb)
    {
        lock (_lock)
        {
            _all.Remove(pcb);
            RemoveFromHash(pcb);
            RemoveExact(pcb);
        }
    }

    /// <summary>Marks the table dead and empties it; the caller closes the sockets returned.</summary>
    public InPcb[] DetachAll()
    {
        lock (_lock)
        {
            _dead = true;
            InPcb[] all = [.. _all];
            _all.Clear();
            Volatile.Write(ref _hash, NoBuckets);
            _ports.Clear();
            _exact?.Clear();
            return all;
        }
    }

    /// <summary>in_pcbladdr: the source address for <paramref name="dst"/> (ENETUNREACH without a route).</summary>
    public static int SelectSource(InAddr dst, int fib, out InAddr src)
    {
        src = InAddr.Any;
        if (!InAddrs.IsBroadcast(dst) && InAddrs.IsLocal(dst))
        {
            src = dst; // ourselves: the host route's address
            return 0;
        }

        Rtentry? route = Routes.Lookup(fib, dst);
        if (route is null)
        {
            return Errno.ENETUNREACH;
        }

        src = InAddrs.SourceFor(route.Interface, dst);
        if (src.IsAny)
        {
            src = InAddrs.All.FirstOrDefault()?.Address ?? InAddr.Any;
        }

        return src.IsAny ? Errno.EADDRNOTAVAIL : 0;
    }

    /// <summary>
    /// in_pcbconnect: picks the source address for <paramref name="dst"/> when the PCB has none (in_pcbladdr), binds
    /// an ephemeral port when it is unbound, then fixes the 4-tuple (<see cref="Connect"/>). Returns 0 or an errno.
    /// </summary>
    public int PcbConnect(InPcb pcb, InAddr dst, ushort dport)
    {
        PcbEnds ends = pcb.Ends;
        InAddr local = ends.Local;
        if (local.IsAny)
        {
            int e = SelectSource(dst, pcb.Socket.Fib, out local);
            if (e != 0)
            {
                return e;
            }
        }

        if (!ends.IsBound)
        {
            int e = Bind(pcb, InAddr.Any, 0);
            if (e != 0)
            {
                return e;
            }
        }

        return Connect(pcb, local, dst, dport);
    }

    /// <summary>in_pcbbind: port 0 picks an ephemeral port. Returns 0 or an errno (EADDRINUSE, EADDRNOTAVAIL, EINVAL).</summary>
    public int Bind(InPcb pcb, InAddr local, ushort port)
    {
        lock (_lock)
        {
            if (_dead)
            {
                return Errno.EINVAL;
            }

            if (pcb.Ends.IsBound)
            {
                return Errno.EINVAL;
            }

            if (port == 0)
            {
                int error = AllocatePort(local, pcb, out port);
                if (error != 0)
                {
                    return error;
                }
            }
            else if (Conflicts(local, port, pcb.ReuseAddress, pcb.ReusePort, pcb))
            {
                return Errno.EADDRINUSE;
            }

            pcb.Ends = new PcbEnds(local, port, InAddr.Any, 0);
            AddToHash(pcb, port);
            return 0;
        }
    }

    /// <summary>
    /// in_pcb_lport_dest: the next free port of net.inet.ip.portrange.first..last after the last one handed out
    /// (from a random point when portrange.randomized is set); EADDRNOTAVAIL when the whole range is taken.
    /// </summary>
    private int AllocatePort(InAddr local, InPcb pcb, out ushort port)
    {
        int first = PortRange.First, last = PortRange.Last;
        if (first > last)
        {
            (first, last) = (last, first);
        }

        int count = last - first;
        if (PortRange.Randomized && last > first)
        {
            _lastPort = first + Random.Shared.Next(last - first);
        }

        while (count-- >= 0)
        {
            _lastPort++;
            if (_lastPort < first || _lastPort > last)
            {
                _lastPort = first;
            }

            if (!Conflicts(local, (ushort)_lastPort, reuseAddress: false, reusePort: false, self: pcb))
            {
                port = (ushort)_lastPort;
                return 0;
            }
        }

        port = 0;
        return Errno.EADDRNOTAVAIL; // the range is exhausted
    }

    /// <summary>in_pcbconnect's final step: the PCB (already bound) gets its foreign end and local address. EADDRINUSE if the 4-tuple exists.</summary>
    public int Connect(InPcb pcb, InAddr local, InAddr foreign, ushort foreignPort)
    {
        lock (_lock)
        {
            if (_dead)
            {
                return Errno.EINVAL;
            }

            PcbEnds ends = pcb.Ends;
            InPcb[]? bucket = _exact is null ? _hash[ends.LocalPort & (HashSize - 1)] : null; // the 4-tuple hash checks it below
            foreach (InPcb other in bucket ?? [])
            {
                PcbEnds o = other.Ends;
                if (other != pcb && o.LocalPort == ends.LocalPort && o.Local == local && o.Foreign == foreign && o.ForeignPort == foreignPort)
                {
                    return Errno.EADDRINUSE;
                }
            }

            var connected = new PcbEnds(local, ends.LocalPort, foreign, foreignPort);
            if (_exact is not null && !_exact.TryAdd(new PcbKey(local.Value, ends.LocalPort, foreign.Value, foreignPort), pcb))
            {
                return Errno.EADDRINUSE;
            }

            if (_exact is not null)
            {
                RemoveFromBucket(pcb, ends.LocalPort); // connected: found through the 4-tuple hash from now on
            }

            pcb.Ends = connected;
            return 0;
        }
    }

    /// <summary>
    /// in_pcbinshash for a connection made by a listener (syncache_socket): bound and connected in one step, in the
    /// port hash and the 4-tuple hash. EADDRINUSE when that 4-tuple exists.
    /// </summary>
    public int InsertConnected(InPcb pcb, InAddr local, ushort localPort, InAddr foreign, ushort foreignPort)
    {
        lock (_lock)
        {
            if (_dead || pcb.Ends.IsBound)
            {
                return Errno.EINVAL;
            }

            if (_exact is not null && !_exact.TryAdd(new PcbKey(local.Value, localPort, foreign.Value, foreignPort), pcb))
            {
                return Errno.EADDRINUSE;
            }

            pcb.Ends = new PcbEnds(local, localPort, foreign, foreignPort);
            AddToPort(pcb, localPort); // not in the buckets: input finds it through the 4-tuple hash
            return 0;
        }
    }

    /// <summary>in_pcbdrop: out of the lookup tables (still listed until detached), so no segment finds it again.</summary>
    public void Unhash(InPcb pcb)
    {
        lock (_lock)
        {
            RemoveFromHash(pcb);
            RemoveExact(pcb);
        }
    }

    /// <summary>The connected PCB of this exact 4-tuple (src = the segment's source, the PCB's foreign end); lock-free.</summary>
    public InPcb? LookupExact(InAddr src, ushort sport, InAddr dst, ushort dport)
        => _exact is not null && _exact.TryGetValue(new PcbKey(dst.Value, dport, src.Value, sport), out InPcb? pcb) ? pcb : null;

    /// <summary>in_pcblookup_hash's wildcard step: an unconnected (listening) PCB bound to <paramref name="dst"/>, else to the wildcard.</summary>
    public InPcb? LookupListener(InAddr dst, ushort dport)
    {
        InPcb[]? bucket = Volatile.Read(ref _hash[dport & (HashSize - 1)]);
        if (bucket is null)
        {
            return null;
        }

        InPcb? wildcard = null;
        foreach (InPcb pcb in bucket)
        {
            PcbEnds e = pcb.Ends;
            if (e.LocalPort != dport || e.IsConnected)
            {
                continue;
            }

            if (e.Local == dst)
            {
                return pcb;
            }

            if (e.Local.IsAny)
            {
                wildcard ??= pcb;
            }
        }

        return wildcard;
    }

    private void RemoveExact(InPcb pcb)
    {
        PcbEnds e = pcb.Ends;
        if (_exact is not null && e.IsConnected)
        {
            var key = new PcbKey(e.Local.Value, e.LocalPort, e.Foreign.Value, e.ForeignPort);
            if (_exact.TryGetValue(key, out InPcb? found) && found == pcb)
            {
                _exact.TryRemove(key, out _);
            }
        }
    }

    /// <summary>udp_disconnect: the foreign end goes and the local address reverts to the wildcard (as in BSD).</summary>
    public void Disconnect(InPcb pcb)
    {
        lock (_lock)
        {
            PcbEnds ends = pcb.Ends;
            pcb.Ends = new PcbEnds(InAddr.Any, ends.LocalPort, InAddr.Any, 0);
        }
    }

    /// <summary>
    /// in_pcblookup_hash for unicast input: the connected socket of the exact 4-tuple first, then a socket bound to
    /// the destination address, then one bound to the wildcard. Lock-free and allocation-free.
    /// </summary>
    public InPcb? Lookup(InAddr src, ushort sport, InAddr dst, ushort dport)
    {
        InPcb[]? bucket = Volatile.Read(ref _hash[dport & (HashSize - 1)]);
        if (bucket is null)
        {
            return null;
        }

        InPcb? exactLocal = null, wildcard = null;
        foreach (InPcb pcb in bucket)
        {
            PcbEnds e = pcb.Ends;
            if (e.LocalPort != dport)
            {
                continue;
            }

            if (e.IsConnected)
            {
                if (e.Foreign == src && e.ForeignPort == sport && (e.Local.IsAny || e.Local == dst))
                {
                    return pcb;
                }

                continue;
            }

            if (e.Local == dst)
            {
                exactLocal ??= pcb;
            }
            else if (e.Local.IsAny)
            {
                wildcard ??= pcb;
            }
        }

        return exactLocal ?? wildcard;
    }

    /// <summary>in_pcblookup without INPLOOKUP_WILDCARD: only a connected socket of the exact 4-tuple (ctlinput).</summary>
    public InPcb? LookupConnected(InAddr foreign, ushort fport, InAddr local, ushort lport)
    {
        if (_exact is not null)
        {
            return LookupExact(foreign, fport, local, lport); // connected PCBs are not in the buckets
        }

        InPcb[]? bucket = Volatile.Read(ref _hash[lport & (HashSize - 1)]);
        foreach (InPcb pcb in bucket ?? [])
        {
            PcbEnds e = pcb.Ends;
            if (e.LocalPort == lport && e.IsConnected && e.Foreign == foreign && e.ForeignPort == fport && (e.Local.IsAny || e.Local == local))
            {
                return pcb;
            }
        }

        return null;
    }

    /// <summary>The PCBs hashed with <paramref name="port"/> (callers check the port): udp_multi_input walks it. With the 4-tuple hash, the unconnected ones only.</summary>
    public ReadOnlySpan<InPcb> Bucket(ushort port) => Volatile.Read(ref _hash[port & (HashSize - 1)]);

    /// <summary>
    /// in_pcblookup_local with FreeBSD's rules: without SO_REUSEADDR a wildcard and a specific address on the same
    /// port conflict; identical addresses conflict unless both sockets set SO_REUSEPORT.
    /// </summary>
    private bool Conflicts(InAddr local, ushort port, bool reuseAddress, bool reusePort, InPcb self)
    {
        if (!_ports.TryGetValue(port, out HashSet<InPcb>? group))
        {
            return false;
        }

        foreach (InPcb other in group)
        {
            PcbEnds o = other.Ends;
            if (other == self || o.LocalPort != port)
            {
                continue;
            }

            if (other.TimeWait && reuseAddress)
            {
                continue; // in_pcbbind_setup: SO_REUSEADDR takes over an address a connection in TIME_WAIT holds
            }

            if (o.Local == local)
            {
                if (!(reusePort && other.ReusePort))
                {
                    return true;
                }
            }
            else if ((o.Local.IsAny || local.IsAny) && !reuseAddress && !reusePort)
            {
                return true;
            }
        }

        return false;
    }

    private void AddToHash(InPcb pcb, ushort port)
    {
        if (ReferenceEquals(_hash, NoBuckets))
        {
            Volatile.Write(ref _hash, new InPcb[]?[HashSize]); // under _lock: one writer
        }

        AddToPort(pcb, port);
        ref InPcb[]? slot = ref _hash[port & (HashSize - 1)];
        Volatile.Write(ref slot, [.. slot ?? [], pcb]);
    }

    private void AddToPort(InPcb pcb, ushort port)
    {
        if (!_ports.TryGetValue(port, out HashSet<InPcb>? group))
        {
            _ports[port] = group = [];
        }

        group.Add(pcb);
    }

    private void RemoveFromHash(InPcb pcb)
    {
        PcbEnds e = pcb.Ends;
        if (!e.IsBound)
        {
            return;
        }

        if (_ports.TryGetValue(e.LocalPort, out HashSet<InPcb>? group) && group.Remove(pcb) && group.Count == 0)
        {
            _ports.Remove(e.LocalPort);
        }

        RemoveFromBucket(pcb, e.LocalPort);
    }

    private void RemoveFromBucket(InPcb pcb, ushort port)
    {
        ref InPcb[]? slot = ref _hash[port & (HashSize - 1)];
        if (slot is null || Array.IndexOf(slot, pcb) < 0)
        {
            return;
        }

        InPcb[] rest = slot.Where(p => p != pcb).ToArray();
        Volatile.Write(ref slot, rest.Length == 0 ? null : rest);
    }

    /// <summary>How many PCBs the lock-free bucket of <paramref name="port"/> holds (tests: connected TCP PCBs stay out of it).</summary>
    internal int BucketLength(ushort port) => Volatile.Read(ref _hash[port & (HashSize - 1)])?.Count(p => p.Ends.LocalPort == port) ?? 0;
}
