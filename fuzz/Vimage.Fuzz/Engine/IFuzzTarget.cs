namespace Vimage.Fuzz.Engine;

/// <summary>
/// One parser under test. <see cref="Run"/> feeds it one input; the parser's documented rejections (a clean error
/// or a counted drop) are handled inside, so any exception that escapes is a crash. Built only after the coverage
/// map is installed: its setup already runs instrumented code.
/// </summary>
internal interface IFuzzTarget
{
    string Name { get; }

    /// <summary>Inputs are cut to this many bytes.</summary>
    int MaxLength { get; }

    /// <summary>Tokens the mutator may insert (keywords, magic numbers, field values).</summary>
    IReadOnlyList<byte[]> Dictionary { get; }

    void Run(ReadOnlySpan<byte> input);

    /// <summary>End of run: releases what the target built and checks nothing leaked; the problem, or null.</summary>
    string? Teardown();
}
