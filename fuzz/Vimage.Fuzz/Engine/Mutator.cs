using System.Buffers.Binary;

namespace Vimage.Fuzz.Engine;

/// <summary>
/// AFL-style havoc: a random stack of 1-16 edits — bit flips, random and "interesting" bytes/words, small
/// arithmetic, block deletes, duplicates and inserts, dictionary tokens and splices with another corpus entry.
/// </summary>
internal sealed class Mutator(Random random, IReadOnlyList<byte[]> dictionary, int maxLength)
{
    private static readonly int[] Interesting = [0, 1, -1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, int.MaxValue, int.MinValue, 16, 20, 32, 64, 100, 576, 1500, 4096, 65535];

    public byte[] Mutate(byte[] parent, Func<byte[]?> other)
    {
        var data = new List<byte>(parent);
        int edits = 1 << random.Next(5);
        for (int e = 0; e < edits; e++)
        {
            Edit(data, other);
        }

        if (data.Count > maxLength)
        {
            data.RemoveRange(maxLength, data.Count - maxLength);
        }

        return [.. data];
    }

    private void Edit(List<byte> data, Func<byte[]?> other)
    {
        if (data.Count == 0)
        {
            data.Add((byte)random.Next(256));
            return;
        }

        int at = random.Next(data.Count);
        switch (random.Next(12))
        {
            case 0:
                data[at] ^= (byte)(1 << random.Next(8));
                break;
            case 1:
                data[at] = (byte)random.Next(256);
                break;
            case 2:
                data[at] = (byte)Interesting[random.Next(Interesting.Length)];
                break;
            case 3:
                data[at] = (byte)(data[at] + random.Next(-35, 36));
                break;
            case 4 when data.Count - at >= 2:
            {
                Span<byte> word = stackalloc byte[2];
                BinaryPrimitives.WriteUInt16BigEndian(word, (ushort)Interesting[random.Next(Interesting.Length)]);
                data[at] = word[0];
                data[at + 1] = word[1];
                break;
            }

            case 5 when data.Count - at >= 4:
            {
                Span<byte> word = stackalloc byte[4];
                BinaryPrimitives.WriteInt32BigEndian(word, Interesting[random.Next(Interesting.Length)]);
                for (int i = 0; i < 4; i++)
                {
                    data[at + i] = word[i];
                }

                break;
            }

            case 6:
                data.RemoveRange(at, Math.Min(data.Count - at, 1 + random.Next(16)));
                break;
            case 7:
            {
                int length = Math.Min(data.Count - at, 1 + random.Next(32));
                data.InsertRange(random.Next(data.Count + 1), data.GetRange(at, length));
                break;
            }

            case 8:
                data.Insert(at, (byte)random.Next(256));
                break;
            case 9 when dictionary.Count > 0:
            {
                byte[] token = dictionary[random.Next(dictionary.Count)];
                if (random.Next(2) == 0)
                {
                    data.InsertRange(at, token);
                }
                else
                {
                    for (int i = 0; i < token.Length && at + i < data.Count; i++)
                    {
                        data[at + i] = token[i];
                    }
                }

                break;
            }

            case 10 when other() is { Length: > 0 } donor:
            {
                // Splice: keep a head of this input, append a tail of another.
                int from = random.Next(donor.Length);
                data.RemoveRange(at, data.Count - at);
                data.AddRange(donor.AsSpan(from).ToArray());
                break;
            }

            default:
                data[at] = (byte)~data[at];
                break;
        }
    }
}
