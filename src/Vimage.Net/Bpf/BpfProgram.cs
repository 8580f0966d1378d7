using System.Buffers.Binary;
using System.Globalization;

namespace Vimage.Net.Bpf;

/// <summary>struct bpf_insn: a classic BPF instruction (net/bpf.h).</summary>
public readonly record struct BpfInsn(ushort Code, byte Jt, byte Jf, uint K)
{
    // Instruction classes, sizes, modes, operations and sources (net/bpf.h).
    public const ushort LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
    public const ushort W = 0x00, H = 0x08, B = 0x10;
    public const ushort IMM = 0x00, ABS = 0x20, IND = 0x40, MEM = 0x60, LEN = 0x80, MSH = 0xa0;
    public const ushort ADD = 0x00, SUB = 0x10, MUL = 0x20, DIV = 0x30, OR = 0x40, AND = 0x50, LSH = 0x60, RSH = 0x70, NEG = 0x80, MOD = 0x90, XOR = 0xa0;
    public const ushort JA = 0x00, JEQ = 0x10, JGT = 0x20, JGE = 0x30, JSET = 0x40;
    public const ushort K_ = 0x00, X_ = 0x08, A_ = 0x10;
    public const ushort TAX = 0x00, TXA = 0x80;

    /// <summary>BPF_MEMWORDS: scratch memory words.</summary>
    public const int MemWords = 16;

    /// <summary>tcpdump -ddd's line: code jt jf k in decimal.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Code} {Jt} {Jf} {K}");
}

/// <summary>
/// A compiled filter and bpf_filter(9) to run it: returns how many bytes of the packet to keep (0 = reject). A load
/// outside the packet or a division by zero rejects, as FreeBSD's bpf_filter does. Running allocates nothing.
/// </summary>
public sealed class BpfProgram(BpfInsn[] instructions)
{
    public IReadOnlyList<BpfInsn> Instructions => instructions;

    /// <summary>True when the filter keeps the frame.</summary>
    public bool Matches(ReadOnlySpan<byte> frame) => Run(instructions, frame, (uint)frame.Length) != 0;

    /// <summary>bpf_filter: <paramref name="packet"/> is what was captured, <paramref name="wireLength"/> the packet's length on the wire.</summary>
    public static uint Run(ReadOnlySpan<BpfInsn> program, ReadOnlySpan<byte> packet, uint wireLength)
    {
        if (program.Length == 0)
        {
            return uint.MaxValue; // no filter: accept all
        }

        Span<uint> mem = stackalloc uint[BpfInsn.MemWords];
        uint a = 0, x = 0;
        for (int pc = 0; pc < program.Length; pc++)
        {
            BpfInsn i = program[pc];
            uint k = i.K;
            switch (i.Code)
            {
                case BpfInsn.RET | BpfInsn.K_: return k;
                case BpfInsn.RET | BpfInsn.A_: return a;
                case BpfInsn.LD | BpfInsn.W | BpfInsn.ABS: if (!Load(packet, k, 4, out a)) { return 0; } break;
                case BpfInsn.LD | BpfInsn.H | BpfInsn.ABS: if (!Load(packet, k, 2, out a)) { return 0; } break;
                case BpfInsn.LD | BpfInsn.B | BpfInsn.ABS: if (!Load(packet, k, 1, out a)) { return 0; } break;
                case BpfInsn.LD | BpfInsn.W | BpfInsn.IND: if (!Load(packet, (ulong)x + k, 4, out a)) { return 0; } break;
                case BpfInsn.LD | BpfInsn.H | BpfInsn.IND: if (!Load(packet, (ulong)x + k, 2, out a)) { return 0; } break;
                case BpfInsn.LD | BpfInsn.B | BpfInsn.IND: if (!Load(packet, (ulong)x + k, 1, out a)) { return 0; } break;
                case BpfInsn.LD | BpfInsn.W | BpfInsn.LEN: a = wireLength; break;
                case BpfInsn.LDX | BpfInsn.W | BpfInsn.LEN: x = wireLength; break;
                case BpfInsn.LDX | BpfInsn.B | BpfInsn.MSH:
                    if (k >= (uint)packet.Length)
                    {
                        return 0;
                    }

                    x = (uint)(packet[(int)k] & 0xf) << 2;
                    break;
                case BpfInsn.LD | BpfInsn.IMM: a = k; break;
                case BpfInsn.LDX | BpfInsn.IMM: x = k; break;
                case BpfInsn.LD | BpfInsn.MEM: a = mem[(int)(k % BpfInsn.MemWords)]; break;
                case BpfInsn.LDX | BpfInsn.MEM: x = mem[(int)(k % BpfInsn.MemWords)]; break;
                case BpfInsn.ST: mem[(int)(k % BpfInsn.MemWords)] = a; break;
                case BpfInsn.STX: mem[(int)(k % BpfInsn.MemWords)] = x; break;
                case BpfInsn.JMP | BpfInsn.JA: pc += (int)k; break;
                case BpfInsn.JMP | BpfInsn.JGT | BpfInsn.K_: pc += a > k ? i.Jt : i.Jf; break;
                case BpfInsn.JMP | BpfInsn.JGE | BpfInsn.K_: pc += a >= k ? i.Jt : i.Jf; break;
                case BpfInsn.JMP | BpfInsn.JEQ | BpfInsn.K_: pc += a == k ? i.Jt : i.Jf; break;
                case BpfInsn.JMP | BpfInsn.JSET | BpfInsn.K_: pc += (a & k) != 0 ? i.Jt : i.Jf; break;
                case BpfInsn.JMP | BpfInsn.JGT | BpfInsn.X_: pc += a > x ? i.Jt : i.Jf; break;
                case BpfInsn.JMP | BpfInsn.JGE | BpfInsn.X_: pc += a >= x ? i.Jt : i.Jf; break;
                case BpfInsn.JMP | BpfInsn.JEQ | BpfInsn.X_: pc += a == x ? i.Jt : i.Jf; break;
                case BpfInsn.JMP | BpfInsn.JSET | BpfInsn.X_: pc += (a & x) != 0 ? i.Jt : i.Jf; break;
                case BpfInsn.MISC | BpfInsn.TAX: x = a; break;
                case BpfInsn.MISC | BpfInsn.TXA: a = x; break;
                case BpfInsn.ALU | BpfInsn.NEG: a = (uint)-(int)a; break;
                default:
                    if ((i.Code & 0x07) != BpfInsn.ALU)
                    {
                        return 0; // bpf_validate refuses these; never accept on an unknown opcode
                    }

                    uint operand = (i.Code & BpfInsn.X_) != 0 ? x : k;
                    switch (i.Code & 0xf0)
                    {
                        case BpfInsn.ADD: a += operand; break;
                        case BpfInsn.SUB: a -= operand; break;
                        case BpfInsn.MUL: a *= operand; break;
                        case BpfInsn.DIV: if (operand == 0) { return 0; } a /= operand; break;
                        case BpfInsn.MOD: if (operand == 0) { return 0; } a %= operand; break;
                        case BpfInsn.AND: a &= operand; break;
                        case BpfInsn.OR: a |= operand; break;
                        case BpfInsn.XOR: a ^= operand; break;
                        case BpfInsn.LSH: a = operand < 32 ? a << (int)operand : 0; break;
                        case BpfInsn.RSH: a = operand < 32 ? a >> (int)operand : 0; break;
                        default: return 0;
                    }

                    break;
            }
        }

        return 0; // fell off the end: bpf_validate makes this impossible for compiled programs
    }

    private static bool Load(ReadOnlySpan<byte> packet, ulong offset, int size, out uint value)
    {
        value = 0;
        if (offset + (ulong)size > (ulong)packet.Length)
        {
            return false;
        }

        ReadOnlySpan<byte> p = packet.Slice((int)offset, size);
        value = size switch
        {
            4 => BinaryPrimitives.ReadUInt32BigEndian(p),
            2 => BinaryPrimitives.ReadUInt16BigEndian(p),
            _ => p[0],
        };
        return true;
    }
}
