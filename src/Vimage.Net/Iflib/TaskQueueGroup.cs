using System.Runtime.InteropServices;
using Vimage.Core;

namespace Vimage.Net.Iflib;

/// <summary>
/// if_io_tqg: one worker thread per logical CPU, each pinned to its CPU where the OS allows it, running
/// <see cref="GroupTask"/>s. Queues share workers when there are more queues than CPUs.
/// </summary>
public sealed partial class TaskQueueGroup
{
    private readonly Worker[] _workers;

    private TaskQueueGroup(string name, int count)
    {
        Name = name;
        _workers = Enumerable.Range(0, count).Select(cpu => new Worker($"{name}:{cpu}", cpu)).ToArray();
    }

    /// <summary>The I/O group: one worker per CPU.</summary>
    public static TaskQueueGroup Io { get; } = new("if_io_tqg", CpuId.Count);

    public string Name { get; }

    public int Count => _workers.Length;

    internal Worker WorkerFor(int cpu) => _workers[((cpu % _workers.Length) + _workers.Length) % _workers.Length];

    /// <summary>Runs queued tasks in order; a task is queued at most once at a time (TASK_ENQUEUED).</summary>
    internal sealed class Worker
    {
        private readonly object _lock = new();
        private readonly Queue<GroupTask> _pending = new(64);

        public Worker(string name, int cpu)
        {
            Cpu = cpu;
            var thread = new Thread(() => Run(cpu)) { IsBackground = true, Name = name };
            thread.Start();
        }

        public int Cpu { get; }

        public void Enqueue(GroupTask task)
        {
            lock (_lock)
            {
                _pending.Enqueue(task);
                if (_pending.Count == 1)
                {
                    Monitor.Pulse(_lock);
                }
            }
        }

        private void Run(int cpu)
        {
            PinTo(cpu);
            while (true)
            {
                GroupTask task;
                lock (_lock)
                {
                    while (_pending.Count == 0)
                    {
                        Monitor.Wait(_lock);
                    }

                    task = _pending.Dequeue();
                }

                task.RunOnce();
            }
        }
    }

    private static void PinTo(int cpu)
    {
        if (!OperatingSystem.IsLinux() || cpu >= 1024)
        {
            return; // logical binding only
        }

        Span<ulong> mask = stackalloc ulong[16];
        mask[cpu / 64] = 1UL << (cpu % 64);
        unsafe
        {
            fixed (ulong* p = mask)
            {
                _ = sched_setaffinity(0, (nuint)(mask.Length * sizeof(ulong)), p); // best effort: a cpuset may forbid it
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int sched_setaffinity(int pid, nuint size, ulong* mask);
}

/// <summary>
/// A grouptask: work bound to one worker, queued at most once however often it is enqueued (interrupt
/// coalescing). If enqueued while running, it runs once more afterwards, so no wakeup is lost.
/// </summary>
public sealed class GroupTask
{
    private readonly Action _work;
    private TaskQueueGroup.Worker _worker;
    private int _state; // 0 idle, 1 queued, 2 running, 3 running and requeue requested

    public GroupTask(string name, TaskQueueGroup group, int cpu, Action work)
    {
        Name = name;
        _work = work;
        _worker = group.WorkerFor(cpu);
    }

    public string Name { get; }

    /// <summary>The CPU (worker) the task runs on (txqN.cpu / rxqN.cpu).</summary>
    public int Cpu => _worker.Cpu;

    /// <summary>Runs so far (for tests and stats).</summary>
    public long Runs { get; private set; }

    /// <summary>Failures of the work (counted, never fatal to the worker).</summary>
    public long Failures { get; private set; }

    public Exception? LastError { get; private set; }

    /// <summary>Queued or running.</summary>
    public bool IsBusy => Volatile.Read(ref _state) != 0;

    public void Enqueue()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            int next = state switch { 0 => 1, 2 => 3, _ => -1 };
            if (next < 0)
            {
                return; // already queued, or a rerun is already requested
            }

            if (Interlocked.CompareExchange(ref _state, next, state) == state)
            {
                if (next == 1)
                {
                    _worker.Enqueue(this);
                }

                return;
            }
        }
    }

    internal void RunOnce()
    {
        Volatile.Write(ref _state, 2);
        try
        {
            Runs++;
            _work();
        }
        catch (Exception e)
        {
            Failures++;
            LastError = e;
        }

        if (Interlocked.CompareExchange(ref _state, 0, 2) == 3)
        {
            Volatile.Write(ref _state, 1);
            _worker.Enqueue(this);
        }
    }
}
