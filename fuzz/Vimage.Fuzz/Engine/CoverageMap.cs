using System.Runtime.InteropServices;
using SharpFuzz.Common;

namespace Vimage.Fuzz.Engine;

/// <summary>
/// The edge-coverage bitmap SharpFuzz's instrumentation writes: each instrumented branch bumps
/// <c>SharedMem[cur ^ prev]</c> (AFL's scheme). Hit counts are put in AFL's buckets (1, 2, 3, 4-7, 8-15, 16-31,
/// 32-127, 128+) and an input is interesting when it sets a bucket bit never seen before.
/// </summary>
internal sealed unsafe class CoverageMap
{
    public const int Size = 1 << 16;
    private static readonly byte[] Buckets = BuildBuckets();
    private readonly byte* _trace;
    private readonly byte[] _virgin = new byte[Size];
    private readonly byte[] _snapshot = new byte[Size];
    private int _edges;

    /// <summary>
    /// Allocates the map and points the instrumentation at it: do this before any instrumented code runs. The map
    /// is never freed: background threads of the stack may still write to it until the process exits.
    /// </summary>
    public CoverageMap()
    {
        _trace = (byte*)NativeMemory.AllocZeroed(Size);
        Array.Fill(_virgin, (byte)0xff);
        Trace.SharedMem = _trace;
    }

    /// <summary>Edges (map slots) hit by any input so far.</summary>
    public int Edges => _edges;

    public void Reset()
    {
        new Span<byte>(_trace, Size).Clear();
        Trace.PrevLocation = 0;
    }

    /// <summary>True when the last run reached a new edge or a new hit-count bucket (nothing is recorded yet).</summary>
    public bool HasNew()
    {
        ulong* words = (ulong*)_trace;
        for (int w = 0; w < Size / 8; w++)
        {
            if (words[w] == 0)
            {
                continue; // most of the map is empty: skip eight slots at once
            }

            for (int i = w * 8; i < w * 8 + 8; i++)
            {
                if ((Buckets[_trace[i]] & _virgin[i]) != 0)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Keeps the last run's buckets aside for <see cref="MergeStable"/>.</summary>
    public void Snapshot()
    {
        for (int i = 0; i < Size; i++)
        {
            _snapshot[i] = Buckets[_trace[i]];
        }
    }

    /// <summary>
    /// Records what both the snapshot run and the last run (the same input, run again) reached, as AFL's
    /// calibration does: timers and workers of the stack also run instrumented code, and what they add by chance
    /// must not count as the input's coverage. True when that left something new.
    /// </summary>
    public bool MergeStable()
    {
        bool found = false;
        for (int i = 0; i < Size; i++)
        {
            byte bucket = (byte)(_snapshot[i] & Buckets[_trace[i]]);
            if (bucket != 0 && (bucket & _virgin[i]) != 0)
            {
                if (_virgin[i] == 0xff)
                {
                    _edges++;
                }

                _virgin[i] &= (byte)~bucket;
                found = true;
            }
        }

        return found;
    }

    /// <summary>Slots the last run touched (0 means the assemblies were not instrumented).</summary>
    public int Touched()
    {
        int n = 0;
        ulong* words = (ulong*)_trace;
        for (int w = 0; w < Size / 8; w++)
        {
            ulong v = words[w];
            for (; v != 0; v >>= 8)
            {
                n += (v & 0xff) != 0 ? 1 : 0;
            }
        }

        return n;
    }

    private static byte[] BuildBuckets()
    {
        var b = new byte[256];
        for (int n = 1; n < 256; n++)
        {
            b[n] = n switch
            {
                1 => 1,
                2 => 2,
                3 => 4,
                <= 7 => 8,
                <= 15 => 16,
                <= 31 => 32,
                <= 127 => 64,
                _ => 128,
            };
        }

        return b;
    }
}
