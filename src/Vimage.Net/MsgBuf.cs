using Vimage.Core;

namespace Vimage.Net;

/// <summary>
/// log(9) into a message buffer (kern/subr_msgbuf.c), one per vnet so a jail's kernel messages (ipfw's and ARP's
/// log lines) stay its own: a bounded ring of lines, the oldest overwritten, read by <c>dmesg</c>. Vimage keeps
/// one per vnet where FreeBSD has one msgbuf; the host's (vnet0's) also receives every jail's lines, so the host
/// sees what FreeBSD's would. Nothing on the packet path waits for a reader.
/// </summary>
public static partial class MsgBuf
{
    /// <summary>Lines kept per vnet.</summary>
    public const int Capacity = 1024;

    [Vnet]
    private static Ring? s_msgbuf;

    /// <summary>Every line logged, with the vnet it was logged in (a host console may subscribe).</summary>
    public static event Action<Vnet?, string>? Logged;

    /// <summary>
    /// log(LOG_INFO, ...) in the current vnet. The host (vnet0) gets a copy of every jail's line: FreeBSD has one
    /// msgbuf, which the host reads whole.
    /// </summary>
    public static void Log(string line)
    {
        Ring ring = V_msgbuf ??= new Ring();
        ring.Add(line);
        Vnet? current = Curvnet.Current;
        if (current is not null && current != Vnet.Vnet0 && Vnet.Vnet0.State == VnetState.Live)
        {
            Ring host = V_msgbuf_In(Vnet.Vnet0) ??= new Ring();
            host.Add(line);
        }

        Logged?.Invoke(current, line);
    }

    /// <summary>The current vnet's lines, oldest first.</summary>
    public static string[] Read() => V_msgbuf?.Snapshot() ?? [];

    /// <summary>dmesg -c: empties the current vnet's buffer.</summary>
    public static void Clear() => V_msgbuf?.Clear();

    internal sealed class Ring
    {
        private readonly Lock _gate = new();
        private readonly string[] _lines = new string[Capacity];
        private long _next;
        private long _first;

        public void Add(string line)
        {
            lock (_gate)
            {
                _lines[_next % Capacity] = line;
                _next++;
                _first = Math.Max(_first, _next - Capacity);
            }
        }

        public string[] Snapshot()
        {
            lock (_gate)
            {
                var result = new string[_next - _first];
                for (long i = _first; i < _next; i++)
                {
                    result[i - _first] = _lines[i % Capacity];
                }

                return result;
            }
        }

        public void Clear()
        {
            lock (_gate)
            {
                _first = _next;
            }
        }
    }
}
