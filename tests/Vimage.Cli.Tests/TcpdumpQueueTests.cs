using Vimage.Cli.Commands;
using Vimage.Core;
using Vimage.Net;
using Vimage.Net.Bpf;

namespace Vimage.Cli.Tests;

/// <summary>tcpdump's text output to a reader that stops: a bounded queue, counted drops, a data path that never waits.</summary>
public sealed class TcpdumpQueueTests
{
    [Fact]
    public async Task A_reader_that_stops_loses_packets_counted_as_dropped_by_kernel_and_the_queue_stays_bounded()
    {
        const int Frames = 5000;
        using var cli = new CliFixture();
        string epair = cli.NewEpair();
        Ifnet ifp;
        using (Curvnet.Set(Vnet.Vnet0))
        {
            ifp = Ifnets.Find(epair + "a");
        }

        using var reader = new StoppedReader();
        var error = new StringWriter { NewLine = "\n" };
        using var cancel = new CancellationTokenSource();
        var context = new CommandContext(Vnet.Vnet0, reader, error, cli.Jails, cancel.Token);
        Task<int> tcpdump = Task.Run(() => new TcpdumpCommand().Run(context, ["-i", epair + "a"]));
        Assert.True(CliFixture.WaitFor(() => ifp.Bpf.SessionCount == 1), "tcpdump did not attach");

        // Packets flow while the reader is stuck on the first line: every tap returns (the data path never waits;
        // a flood that does not finish in 20 s fails the WhenAny below).
        byte[] frame = ArpRequest();
        Task flood = Task.Run(() =>
        {
            for (int i = 0; i < Frames; i++)
            {
                ifp.Bpf.Tap(frame, Direction.In);
            }
        });
        Assert.Same(flood, await Task.WhenAny(flood, Task.Delay(TimeSpan.FromSeconds(20))));
        Assert.True(reader.Stuck.Wait(TimeSpan.FromSeconds(10)), "tcpdump never wrote");

        cancel.Cancel();
        reader.Resume();
        Assert.Same(tcpdump, await Task.WhenAny(tcpdump, Task.Delay(TimeSpan.FromSeconds(20))));
        Assert.Equal(0, await tcpdump);

        // Queued while stuck: at most the queue's worth after the line being written; the rest counted, not kept.
        int printed = reader.Lines;
        Assert.InRange(printed, 1, TcpdumpCommand.QueueLimit + 1);
        Assert.All(reader.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains("ARP, Request who-has 192.0.2.2 tell 192.0.2.1", l));
        string stats = error.ToString();
        Assert.True(stats.Contains($"\n{printed} packets captured\n"), $"{printed} lines printed; tcpdump said:\n{stats}");
        Assert.Contains($"\n{printed} packets captured\n", stats);
        Assert.Contains($"\n{Frames} packets received by filter\n", stats);
        Assert.Contains($"\n{Frames - printed} packets dropped by kernel\n", stats);
    }

    private static byte[] ArpRequest()
    {
        var frame = new byte[42];
        frame.AsSpan(0, 6).Fill(0xff);
        byte[] rest =
        [
            0x02, 0, 0, 0, 0, 1, 0x08, 0x06, // source MAC, ARP
            0, 1, 0x08, 0, 6, 4, 0, 1, // Ethernet/IPv4, request
            0x02, 0, 0, 0, 0, 1, 192, 0, 2, 1, // sender
            0, 0, 0, 0, 0, 0, 192, 0, 2, 2, // target
        ];
        rest.CopyTo(frame, 6);
        return frame;
    }

    /// <summary>Output like `| less` that stops: the first line blocks until <see cref="Resume"/>.</summary>
    private sealed class StoppedReader : StringWriter
    {
        private readonly ManualResetEventSlim _resume = new();
        private int _lines;

        public StoppedReader() => NewLine = "\n";

        public ManualResetEventSlim Stuck { get; } = new();

        public int Lines => Volatile.Read(ref _lines);

        public string Text
        {
            get
            {
                lock (this)
                {
                    return ToString();
                }
            }
        }

        public void Resume() => _resume.Set();

        public override void WriteLine(string? value)
        {
            if (Interlocked.Increment(ref _lines) == 1)
            {
                Stuck.Set();
                Assert.True(_resume.Wait(TimeSpan.FromSeconds(30)), "never resumed");
            }

            lock (this)
            {
                base.WriteLine(value);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _resume.Dispose();
                Stuck.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
