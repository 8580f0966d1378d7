using System.Diagnostics;
using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;

namespace Vimage.Fuzz.Engine;

/// <summary>What one run is asked to do.</summary>
internal sealed record FuzzOptions(
    TimeSpan Duration,
    IReadOnlyList<string> SeedDirs,
    string WorkDir,
    TimeSpan HangLimit,
    int RandomSeed,
    bool RequireInstrumentation);

/// <summary>
/// A small in-process coverage-guided fuzzer (the loop libFuzzer and AFL run, without their fork servers or
/// drivers): run every seed, then repeatedly mutate a corpus entry, run it, and keep it when the coverage map
/// shows a new edge. An escaped exception is a crash and a run longer than the hang limit is a hang: either way the
/// input is saved under WorkDir/crashes and the run fails. The input in flight is kept in a memory-mapped file
/// (WorkDir/last-input) so a crash that kills the process (stack overflow) is not lost.
/// </summary>
internal sealed class FuzzLoop(IFuzzTarget target, CoverageMap coverage, FuzzOptions options, TextWriter log)
{
    private readonly List<byte[]> _corpus = [];
    private readonly Random _random = new(options.RandomSeed);
    private readonly Stopwatch _clock = new();
    private long _execs;
    private long _runStarted = -1;
    private byte[] _current = [];
    private bool _found;

    public int Run()
    {
        string corpusOut = Path.Combine(options.WorkDir, "corpus");
        string crashes = Path.Combine(options.WorkDir, "crashes");
        Directory.CreateDirectory(corpusOut);
        Directory.CreateDirectory(crashes);
        using var last = MemoryMappedFile.CreateFromFile(Path.Combine(options.WorkDir, "last-input"), FileMode.Create, null, 4 + target.MaxLength);
        using var lastView = last.CreateViewAccessor();
        using var stopWatchdog = new CancellationTokenSource();
        var watchdog = new Thread(() => Watch(crashes, stopWatchdog.Token)) { IsBackground = true, Name = "fuzz watchdog" };
        watchdog.Start();
        _clock.Start();

        // Seeds first: they must all pass, and together they must show instrumentation at work.
        int touched = 0;
        foreach (byte[] seed in LoadSeeds())
        {
            if (Execute(seed, lastView) is { } failure)
            {
                return Report(crashes, seed, failure);
            }

            touched = Math.Max(touched, coverage.Touched());
            if (Interesting(seed, lastView) is { } unstable)
            {
                return Report(crashes, seed, unstable);
            }

            _corpus.Add(seed);
        }

        log.WriteLine($"{target.Name}: {_corpus.Count} seeds, {coverage.Edges} edges, seed {options.RandomSeed}");
        if (_corpus.Count == 0)
        {
            _corpus.Add([]);
        }

        if (options.RequireInstrumentation && touched == 0)
        {
            log.WriteLine($"{target.Name}: the seeds touched no coverage slot: the Vimage assemblies are not instrumented (run scripts/fuzz.sh)");
            return 2;
        }

        var mutator = new Mutator(_random, target.Dictionary, target.MaxLength);
        long nextReport = 5_000;
        while (_clock.Elapsed < options.Duration)
        {
            if (_clock.ElapsedMilliseconds >= nextReport)
            {
                Status();
                nextReport += 5_000;
            }

            byte[] parent = _corpus[_random.Next(_corpus.Count)];
            byte[] child = mutator.Mutate(parent, () => _corpus[_random.Next(_corpus.Count)]);
            if (Execute(child, lastView) is { } failure)
            {
                return Report(crashes, child, failure);
            }

            if (!coverage.HasNew())
            {
                continue;
            }

            if (Interesting(child, lastView) is { } second)
            {
                return Report(crashes, child, second);
            }

            if (_found)
            {
                _corpus.Add(child);
                File.WriteAllBytes(Path.Combine(corpusOut, Hash(child)), child);
            }
        }

        stopWatchdog.Cancel();
        Status();
        if (target.Teardown() is { } leak)
        {
            log.WriteLine($"{target.Name}: FAIL after the run: {leak}");
            return 1;
        }

        log.WriteLine($"{target.Name}: PASS ({_execs} runs, no crash)");
        return 0;
    }

    /// <summary>
    /// Runs the input a second time and keeps only the coverage both runs share (<see cref="_found"/> says whether
    /// that was new). Returns a failure if the second run crashed.
    /// </summary>
    private string? Interesting(byte[] input, MemoryMappedViewAccessor lastView)
    {
        coverage.Snapshot();
        string? failure = Execute(input, lastView);
        _found = failure is null && coverage.MergeStable();
        return failure;
    }

    private string? Execute(byte[] input, MemoryMappedViewAccessor lastView)
    {
        lastView.Write(0, input.Length);
        lastView.WriteArray(4, input, 0, input.Length);
        _current = input;
        coverage.Reset();
        Volatile.Write(ref _runStarted, _clock.ElapsedMilliseconds);
        try
        {
            target.Run(input);
            return null;
        }
        catch (Exception e)
        {
            return e.ToString();
        }
        finally
        {
            Volatile.Write(ref _runStarted, -1);
            _execs++;
        }
    }

    /// <summary>Hang detection: a run that has not returned within the limit ends the process (exit 3).</summary>
    private void Watch(string crashes, CancellationToken stop)
    {
        while (!stop.WaitHandle.WaitOne(100))
        {
            long started = Volatile.Read(ref _runStarted);
            if (started >= 0 && _clock.ElapsedMilliseconds - started > options.HangLimit.TotalMilliseconds)
            {
                byte[] input = Volatile.Read(ref _current);
                string path = Path.Combine(crashes, "hang-" + Hash(input));
                File.WriteAllBytes(path, input);
                log.WriteLine($"{target.Name}: HANG: one run took over {options.HangLimit.TotalSeconds:0.#} s; input saved as {path}");
                log.WriteLine($"{target.Name}: the input in base64 (CI keeps no files): {Convert.ToBase64String(input)}");
                log.Flush();
                Environment.Exit(3);
            }
        }
    }

    private int Report(string crashes, byte[] input, string failure)
    {
        string path = Path.Combine(crashes, "crash-" + Hash(input));
        File.WriteAllBytes(path, input);
        log.WriteLine($"{target.Name}: CRASH after {_execs} runs; input saved as {path}");
        log.WriteLine($"{target.Name}: the input in base64 (CI keeps no files): {Convert.ToBase64String(input)}");
        log.WriteLine(failure);
        return 1;
    }

    private void Status()
    {
        double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 0.001);
        log.WriteLine($"{target.Name}: {_execs} runs ({_execs / seconds:0}/s), corpus {_corpus.Count}, {coverage.Edges} edges");
    }

    private IEnumerable<byte[]> LoadSeeds()
    {
        foreach (string dir in options.SeedDirs.Where(Directory.Exists))
        {
            foreach (string file in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
            {
                byte[] data = File.ReadAllBytes(file);
                yield return data.Length > target.MaxLength ? data[..target.MaxLength] : data;
            }
        }
    }

    internal static string Hash(byte[] data) => Convert.ToHexStringLower(SHA1.HashData(data))[..16];
}
