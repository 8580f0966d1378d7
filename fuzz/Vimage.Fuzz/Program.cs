using Vimage.Fuzz;
using Vimage.Fuzz.Engine;
using Vimage.Fuzz.Targets;

// Vimage.Fuzz: coverage-guided fuzzing of the parsers that take outside bytes. scripts/fuzz.sh builds this,
// instruments the Vimage assemblies in a copy of the output with SharpFuzz and runs every target.
//
//   Vimage.Fuzz list
//   Vimage.Fuzz run TARGET [--seconds N] [--work DIR] [--corpus DIR]... [--seed N] [--hang-seconds N] [--require-instrumentation]
//   Vimage.Fuzz repro TARGET FILE...      run saved inputs once each (exit 1 if any crashes)
//   Vimage.Fuzz salvage WORK              keep WORK/last-input (the input of a run that killed the process)
//   Vimage.Fuzz afl TARGET                under afl-fuzz (AFL++): SharpFuzz's fork server, input on stdin
//   Vimage.Fuzz seeds DIR                 write the hand-made seed corpus (fuzz/corpus)

// The instrumentation writes through Trace.SharedMem from the first instrumented instruction on: install the map
// before anything touches a Vimage type.
var coverage = new CoverageMap();
var targets = new Dictionary<string, Func<IFuzzTarget>>(StringComparer.Ordinal)
{
    ["frame"] = () => new FrameTarget(),
    ["reass"] = () => new ReassTarget(),
    ["host"] = () => new HostTarget(),
    ["script"] = () => new ScriptTarget(),
    ["pcap"] = () => new PcapTarget(),
    ["sysctl"] = () => new SysctlTarget(),
};

const string Usage = "usage: Vimage.Fuzz list | run TARGET [--seconds N] [--work DIR] [--corpus DIR]... [--seed N] [--hang-seconds N] " +
                     "[--require-instrumentation] | repro TARGET FILE... | salvage WORK | seeds DIR | afl TARGET";
if (args.Length == 0)
{
    Console.Error.WriteLine(Usage);
    return 64;
}

switch (args[0])
{
    case "list":
        Console.WriteLine(string.Join('\n', targets.Keys));
        return 0;
    case "seeds" when args.Length == 2:
        SeedCorpus.Write(args[1]);
        return 0;
    case "salvage" when args.Length == 2:
        return Salvage(args[1]);
    case "repro" when args.Length >= 3 && targets.ContainsKey(args[1]):
        return Repro(targets[args[1]](), args[2..]);
    case "afl" when args.Length == 2 && targets.ContainsKey(args[1]):
        return Afl(targets[args[1]]());
    case "run" when args.Length >= 2 && targets.ContainsKey(args[1]):
        return Run(args[1], args[2..]);
    default:
        Console.Error.WriteLine(Usage);
        Console.Error.WriteLine("targets: " + string.Join(", ", targets.Keys));
        return 64;
}

int Run(string name, string[] options)
{
    double seconds = 10, hang = 10;
    int seed = Environment.TickCount;
    string work = Path.Combine("artifacts", "fuzz", name);
    var corpora = new List<string>();
    bool require = false;
    for (int i = 0; i < options.Length; i++)
    {
        string? value = i + 1 < options.Length ? options[i + 1] : null;
        switch (options[i])
        {
            case "--seconds" when double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out seconds): i++; break;
            case "--hang-seconds" when double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out hang): i++; break;
            case "--seed" when int.TryParse(value, out seed): i++; break;
            case "--work" when value is not null: work = value; i++; break;
            case "--corpus" when value is not null: corpora.Add(value); i++; break;
            case "--require-instrumentation": require = true; break;
            default:
                Console.Error.WriteLine($"Vimage.Fuzz run: bad option {options[i]}");
                Console.Error.WriteLine(Usage);
                return 64;
        }
    }

    Directory.CreateDirectory(work);
    corpora.Add(Path.Combine(work, "corpus")); // what earlier runs found: a long run resumes from it
    var fuzzOptions = new FuzzOptions(TimeSpan.FromSeconds(seconds), corpora, work, TimeSpan.FromSeconds(hang), seed, require);
    return new FuzzLoop(targets[name](), coverage, fuzzOptions, Console.Out).Run();
}

// The same targets under AFL++ instead of the built-in loop, for long runs on a machine that has afl-fuzz:
// SharpFuzz's persistent fork server repoints Trace.SharedMem at AFL's map and reports an escaped exception as a crash.
static int Afl(IFuzzTarget target)
{
    var buffer = new byte[target.MaxLength];
    SharpFuzz.Fuzzer.Run(stream =>
    {
        int length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        target.Run(buffer.AsSpan(0, length));
    });
    return 0;
}

static int Repro(IFuzzTarget target, string[] files)
{
    int status = 0;
    foreach (string file in files)
    {
        try
        {
            target.Run(File.ReadAllBytes(file));
            Console.WriteLine($"{file}: ok");
        }
        catch (Exception e)
        {
            Console.WriteLine($"{file}: CRASH\n{e}");
            status = 1;
        }
    }

    return status;
}

static int Salvage(string work)
{
    string last = Path.Combine(work, "last-input");
    if (!File.Exists(last))
    {
        Console.Error.WriteLine($"Vimage.Fuzz salvage: {last}: no such file");
        return 66;
    }

    byte[] raw = File.ReadAllBytes(last);
    int length = raw.Length >= 4 ? BitConverter.ToInt32(raw, 0) : -1;
    if (length < 0 || length > raw.Length - 4)
    {
        Console.Error.WriteLine($"Vimage.Fuzz salvage: {last}: no input recorded");
        return 65;
    }

    byte[] input = raw[4..(4 + length)];
    string path = Path.Combine(work, "crashes", "fatal-" + FuzzLoop.Hash(input));
    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
    File.WriteAllBytes(path, input);
    Console.WriteLine(path);
    return 0;
}
