using System.Diagnostics;

namespace Vimage.Core.Tests;

/// <summary>Loader tunables act at start-up, before vnet0 exists: tested in a fresh process.</summary>
public class TunableTests
{
    private static (string Output, int Exit) RunProbe(Dictionary<string, string> environment)
    {
        string probe = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "tunable-probe.path")).Trim();
        var start = new ProcessStartInfo("dotnet", [probe]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment.Remove("VIMAGE_TUNABLES");
        start.Environment.Remove("VIMAGE_LOADER_CONF");
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "probe did not finish");
        return (output.Replace("\r", "", StringComparison.Ordinal), process.ExitCode);
    }

    [Fact]
    public void EnvironmentTunablesReachTheMasterBeforeVnet0()
    {
        var (output, exit) = RunProbe(new() { ["VIMAGE_TUNABLES"] = "probe.inet.ip.ttl=33;probe.kern.global=7" });
        Assert.Equal(0, exit);
        Assert.Contains("vnet0: ttl=33 global=7", output);
        if (Vnet.IsVimage)
        {
            Assert.Contains("later: ttl=33 global=7", output);
        }
    }

    [Fact]
    public void ALoaderConfFileWorksAndBadValuesAreReportedAndIgnored()
    {
        string conf = Path.GetTempFileName();
        try
        {
            File.WriteAllText(conf, "# loader.conf\nprobe.inet.ip.ttl=\"999\"\nprobe.kern.global=\"12\"\n");
            var (output, exit) = RunProbe(new() { ["VIMAGE_LOADER_CONF"] = conf });
            Assert.Equal(0, exit);
            Assert.Contains("vnet0: ttl=64 global=12", output); // 999 is out of range: the default stays
            Assert.Contains("error: tunable probe.inet.ip.ttl=\"999\" ignored", output);
        }
        finally
        {
            File.Delete(conf);
        }
    }
}
