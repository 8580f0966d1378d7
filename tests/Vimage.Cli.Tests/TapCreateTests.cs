using System.Diagnostics;
using Vimage.Net.Tap;

namespace Vimage.Cli.Tests;

/// <summary>
/// Vimage's <c>ifconfig tap create linuxname NAME netns NS queues N</c>: the Linux side is made where the user says,
/// with the user's name and queue count; bad values are refused before anything exists.
/// </summary>
public sealed class TapCreateTests
{
    [Theory]
    [InlineData("ifconfig tap create queues 0", "ifconfig: queues 0: bad value (1 to 16)")]
    [InlineData("ifconfig tap create queues 17", "ifconfig: queues 17: bad value (1 to 16)")]
    [InlineData("ifconfig tap create queues x", "ifconfig: queues x: bad value (1 to 16)")]
    [InlineData("ifconfig tap create linuxname a/b", "ifconfig: linuxname a/b: bad value (1 to 15 bytes, no '/', ':' or spaces)")]
    [InlineData("ifconfig tap create linuxname 0123456789abcdef", "ifconfig: linuxname 0123456789abcdef: bad value (1 to 15 bytes, no '/', ':' or spaces)")]
    [InlineData("ifconfig tap create netns vimage-no-such-ns", "ifconfig: netns vimage-no-such-ns: No such file or directory (no such network namespace; ip netns add vimage-no-such-ns)")]
    [InlineData("ifconfig tap create queues", "ifconfig: 'queues' requires argument")]
    [InlineData("ifconfig lo0 queues 2", "ifconfig: queues: only with 'ifconfig tap create' (a Vimage extension)")]
    public void Bad_values_create_nothing(string line, string message)
    {
        using var cli = new CliFixture();
        int before = TapLimits.Count;
        CliResult r = cli.Run(line);
        Assert.Equal(1, r.Exit);
        Assert.Equal(message + "\n", r.Err);
        Assert.Equal(before, TapLimits.Count);
    }

    [SkippableFact]
    public void Linux_name_namespace_and_queues_are_chosen_at_create_time()
    {
        Skip.IfNot(TapDevice.IsSupported, $"TAP not usable here: {TapDevice.UnsupportedReason}");
        Skip.IfNot(File.Exists("/usr/sbin/ip") || File.Exists("/sbin/ip") || File.Exists("/usr/bin/ip"), "needs ip(8) (iproute2)");
        string ns = "vimage-h16-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string linux = "vt16x" + (Environment.ProcessId % 10000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(0, Ip("netns", "add", ns).Exit);
        try
        {
            using var cli = new CliFixture();
            int before = TapLimits.Count;
            CliResult r = cli.Run($"ifconfig tap create linuxname {linux} netns {ns} queues 2");
            Assert.True(r.Exit == 0, r.ToString());
            string tap = r.Out.Trim();
            Assert.Matches("^tap[0-9]+$", tap);
            try
            {
                Assert.Equal(before + 1, TapLimits.Count);
                (int exit, string queues) = Ip("netns", "exec", ns, "ls", $"/sys/class/net/{linux}/queues");
                Assert.True(exit == 0, queues);
                Assert.Equal(["rx-0", "rx-1", "tx-0", "tx-1"], queues.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
                Assert.StartsWith($"{tap}: flags=", cli.Ok($"ifconfig {tap}")); // the vnet side is there

                // The name is taken in that namespace now: a second create fails whole, nothing is left.
                CliResult taken = cli.Run($"ifconfig tap create linuxname {linux} netns {ns}");
                Assert.Equal(1, taken.Exit);
                Assert.Equal($"ifconfig: SIOCIFCREATE2 (tap): Device busy (linuxname {linux} is taken in netns {ns})\n", taken.Err);
                Assert.Equal(before + 1, TapLimits.Count);
            }
            finally
            {
                cli.Ok($"ifconfig {tap} destroy");
            }

            Assert.Equal(before, TapLimits.Count);
            Assert.True(CliFixture.WaitFor(() => Ip("-n", ns, "link", "show", linux).Exit != 0), "the Linux side outlived ifconfig destroy");
        }
        finally
        {
            Ip("netns", "del", ns);
        }
    }

    private static (int Exit, string Out) Ip(params string[] args)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(10_000), "ip did not finish");
        return (p.ExitCode, output);
    }
}
