using System.Buffers.Binary;

namespace Vimage.Fuzz.Targets;

/// <summary>
/// Splits a fuzz input into records of [header bytes][2-byte big-endian length][that many bytes]; a last record
/// shorter than its length keeps what is there. Lets one input be a sequence of frames or fragments.
/// </summary>
internal static class Records
{
    public static List<(byte[] Header, byte[] Body)> Split(ReadOnlySpan<byte> input, int headerLength, int maxRecords)
    {
        var records = new List<(byte[], byte[])>();
        while (input.Length >= headerLength + 2 && records.Count < maxRecords)
        {
            byte[] header = input[..headerLength].ToArray();
            int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input[headerLength..]), input.Length - headerLength - 2);
            input = input[(headerLength + 2)..];
            records.Add((header, input[..length].ToArray()));
            input = input[length..];
        }

        return records;
    }

    /// <summary>The inverse, for building seeds.</summary>
    public static byte[] Join(IEnumerable<(byte[] Header, byte[] Body)> records)
    {
        var output = new List<byte>();
        foreach (var (header, body) in records)
        {
            output.AddRange(header);
            output.Add((byte)(body.Length >> 8));
            output.Add((byte)body.Length);
            output.AddRange(body);
        }

        return [.. output];
    }
}
