namespace Vimage.Bench.Net;

/// <summary>How busy the (shared) machine is: printed around every run, since other load skews every figure.</summary>
internal static class MachineInfo
{
    /// <summary>Idle share of all CPUs over one second, from /proc/stat (100 where it cannot be read).</summary>
    public static double IdlePercent()
    {
        static (long Idle, long Total) Read()
        {
            long[] v = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
            return (v[3] + (v.Length > 4 ? v[4] : 0), v.Sum());
        }

        try
        {
            var (i0, t0) = Read();
            Thread.Sleep(1000);
            var (i1, t1) = Read();
            return t1 == t0 ? 100 : 100.0 * (i1 - i0) / (t1 - t0);
        }
        catch (IOException)
        {
            return 100;
        }
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
