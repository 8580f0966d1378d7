namespace Vimage.Net.Ipfw;

/// <summary>
/// The match opcodes of this subset (ip_fw.h's enum ipfw_opcodes): each tests one property of the packet. The
/// rule body is a list of them, with F_NOT (<see cref="IpFwCmd.Not"/>) and F_OR (<see cref="IpFwCmd.Or"/>) flags,
/// evaluated as ipfw_chk does.
/// </summary>
public enum IpFwOp : byte
{
    /// <summary>O_PROTO.</summary>
    Proto,

    /// <summary>"any" inside an or-block (outside one it compiles to nothing).</summary>
    SrcAny,
    DstAny,

    /// <summary>O_IP_SRC_MASK / O_IP_DST_MASK: one or more address/mask pairs (a comma list), any may match.</summary>
    SrcMask,
    DstMask,

    /// <summary>O_IP_SRC_ME / O_IP_DST_ME.</summary>
    SrcMe,
    DstMe,

    /// <summary>O_IP_SRC_LOOKUP / O_IP_DST_LOOKUP: table(N).</summary>
    SrcTable,
    DstTable,

    /// <summary>O_IP_SRCPORT / O_IP_DSTPORT: a list of ranges.</summary>
    SrcPort,
    DstPort,

    /// <summary>O_IN ("out" is O_IN with F_NOT).</summary>
    In,

    /// <summary>O_VIA, O_RECV, O_XMIT.</summary>
    Via,
    Recv,
    Xmit,

    /// <summary>O_ICMPTYPE: a bit per type 0..31.</summary>
    IcmpTypes,

    /// <summary>O_ESTAB: a TCP segment that is not a bare SYN ("established").</summary>
    Estab,

    /// <summary>O_TCPFLAGS: <see cref="IpFwCmd.Value"/> is arg1, flags wanted set | flags wanted clear &lt;&lt; 8 ("setup" is syn,!ack).</summary>
    TcpFlags,

    /// <summary>O_TCPOPTS: as TcpFlags over the IP_FW_TCPOPT_* bits of the options present.</summary>
    TcpOpts,

    /// <summary>O_TCPSEQ / O_TCPACK: the sequence or acknowledgement number equals Value.</summary>
    TcpSeq,
    TcpAck,

    /// <summary>O_TCPWIN, O_IPLEN, O_IPTTL: equals Value, or (when Ports is set) lies in one of the ranges.</summary>
    TcpWin,
    IpLen,
    IpTtl,

    /// <summary>O_IPTOS: as TcpFlags over the IP header's TOS byte.</summary>
    IpTos,
}

/// <summary>
/// One instruction of a rule body (ipfw_insn and its variants). Immutable; ipfw_chk reads it without a lock.
/// </summary>
public sealed class IpFwCmd
{
    public required IpFwOp Op { get; init; }

    /// <summary>F_NOT: the match is inverted.</summary>
    public bool Not { get; init; }

    /// <summary>F_OR: this instruction and the next form an or-block (the last member of a block has no F_OR).</summary>
    public bool Or { get; init; }

    /// <summary>
    /// Proto: the IP protocol number; SrcTable/DstTable: the table number; IcmpTypes: the type bitmap; TcpFlags,
    /// TcpOpts, IpTos: set | clear &lt;&lt; 8; TcpSeq/TcpAck/TcpWin/IpLen/IpTtl: the value.
    /// </summary>
    public uint Value { get; init; }

    /// <summary>SrcMask/DstMask: address/mask pairs, masked addresses (addr &amp; mask).</summary>
    public uint[]? Addresses { get; init; }

    public uint[]? Masks { get; init; }

    /// <summary>SrcPort/DstPort, and TcpWin/IpLen/IpTtl given as ranges; table(N,value): the value.</summary>
    public IpFwPortRange[]? Ports { get; init; }

    /// <summary>Via/Recv/Xmit: the interface name ("any" matches any interface, as in FreeBSD).</summary>
    public string? Interface { get; init; }

    public IpFwCmd WithFlags(bool not, bool or) => new()
    {
        Op = Op, Not = not, Or = or, Value = Value, Addresses = Addresses, Masks = Masks, Ports = Ports, Interface = Interface,
    };

    public static IpFwCmd Mask(bool source, uint address, uint mask) => new()
    {
        Op = source ? IpFwOp.SrcMask : IpFwOp.DstMask, Addresses = [address & mask], Masks = [mask],
    };

    /// <summary>An address/mask list as a contiguous (not IP-indexed) pair array.</summary>
    public static IpFwCmd MaskList(bool source, uint[] addresses, uint[] masks)
    {
        var a = new uint[addresses.Length];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = addresses[i] & masks[i];
        }

        return new IpFwCmd { Op = source ? IpFwOp.SrcMask : IpFwOp.DstMask, Addresses = a, Masks = (uint[])masks.Clone() };
    }

    internal static bool MaskMatches(uint[] addresses, uint[] masks, uint address)
    {
        for (int i = 0; i < addresses.Length; i++)
        {
            if ((address & masks[i]) == addresses[i])
            {
                return true;
            }
        }

        return false;
    }
}
