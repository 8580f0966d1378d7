using Vimage.Cli.Host;
using Vimage.Fuzz.Engine;

namespace Vimage.Fuzz.Targets;

/// <summary>
/// host: the host protocol decoder — length-prefixed frames read from a stream, each parsed as a request and as a
/// response. A malformed frame must end in <see cref="ProtocolException"/> (the host answers it with an error
/// frame and exit 76); any other exception is a crash.
/// </summary>
internal sealed class HostTarget : IFuzzTarget
{
    public string Name => "host";

    public int MaxLength => 8192;

    public IReadOnlyList<byte[]> Dictionary { get; } = new[]
    {
        "{", "}", "[", "]", "\"argv\"", "\"op\"", "\"cwd\"", "\"env\"", "\"out\"", "\"err\"", "\"error\"", "\"exit\"", ":", ",", "null",
        "true", "1e999", "-0", "\"run\"", "\"status\"", "\"shutdown\"", "\\u0000", "\\ud800", "\"", "2147483648", "{\"a\":",
    }.Select(t => System.Text.Encoding.UTF8.GetBytes(t)).Concat([[0, 0, 0, 0], [0, 0, 0, 2], [0, 0x10, 0, 0], [0x7f, 0xff, 0xff, 0xff]]).ToArray();

    public void Run(ReadOnlySpan<byte> input)
    {
        using var stream = new MemoryStream(input.ToArray(), writable: false);
        try
        {
            for (int frames = 0; frames < 16; frames++)
            {
                byte[]? payload = HostProtocol.ReadFrameAsync(stream, CancellationToken.None).GetAwaiter().GetResult();
                if (payload is null)
                {
                    return;
                }

                Parse(payload, HostProtocol.ParseRequest);
                Parse(payload, HostProtocol.ParseResponse);
            }
        }
        catch (ProtocolException)
        {
            // a framing error: the documented refusal
        }
    }

    public string? Teardown() => null;

    private static void Parse<T>(byte[] payload, Func<byte[], T> parse)
    {
        try
        {
            parse(payload);
        }
        catch (ProtocolException)
        {
            // a bad request or response: the documented refusal
        }
    }
}
