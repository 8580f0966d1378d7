using System.Diagnostics;
using Vimage.Core;

namespace Vimage.Net.Tests;

/// <summary>
/// packetdrill's --so_filename ABI on every run: builds libvimage_packetdrill.so (NativeAOT, this build mode) with
/// scripts/build-packetdrill-lib.sh and the C driver and sysctl shim with tests/packetdrill-driver/build.sh, then
/// runs the driver, which loads the library as packetdrill does and checks a handshake, data, FIN and RST exchange
/// packet by packet, and `sysctl` from a shell reaching the stack. Needs a C compiler (scripts/setup.sh installs gcc).
/// </summary>
public class PacketdrillDriverTests
{
    private static string RepoRoot()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
        {
            if (File.Exists(Path.Combine(d, "Vimage.sln")))
            {
                return d;
            }
        }

        throw new InvalidOperationException("Vimage.sln not found above " + AppContext.BaseDirectory);
    }

    private static bool HasCc() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(p => p.Length > 0 && File.Exists(Path.Combine(p, "cc")));

    private static (int Code, string Output) Run(string file, string[] args, TimeSpan timeout, Dictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach ((string k, string v) in env ?? [])
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            return (-1, $"{file} timed out after {timeout}\n{stdout.Result}{stderr.Result}");
        }

        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [SkippableFact]
    public void TheCDriverPlaysHandshakeDataFinAndRstThroughTheLibrary()
    {
        Skip.If(!HasCc(), "no C compiler (cc) on PATH: scripts/setup.sh installs gcc");
        string root = RepoRoot();
        string mode = Vnet.IsVimage ? "true" : "false";
        string outDir = Path.Combine(root, "artifacts", "packetdrill-test", mode);

        var clock = Stopwatch.StartNew();
        (int code, string output) = Run(Path.Combine(root, "scripts", "build-packetdrill-lib.sh"), [outDir], TimeSpan.FromMinutes(15),
            new() { ["VIMAGE"] = mode });
        Assert.True(code == 0, $"build-packetdrill-lib.sh failed ({code}):\n{output}");
        TimeSpan publish = clock.Elapsed;
        string lib = Path.Combine(outDir, "libvimage_packetdrill.so");
        Assert.True(File.Exists(lib), lib);

        (code, output) = Run(Path.Combine(root, "tests", "packetdrill-driver", "build.sh"), [outDir], TimeSpan.FromMinutes(2));
        Assert.True(code == 0, $"driver build failed ({code}):\n{output}");

        string path = Path.Combine(outDir, "bin") + ":" + Environment.GetEnvironmentVariable("PATH");
        (code, output) = Run(Path.Combine(outDir, "packetdrill-driver"), [lib], TimeSpan.FromMinutes(2), new() { ["PATH"] = path });
        Assert.True(code == 0, $"driver failed ({code}) after a {publish.TotalSeconds:F0} s publish:\n{output}");
        Assert.Contains("passive open, data, FIN: ok", output);
        Assert.Contains("RST on an established connection, closed and bound-only ports: ok", output);
        Assert.Contains("packetdrill has no live addresses", output); // the 0.0.0.0 packet's reason, on stderr
        Assert.Contains("sysctl from a shell: ok", output);
        Assert.Contains("0 failure(s)", output);
    }
}
