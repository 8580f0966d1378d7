using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vimage.Cli.Host;

/// <summary>
/// One request from a client (see Protocol.md): <c>{"argv": [...], "cwd": "...", "env": {...}}</c> runs a command;
/// <c>{"op": "shutdown"}</c> stops the host; <c>{"op": "status"}</c> describes it.
/// </summary>
public sealed class HostRequest
{
    /// <summary>"run" (the default when absent), "status" or "shutdown".</summary>
    [JsonPropertyName("op")]
    public string? Op { get; set; }

    [JsonPropertyName("argv")]
    public string?[]? Argv { get; set; }

    /// <summary>The client's working directory (informational: commands run with the host's own).</summary>
    [JsonPropertyName("cwd")]
    public string? Cwd { get; set; }

    /// <summary>Optional environment overrides (informational: the host's environment is process-wide).</summary>
    [JsonPropertyName("env")]
    public Dictionary<string, string>? Env { get; set; }

    /// <summary>True: the client streams its stdin when the host asks (<c>{"read": N}</c>); absent, stdin is empty.</summary>
    [JsonPropertyName("stdin")]
    public bool? Stdin { get; set; }

    /// <summary>After the request, on a grant: up to N bytes of the client's stdin (base64 in JSON).</summary>
    [JsonPropertyName("in")]
    public byte[]? In { get; set; }

    /// <summary>After the request, on a grant: the client's stdin reached end of file.</summary>
    [JsonPropertyName("eof")]
    public bool? Eof { get; set; }
}

/// <summary>
/// One response frame. Exactly one member is set: <c>out</c>/<c>err</c> stream text as the command writes it,
/// <c>error</c> reports a protocol-level refusal, and <c>exit</c> is always last.
/// </summary>
public sealed class HostResponse
{
    [JsonPropertyName("out")]
    public string? Out { get; set; }

    [JsonPropertyName("err")]
    public string? Err { get; set; }

    [JsonPropertyName("error")]
    public string? Error { get; set; }

    [JsonPropertyName("exit")]
    public int? Exit { get; set; }

    /// <summary>Binary stdout (base64 in JSON): nc's data, copied to the client's stdout byte for byte.</summary>
    [JsonPropertyName("data")]
    public byte[]? Data { get; set; }

    /// <summary>A grant: the command reads stdin; the client may send one <c>in</c> frame of at most N bytes (or <c>eof</c>).</summary>
    [JsonPropertyName("read")]
    public int? Read { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(HostRequest))]
[JsonSerializable(typeof(HostResponse))]
internal sealed partial class HostJsonContext : JsonSerializerContext;

/// <summary>A frame the peer sent that is not a valid request or response.</summary>
public sealed class ProtocolException(string message) : Exception(message);

/// <summary>Length-prefixed frames: a 4-byte big-endian payload length, then that many bytes of UTF-8 JSON.</summary>
public static class HostProtocol
{
    /// <summary>Largest payload either side accepts.</summary>
    public const int MaxFrame = 1 << 20;

    // sysexits(3) statuses the host and the client use.
    public const int ExitUsage = 64;
    public const int ExitUnavailable = 69;
    public const int ExitSoftware = 70;
    public const int ExitOsErr = 71;
    public const int ExitTempFail = 75;
    public const int ExitProtocol = 76;
    public const int ExitNoPerm = 77;

    public static byte[] Encode(HostRequest request) => Frame(JsonSerializer.SerializeToUtf8Bytes(request, HostJsonContext.Default.HostRequest));

    public static byte[] Encode(HostResponse response) => Frame(JsonSerializer.SerializeToUtf8Bytes(response, HostJsonContext.Default.HostResponse));

    public static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var frame = new byte[4 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(4));
        return frame;
    }

    /// <summary>Reads one frame's payload; null on a clean end of stream before any byte of it.</summary>
    /// <exception cref="ProtocolException">Oversized length or a stream cut inside the frame.</exception>
    public static Task<byte[]?> ReadFrameAsync(Stream stream, CancellationToken cancel) => ReadFrameAsync(stream, MaxFrame, cancel);

    /// <summary>The same, refusing payloads over <paramref name="limit"/> bytes before allocating anything for them.</summary>
    public static async Task<byte[]?> ReadFrameAsync(Stream stream, int limit, CancellationToken cancel)
    {
        var header = new byte[4];
        int got = await ReadAtLeastAsync(stream, header, cancel).ConfigureAwait(false);
        if (got == 0)
        {
            return null;
        }

        if (got < 4)
        {
            throw new ProtocolException("truncated frame header");
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length > limit)
        {
            throw new ProtocolException($"frame of {length} bytes exceeds the {limit} byte limit");
        }

        var payload = new byte[length];
        if (await ReadAtLeastAsync(stream, payload, cancel).ConfigureAwait(false) < length)
        {
            throw new ProtocolException("truncated frame");
        }

        return payload;
    }

    public static HostRequest ParseRequest(byte[] payload)
    {
        HostRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(payload, HostJsonContext.Default.HostRequest);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            throw new ProtocolException("bad request: " + e.Message);
        }

        return request ?? throw new ProtocolException("bad request: null");
    }

    public static HostResponse ParseResponse(byte[] payload)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, HostJsonContext.Default.HostResponse) ?? throw new ProtocolException("bad response: null");
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            throw new ProtocolException("bad response: " + e.Message);
        }
    }

    private static async Task<int> ReadAtLeastAsync(Stream stream, byte[] buffer, CancellationToken cancel)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(total), cancel).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }
}
