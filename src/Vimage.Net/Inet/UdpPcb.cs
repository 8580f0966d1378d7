
namespace Vimage.Net.Inet;

/// <summary>The addresses of a PCB (inp_inc): replaced as a whole on bind/connect so readers never see half an update.</summary>
internal sealed record PcbEnds(InAddr Local, ushort LocalPort, InAddr Foreign, ushort ForeignPort)
{
    public static readonly PcbEnds Unbound = new(InAddr.Any, 0, InAddr.Any, 0);

    public bool IsBound => LocalPort != 0;

    public bool IsConnected => ForeignPort != 0;
}

/// <summary>struct inpcb for UDP: one per socket, found by port in its vnet's <see cref="UdpPcbTable"/>.</summary>
internal sealed class UdpPcb(UdpSocket socket)
{
    private volatile PcbEnds _ends = PcbEnds.Unbound;

    public UdpSocket Socket { get; } = socket;

    public PcbEnds Ends
    {
        get => _ends;
        set => _ends = value;
    }

    /// <summary>SO_REUSEADDR: a specific address may be bound beside a wildcard one on the same port.</summary>
    public bool ReuseAddress { get; set; }

    /// <summary>SO_REUSEPORT: the same address and port may be bound by several sockets that all set it.</summary>
    public bool ReusePort { get; set; }
}

/// <summary>
/// V_udbinfo: the vnet's UDP PCBs. Every PCB is listed from socket creation (inp_list) so the vnet's destructor can
/// close what is left; bound ones sit in a port hash whose buckets are immutable arrays replaced under the write
/// lock, so input looks sockets up without locking or allocating.
/// </summary>
internal sealed class UdpPcbTable
{
    /// <summary>net.inet.ip.portrange.hifirst / hilast (IP_PORTRANGE_HIGH), the ephemeral range used here.</summary>
    public const ushort EphemeralFirst = 49152;
    public const ushort EphemeralLast = 65535;

    private const int HashSize = 256;
    private readonly object _lock = new();
    private readonly UdpPcb[]?[] _hash = new UdpPcb[]?[HashSize];
    private readonly HashSet<UdpPcb> _all = [];
    private int _nextEphemeral = EphemeralFirst;
    private bool _dead;

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

    /// <summary>in_pcballoc: false once the vnet is being torn down.</summary>
    public bool Attach(UdpPcb pcb)
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
    public void Detach(UdpPcb pcb)
    {
        lock (_lock)
        {
            _all.Remove(pcb);
            RemoveFromHash(pcb);
        }
    }

    /// <summary>Marks the table dead and empties it; the caller closes the sockets returned.</summary>
    public UdpPcb[] DetachAll()
    {
        lock (_lock)
        {
            _dead = true;
            UdpPcb[] all = [.. _all];
            _all.Clear();
            Array.Clear(_hash);
            return all;
        }
    }

    /// <summary>in_pcbbind: port 0 picks an ephemeral port. Returns 0 or an errno (EADDRINUSE, EADDRNOTAVAIL, EINVAL).</summary>
    public int Bind(UdpPcb pcb, InAddr local, ushort port)
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
                int span = EphemeralLast - EphemeralFirst + 1;
                for (int i = 0; i < span; i++)
                {
                    ushort candidate = (ushort)_nextEphemeral;
                    _nextEphemeral = candidate == EphemeralLast ? EphemeralFirst : candidate + 1;
                    if (!Conflicts(local, candidate, reuseAddress: false, reusePort: false, self: pcb))
                    {
                        port = candidate;
                        break;
                    }
                }

                if (port == 0)
                {
                    return Errno.EADDRNOTAVAIL; // the range is exhausted
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

    /// <summary>in_pcbconnect's final step: the PCB (already bound) gets its foreign end and local address. EADDRINUSE if the 4-tuple exists.</summary>
    public int Connect(UdpPcb pcb, InAddr local, InAddr foreign, ushort foreignPort)
    {
        lock (_lock)
        {
            if (_dead)
            {
                return Errno.EINVAL;
            }

            PcbEnds ends = pcb.Ends;
            UdpPcb[]? bucket = _hash[ends.LocalPort & (HashSize - 1)];
            foreach (UdpPcb other in bucket ?? [])
            {
                PcbEnds o = other.Ends;
                if (other != pcb && o.LocalPort == ends.LocalPort && o.Local == local && o.Foreign == foreign && o.ForeignPort == foreignPort)
                {
                    return Errno.EADDRINUSE;
                }
            }

            pcb.Ends = new PcbEnds(local, ends.LocalPort, foreign, foreignPort);
            return 0;
        }
    }

    /// <summary>udp_disconnect: the foreign end goes and the local address reverts to the wildcard (as in BSD).</summary>
    public void Disconnect(UdpPcb pcb)
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
    public UdpPcb? Lookup(InAddr src, ushort sport, InAddr dst, ushort dport)
    {
        UdpPcb[]? bucket = Volatile.Read(ref _hash[dport & (HashSize - 1)]);
        if (bucket is null)
        {
            return null;
        }

        UdpPcb? exactLocal = null, wildcard = null;
        foreach (UdpPcb pcb in bucket)
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
    public UdpPcb? LookupConnected(InAddr foreign, ushort fport, InAddr local, ushort lport)
    {
        UdpPcb[]? bucket = Volatile.Read(ref _hash[lport & (HashSize - 1)]);
        foreach (UdpPcb pcb in bucket ?? [])
        {
            PcbEnds e = pcb.Ends;
            if (e.LocalPort == lport && e.IsConnected && e.Foreign == foreign && e.ForeignPort == fport && (e.Local.IsAny || e.Local == local))
            {
                return pcb;
            }
        }

        return null;
    }

    /// <summary>The PCBs hashed with <paramref name="port"/> (callers check the port): udp_multi_input walks it.</summary>
    public ReadOnlySpan<UdpPcb> Bucket(ushort port) => Volatile.Read(ref _hash[port & (HashSize - 1)]);

    /// <summary>
    /// in_pcblookup_local with FreeBSD's rules: without SO_REUSEADDR a wildcard and a specific address on the same
    /// port conflict; identical addresses conflict unless both sockets set SO_REUSEPORT.
    /// </summary>
    private bool Conflicts(InAddr local, ushort port, bool reuseAddress, bool reusePort, UdpPcb self)
    {
        foreach (UdpPcb other in _hash[port & (HashSize - 1)] ?? [])
        {
            PcbEnds o = other.Ends;
            if (other == self || o.LocalPort != port)
            {
                continue;
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

    private void AddToHash(UdpPcb pcb, ushort port)
    {
        ref UdpPcb[]? slot = ref _hash[port & (HashSize - 1)];
        Volatile.Write(ref slot, [.. slot ?? [], pcb]);
    }

    private void RemoveFromHash(UdpPcb pcb)
    {
        PcbEnds e = pcb.Ends;
        if (!e.IsBound)
        {
            return;
        }

        ref UdpPcb[]? slot = ref _hash[e.LocalPort & (HashSize - 1)];
        if (slot is null || Array.IndexOf(slot, pcb) < 0)
        {
            return;
        }

        UdpPcb[] rest = slot.Where(p => p != pcb).ToArray();
        Volatile.Write(ref slot, rest.Length == 0 ? null : rest);
    }
}
