using Vimage.Cli.Scenarios;
using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>The scenarios modelled on FreeBSD's vnet tests, run as FreeBSD runs them: a script of commands and atf_checks.</summary>
public class ScenarioTests
{
    public static TheoryData<string> Scenarios()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(ScenarioDirectory(), "*.sh").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void ScenarioPasses(string scenario)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int status = ScenarioRunner.Run(Path.Combine(ScenarioDirectory(), scenario), output, error);
        if (!Vnet.IsVimage)
        {
            // vnet_init skips a test that needs VIMAGE, as atf_skip does: the script stops at its first line.
            Assert.Equal(1, status);
            Assert.Contains("This test requires VIMAGE", output.ToString() + error.ToString());
            return;
        }

        Assert.True(status == 0, $"{scenario} failed ({status}):\n{error}\n{output}");
        Assert.Contains($"{scenario}: PASS", output.ToString());
    }

    [Fact]
    public void AFailingCheckStopsTheScriptAndNamesTheLine()
    {
        var error = new StringWriter();
        int status = new ScriptInterpreter(new StringWriter(), error).Run(
            "sysctl net.inet.ip.ttl\natf_check -o match:\"ttl: 99\" sysctl net.inet.ip.ttl\nsysctl -n net.inet.ip.ttl", "bad.sh");
        Assert.Equal(1, status);
        Assert.Contains("bad.sh:2: FAIL", error.ToString());
        Assert.Contains("does not match /ttl: 99/", error.ToString());
    }

    [Fact]
    public void WaitForRetriesTheCheckAndFailsNamingTheLineWhenItNeverHolds()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int status = new ScriptInterpreter(output, error).Run(
            "wait_for -o match:\"ttl: 64\" sysctl net.inet.ip.ttl\nwait_for -t 0.5 -o match:\"ttl: 99\" sysctl net.inet.ip.ttl\necho unreached", "w.sh");
        Assert.Equal(1, status);
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(0.5), "it retried for its whole limit");
        Assert.Contains("w.sh:2: FAIL: wait_for: still failing after 0.5 s: stdout of 'sysctl net.inet.ip.ttl' does not match /ttl: 99/", error.ToString());
        Assert.DoesNotContain("unreached", output.ToString()); // the script stopped at line 2
        Assert.Equal(64, new ScriptInterpreter(new StringWriter(), new StringWriter()).Run("wait_for -t x sysctl -a", "t.sh"));
    }

    [Fact]
    public void MalformedScriptsAreUsageErrors()
    {
        var error = new StringWriter();
        Assert.Equal(64, new ScriptInterpreter(new StringWriter(), error).Run("echo \"unterminated", "q.sh"));
        Assert.Contains("unterminated quote", error.ToString());
        Assert.Equal(64, new ScriptInterpreter(new StringWriter(), new StringWriter()).Run("ifconfig $nope", "v.sh"));
        Assert.Equal(64, new ScriptInterpreter(new StringWriter(), new StringWriter()).Run("atf_check -x 1 sysctl -a", "o.sh"));
        Assert.Equal(66, ScenarioRunner.Run("/nonexistent/scenario.sh", new StringWriter(), new StringWriter()));
    }

    private static string ScenarioDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "scenarios");
            if (Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "Vimage.sln")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("scenarios/ not found above " + AppContext.BaseDirectory);
    }
}
