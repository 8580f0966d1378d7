using Vimage.Cli.Scenarios;
using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>The line interpreter (ScriptInterpreter, the fuzz target); the scenarios themselves run in sh (ShellTests).</summary>
public class ScenarioTests
{
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
}
