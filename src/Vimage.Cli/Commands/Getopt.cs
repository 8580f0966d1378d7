namespace Vimage.Cli.Commands;

/// <summary>
/// getopt(3) as FreeBSD's libc implements it, shared by every command: options are single letters after '-',
/// clustered (<c>-nc1</c>); a letter followed by ':' in the optstring takes an argument, attached (<c>-c1</c>) or
/// the next word (<c>-c 1</c>); parsing stops at the first operand (no permutation), at "--" (consumed) or at a
/// lone "-" (an operand). Errors are getopt's own messages, "prog: illegal option -- x" and
/// "prog: option requires an argument -- x", thrown as <see cref="UsageException"/> so the dispatcher adds the
/// tool's usage and exits 64 (EX_USAGE). Long options (getopt_long, "--name value" or "--name=value") are
/// recognised only when the caller lists them.
/// </summary>
public sealed class Getopt
{
    private readonly string _prog;
    private readonly string[] _args;
    private readonly string _optstring;
    private readonly IReadOnlyDictionary<string, bool>? _longOptions;
    private int _place; // index of the next letter inside args[Optind]; 0 = start a new word

    public Getopt(string prog, string[] args, string optstring, IReadOnlyDictionary<string, bool>? longOptions = null, int optind = 0)
    {
        _prog = prog;
        _args = args;
        _optstring = optstring;
        _longOptions = longOptions;
        Optind = optind;
    }

    /// <summary>Index of the next word to process; after <see cref="Next"/> returns -1, the first operand.</summary>
    public int Optind { get; private set; }

    /// <summary>The argument of the option just returned, or null.</summary>
    public string? Optarg { get; private set; }

    /// <summary>The long option just returned (when <see cref="Next"/> gave <see cref="LongOption"/>).</summary>
    public string? LongName { get; private set; }

    /// <summary>What <see cref="Next"/> returns for a long option: read <see cref="LongName"/>.</summary>
    public const int LongOption = 0x10000;

    /// <summary>The operands: every word from <see cref="Optind"/> on.</summary>
    public string[] Operands => _args[Optind..];

    /// <summary>Whether <paramref name="option"/> takes an argument in <paramref name="optstring"/>; null when not in it.</summary>
    public static bool? TakesArgument(string optstring, char option)
    {
        int at = option == ':' ? -1 : optstring.IndexOf(option);
        return at < 0 ? null : at + 1 < optstring.Length && optstring[at + 1] == ':';
    }

    /// <summary>The next option letter, <see cref="LongOption"/>, or -1 when the options are over.</summary>
    public int Next()
    {
        Optarg = null;
        LongName = null;
        if (_place == 0)
        {
            if (Optind >= _args.Length)
            {
                return -1;
            }

            string word = _args[Optind];
            if (word.Length < 2 || word[0] != '-')
            {
                return -1;
            }

            if (word == "--")
            {
                Optind++;
                return -1;
            }

            if (word.StartsWith("--", StringComparison.Ordinal) && _longOptions is not null)
            {
                return NextLong(word[2..]);
            }

            _place = 1;
        }

        string current = _args[Optind];
        char c = current[_place++];
        bool? takes = TakesArgument(_optstring, c);
        bool wordDone = _place >= current.Length;
        if (takes is null)
        {
            Advance(wordDone);
            throw new UsageException($"{_prog}: illegal option -- {c}");
        }

        if (takes == false)
        {
            Advance(wordDone);
            return c;
        }

        if (!wordDone)
        {
            Optarg = current[_place..];
            Advance(true);
            return c;
        }

        Advance(true);
        if (Optind >= _args.Length)
        {
            throw new UsageException($"{_prog}: option requires an argument -- {c}");
        }

        Optarg = _args[Optind++];
        return c;
    }

    private int NextLong(string body)
    {
        Optind++;
        int eq = body.IndexOf('=');
        string name = eq < 0 ? body : body[..eq];
        if (!_longOptions!.TryGetValue(name, out bool hasArg))
        {
            throw new UsageException($"{_prog}: unrecognized option `--{name}'");
        }

        LongName = name;
        if (!hasArg)
        {
            return eq < 0 ? LongOption : throw new UsageException($"{_prog}: option doesn't take an argument -- {name}");
        }

        if (eq >= 0)
        {
            Optarg = body[(eq + 1)..];
        }
        else if (Optind < _args.Length)
        {
            Optarg = _args[Optind++];
        }
        else
        {
            throw new UsageException($"{_prog}: option requires an argument -- {name}");
        }

        return LongOption;
    }

    private void Advance(bool wordDone)
    {
        if (wordDone)
        {
            Optind++;
            _place = 0;
        }
    }
}

/// <summary>An option FreeBSD's tool accepts but Vimage does not implement: exit 1 with the reason, nothing applied.</summary>
public static class Unsupported
{
    public static CommandException Option(string prog, int option, string reason) => new($"{prog}: -{(char)option}: {reason}");
}
