using System.Runtime.CompilerServices;

namespace Vimage.Core;

/// <summary>
/// VNET_PCPUSTAT: a statistics "struct" of 64-bit fields held as a per-vnet counter array. The fields are the
/// members of <typeparamref name="TField"/>, an enum listing them in FreeBSD's order with FreeBSD's names
/// (<c>ips_total</c>, ...), so <see cref="Inc"/> is one counter add at base + 8 * field. Declared as a
/// <c>[Vnet]</c> field, each vnet allocates its array when created and frees it when destroyed.
/// </summary>
public struct VnetPcpuStat<TField> : IPerVnetResource, IPcpuStat where TField : unmanaged, Enum
{
    private CounterArray _counters;

    /// <summary>The fields, in order (index = enum value).</summary>
    public static IReadOnlyList<string> FieldNames { get; } = BuildNames();

    public static int FieldCount => FieldNames.Count;

    public readonly bool IsAllocated => _counters.IsAllocated;

    /// <summary>The struct's name in sysctl's format string (S,ipstat).</summary>
    public readonly string StructName => typeof(TField).Name.ToLowerInvariant();

    /// <summary>VNET_PCPUSTAT_ADD.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Add(TField field, long value) => _counters.Add(Unsafe.As<TField, int>(ref field), value);

    /// <summary>STAT_INC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Inc(TField field) => Add(field, 1);

    /// <summary>VNET_PCPUSTAT_FETCH of one field.</summary>
    public readonly long Fetch(TField field) => _counters[Unsafe.As<TField, int>(ref field)].Fetch();

    /// <summary>COUNTER_ARRAY_COPY: the whole struct summed over CPUs.</summary>
    public readonly PcpuStatSnapshot Snapshot()
    {
        var values = new long[FieldCount];
        if (_counters.IsAllocated)
        {
            _counters.CopyTo(values);
        }

        return new PcpuStatSnapshot(FieldNames, values);
    }

    /// <summary>COUNTER_ARRAY_ZERO: what writing the OID (netstat -z) does.</summary>
    public readonly void Zero()
    {
        if (_counters.IsAllocated)
        {
            _counters.Zero();
        }
    }

    public void VnetInit()
    {
        if (!_counters.IsAllocated)
        {
            _counters = CounterArray.Alloc(FieldCount);
        }
    }

    public void VnetUninit()
    {
        if (_counters.IsAllocated)
        {
            CounterArray.Free(ref _counters);
        }
    }

    private static string[] BuildNames()
    {
        if (Enum.GetUnderlyingType(typeof(TField)) != typeof(int))
        {
            throw new NotSupportedException($"{typeof(TField).Name}: statistics fields must be an int enum");
        }

        TField[] values = Enum.GetValues<TField>();
        int count = values.Length == 0 ? 0 : values.Max(v => Unsafe.As<TField, int>(ref v)) + 1;
        if (count > CounterArray.MaxLength)
        {
            throw new NotSupportedException($"{typeof(TField).Name}: at most {CounterArray.MaxLength} statistics fields");
        }

        var names = new string[count];
        for (int i = 0; i < count; i++)
        {
            names[i] = $"field{i}"; // gaps (arrays such as icps_outhist[]) get positional names
        }

        foreach (TField value in values)
        {
            TField copy = value;
            names[Unsafe.As<TField, int>(ref copy)] = value.ToString();
        }

        return names;
    }
}

/// <summary>A statistics struct read out of a <see cref="VnetPcpuStat{TField}"/>: field names and their sums.</summary>
public sealed class PcpuStatSnapshot(IReadOnlyList<string> names, long[] values)
{
    public IReadOnlyList<string> Names { get; } = names;

    public IReadOnlyList<long> Values { get; } = values;

    public long this[string name]
    {
        get
        {
            for (int i = 0; i < Names.Count; i++)
            {
                if (Names[i] == name)
                {
                    return Values[i];
                }
            }

            throw new KeyNotFoundException($"no statistics field '{name}'");
        }
    }

    public override string ToString() => string.Join(' ', Names.Select((n, i) => $"{n}={Values[i]}"));
}
