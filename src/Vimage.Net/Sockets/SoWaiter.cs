using Vimage.Core;
using System.Threading.Tasks.Sources;

namespace Vimage.Net.Sockets;

/// <summary>
/// One reusable wait of a stream socket's async calls (a sleeper on so_rcv or so_snd): armed under the socket lock,
/// fired by sorwakeup / sowwakeup, a state change, close or cancellation. Its continuation never runs on the
/// protocol thread while it fires (which may hold a connection's lock): fired during a user's send (data the send
/// delivered inline, net.isr.dispatch=direct), it runs when that send returns, out of every lock, on the sender's
/// thread (<see cref="SoWakeups"/>, the datagram receive's rules and net.isr.inline_wakeup); otherwise on the
/// thread pool. One wait at a time.
/// </summary>
internal sealed class SoWaiter : IValueTaskSource, IDeferredWakeup
{
    private static readonly Action<object?> CancelCallback = static state => ((SoWaiter)state!).Fire();

    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private int _armed;
    private bool _outstanding;
    private CancellationTokenRegistration _registration;

    /// <summary>Called under the socket lock: a wait that <see cref="Fire"/> ends. InvalidOperationException when one is outstanding.</summary>
    public ValueTask Arm(string what, CancellationToken token)
    {
        if (_outstanding)
        {
            throw new InvalidOperationException($"another {what} is already outstanding on this socket");
        }

        _outstanding = true;
        _core.Reset();
        Volatile.Write(ref _armed, 1);
        _registration = token.CanBeCanceled ? token.UnsafeRegister(CancelCallback, this) : default;
        return new ValueTask(this, _core.Version);
    }

    /// <summary>Ends the wait if one is armed (any thread; idempotent).</summary>
    public void Fire()
    {
        if (Interlocked.Exchange(ref _armed, 0) == 1 && !SoWakeups.TryDefer(this))
        {
            _core.RunContinuationsAsynchronously = true;
            _core.SetResult(true);
        }
    }

    void IDeferredWakeup.CompleteDeferred()
    {
        _core.RunContinuationsAsynchronously = false;
        _core.SetResult(true);
    }

    void IValueTaskSource.GetResult(short token)
    {
        _registration.Unregister();
        _registration = default;
        _outstanding = false;
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>The socket layer's global knobs.</summary>
public static partial class SoKnobs
{
    /// <summary>SOMAXCONN.</summary>
    public const int SoMaxConn = 128;

    /// <summary>kern.ipc.soacceptqueue (somaxconn): the largest listen backlog; a larger or negative one is clamped to it.</summary>
    [Sysctl("kern.ipc.soacceptqueue", SysctlFlags.RW, "Maximum listen socket pending connection accept queue size", Min = 1, Max = 65535)]
    internal static int s_somaxconn = SoMaxConn;

    public static int SoAcceptQueue => Volatile.Read(ref s_somaxconn);
}
