namespace Vimage.Core;

/// <summary>
/// VNET_GLOBAL_EVENTHANDLER: an event whose handlers run once in every listed vnet, each with that vnet
/// current. Unlike FreeBSD's iterator, the event's argument reaches the handler (FreeBSD drops it: a known bug).
/// </summary>
public sealed class VnetGlobalEvent<TArgs>
{
    private readonly object _lock = new();
    private Action<TArgs>[] _handlers = [];

    public void Register(Action<TArgs> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_lock)
        {
            _handlers = [.. _handlers, handler];
        }
    }

    public bool Deregister(Action<TArgs> handler)
    {
        lock (_lock)
        {
            int index = Array.IndexOf(_handlers, handler);
            if (index < 0)
            {
                return false;
            }

            _handlers = [.. _handlers[..index], .. _handlers[(index + 1)..]];
            return true;
        }
    }

    /// <summary>EVENTHANDLER_INVOKE: every handler, in every vnet (VNET_FOREACH + CURVNET_SET).</summary>
    public void Invoke(TArgs args)
    {
        Action<TArgs>[] handlers = Volatile.Read(ref _handlers);
        if (handlers.Length == 0)
        {
            return;
        }

        Vnet.Foreach(_ =>
        {
            foreach (Action<TArgs> handler in handlers)
            {
                handler(args);
            }
        });
    }
}
