namespace Vimage.Net.Dummynet;

/// <summary>
/// One vnet's pipes and queues (dn_cfg's schedulers and flowsets), replaced whole under a lock so that the packet
/// path reads them without one. Configuring an existing pipe replaces it (FreeBSD resets its queue too).
/// </summary>
public sealed class DnTables
{
    private readonly Lock _gate = new();
    private Dictionary<int, DnPipe> _pipes = [];
    private Dictionary<int, DnPipe> _queues = [];

    public DnPipe? FindPipe(int number) => Volatile.Read(ref _pipes).GetValueOrDefault(number);

    public DnPipe? FindQueue(int number) => Volatile.Read(ref _queues).GetValueOrDefault(number);

    public IReadOnlyCollection<DnPipe> Pipes => Volatile.Read(ref _pipes).Values;

    public IReadOnlyCollection<DnPipe> Queues => Volatile.Read(ref _queues).Values;

    /// <summary>ipfw pipe N config: creates or replaces pipe N (its held packets are freed, as do_config does).</summary>
    public DnPipe ConfigurePipe(int number, DnPipeConfig config)
    {
        var pipe = new DnPipe(number, config, DnIo.SlotLimit);
        lock (_gate)
        {
            var next = new Dictionary<int, DnPipe>(_pipes) { [number] = pipe };
            DnPipe? old = _pipes.GetValueOrDefault(number);
            Volatile.Write(ref _pipes, next);
            RelinkQueues(old, pipe);
            if (old is not null)
            {
                pipe.SchedType = old.SchedType;
                old.PurgeQueued();
                DnIo.Purge(old);
            }
        }

        return pipe;
    }

    /// <summary>ipfw queue N config pipe P [weight W] [queue Q]: false when pipe P does not exist.</summary>
    public bool ConfigureQueue(int number, int pipeNumber, int weight, DnPipeConfig limits)
    {
        lock (_gate)
        {
            if (!_pipes.TryGetValue(pipeNumber, out DnPipe? parent))
            {
                return false;
            }

            var queue = new DnPipe(number, limits, DnIo.SlotLimit) { Parent = parent, Weight = weight };
            DnPipe? old = _queues.GetValueOrDefault(number);
            Volatile.Write(ref _queues, new Dictionary<int, DnPipe>(_queues) { [number] = queue });
            old?.Parent?.Detach(old);
            parent.Attach(queue);
            return true;
        }
    }

    public bool DeletePipe(int number)
    {
        lock (_gate)
        {
            if (!_pipes.TryGetValue(number, out DnPipe? pipe))
            {
                return false;
            }

            var next = new Dictionary<int, DnPipe>(_pipes);
            next.Remove(number);
            Volatile.Write(ref _pipes, next);
            var queues = new Dictionary<int, DnPipe>();
            foreach (KeyValuePair<int, DnPipe> q in _queues)
            {
                if (q.Value.Parent != pipe)
                {
                    queues[q.Key] = q.Value;
                }
            }

            Volatile.Write(ref _queues, queues);
            pipe.PurgeQueued();
            DnIo.Purge(pipe);
            return true;
        }
    }

    public bool DeleteQueue(int number)
    {
        lock (_gate)
        {
            if (!_queues.TryGetValue(number, out DnPipe? queue))
            {
                return false;
            }

            var next = new Dictionary<int, DnPipe>(_queues);
            next.Remove(number);
            Volatile.Write(ref _queues, next);
            queue.Parent?.Detach(queue);
            return true;
        }
    }

    /// <summary>ipfw pipe flush: every pipe and queue, with their held packets.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            Dictionary<int, DnPipe> pipes = _pipes;
            Volatile.Write(ref _pipes, []);
            Volatile.Write(ref _queues, []);
            foreach (DnPipe pipe in pipes.Values)
            {
                pipe.PurgeQueued();
                DnIo.Purge(pipe);
            }
        }
    }

    private void RelinkQueues(DnPipe? old, DnPipe pipe)
    {
        if (old is null)
        {
            return;
        }

        var queues = new Dictionary<int, DnPipe>();
        foreach (KeyValuePair<int, DnPipe> q in _queues)
        {
            if (q.Value.Parent == old)
            {
                var moved = new DnPipe(q.Value.Number, q.Value.Config, DnIo.SlotLimit) { Parent = pipe, Weight = q.Value.Weight };
                pipe.Attach(moved);
                queues[q.Key] = moved;
            }
            else
            {
                queues[q.Key] = q.Value;
            }
        }

        Volatile.Write(ref _queues, queues);
    }
}
