namespace Vimage.Net.Ipfw;

/// <summary>
/// The actions of ipfw(8) this subset knows (O_ACCEPT, O_DENY, O_REJECT, O_COUNT, O_PIPE, O_QUEUE, O_SKIPTO,
/// O_CHECK_STATE). <see cref="Reject"/> is O_REJECT with the ICMP unreachable code in the rule's argument
/// ("reject" is "unreach host").
/// </summary>
public enum IpFwAction
{
    Allow,
    Deny,
    Reject,
    Count,
    Pipe,
    Queue,
    Skipto,
    CheckState,
}

/// <summary>Which interface a rule names: via (either way), recv (arrival), xmit (departure).</summary>
public enum IpFwVia
{
    None,
    Via,
    Recv,
    Xmit,
}

/// <summary>Direction match: in, out, or both when the rule says neither.</summary>
public enum IpFwDir
{
    Any,
    In,
    Out,
}

/// <summary>An address operand: any, me (any address of this vnet), or addr/len (O_IP_SRC_MASK).</summary>
public readonly record struct IpFwAddr(IpFwAddrKind Kind, uint Address, uint Mask)
{
    public static readonly IpFwAddr Any = new(IpFwAddrKind.Any, 0, 0);

    public static readonly IpFwAddr Me = new(IpFwAddrKind.Me, 0, 0);

    public static IpFwAddr Net(uint address, int prefixLength)
    {
        uint mask = prefixLength <= 0 ? 0 : 0xffffffffu << (32 - prefixLength);
        return new(IpFwAddrKind.Net, address & mask, mask);
    }

    public int PrefixLength => System.Numerics.BitOperations.PopCount(Mask);
}

public enum IpFwAddrKind
{
    Any,
    Me,
    Net,
}

/// <summary>A port range (O_IP_SRCPORT/O_IP_DSTPORT hold a list of ranges).</summary>
public readonly record struct IpFwPortRange(ushort Low, ushort High)
{
    public bool Contains(int port) => port >= Low && port <= High;

    public override string ToString() => Low == High ? Low.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{Low}-{High}";
}

/// <summary>
/// One static rule (struct ip_fw): its number, body and counters. Immutable once in the chain apart from its
/// counters, so ipfw_chk reads it without a lock. Protocol 0 is "ip" (any); ports apply to any protocol whose
/// header starts with 16-bit source and destination ports (udp, tcp, sctp), so tcp needs no rework here.
/// </summary>
public sealed class IpFwRule
{
    public required int Number { get; init; }

    public required IpFwAction Action { get; init; }

    /// <summary>The pipe, queue or skipto target; for reject, the ICMP unreachable code.</summary>
    public int Argument { get; init; }

    public bool Log { get; init; }

    /// <summary>log logamount N (0: net.inet.ip.fw.verbose_limit).</summary>
    public int LogAmount { get; init; }

    /// <summary>IP protocol number, 0 for "ip" (all).</summary>
    public byte Protocol { get; init; }

    public IpFwAddr Source { get; init; } = IpFwAddr.Any;

    public IpFwAddr Destination { get; init; } = IpFwAddr.Any;

    public IpFwPortRange[]? SourcePorts { get; init; }

    public IpFwPortRange[]? DestinationPorts { get; init; }

    public IpFwDir Direction { get; init; }

    public IpFwVia Via { get; init; }

    public string? Interface { get; init; }

    public bool KeepState { get; init; }

    /// <summary>
    /// The body as ipfw_chk runs it (match instructions with F_NOT/F_OR). When not given, it is compiled from the
    /// simple properties above (protocol, addresses, ports, direction, interface), which suit rules built in code.
    /// </summary>
    public IpFwCmd[]? Cmds { get; init; }

    private IpFwCmd[]? _body;

    /// <summary>The instructions to evaluate, in order.</summary>
    public IpFwCmd[] Body => _body ?? Interlocked.CompareExchange(ref _body, Cmds ?? Compile(), null) ?? _body!;

    public IpFwCounters Counters { get; } = new();

    /// <summary>Packets logged by this rule so far (against its log limit).</summary>
    internal long Logged;

    private IpFwCmd[] Compile()
    {
        var body = new List<IpFwCmd>();
        if (Protocol != 0)
        {
            body.Add(new IpFwCmd { Op = IpFwOp.Proto, Value = Protocol });
        }

        AddAddress(body, Source, source: true);
        if (SourcePorts is { } sp)
        {
            body.Add(new IpFwCmd { Op = IpFwOp.SrcPort, Ports = sp });
        }

        AddAddress(body, Destination, source: false);
        if (DestinationPorts is { } dp)
        {
            body.Add(new IpFwCmd { Op = IpFwOp.DstPort, Ports = dp });
        }

        if (Direction != IpFwDir.Any)
        {
            body.Add(new IpFwCmd { Op = IpFwOp.In, Not = Direction == IpFwDir.Out });
        }

        if (Via != IpFwVia.None)
        {
            body.Add(new IpFwCmd { Op = Via switch { IpFwVia.Recv => IpFwOp.Recv, IpFwVia.Xmit => IpFwOp.Xmit, _ => IpFwOp.Via }, Interface = Interface });
        }

        return [.. body];
    }

    private static void AddAddress(List<IpFwCmd> body, IpFwAddr a, bool source)
    {
        switch (a.Kind)
        {
            case IpFwAddrKind.Me:
                body.Add(new IpFwCmd { Op = source ? IpFwOp.SrcMe : IpFwOp.DstMe });
                break;
            case IpFwAddrKind.Net:
                body.Add(IpFwCmd.Mask(source, a.Address, a.Mask));
                break;
        }
    }

    public static bool PortsMatch(IpFwPortRange[] ranges, int port)
    {
        for (int i = 0; i < ranges.Length; i++)
        {
            if (ranges[i].Contains(port))
            {
                return true;
            }
        }

        return false;
    }
}
