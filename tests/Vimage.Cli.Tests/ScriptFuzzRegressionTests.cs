using Vimage.Cli.Scenarios;

namespace Vimage.Cli.Tests;

/// <summary>
/// Scripts the fuzzer (fuzz/Vimage.Fuzz, target "script") found escaping the interpreter as exceptions: each must
/// instead be a malformed script (status 64) with a message naming the problem. The commands are the interpreter's
/// own (echo), so nothing outside the test runs.
/// </summary>
public class ScriptFuzzRegressionTests
{
    /// <summary>Runs a script; returns its status and everything it printed (a command's stderr goes to the output).</summary>
    private static (int Status, string Messages) Run(string script)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int status = new ScriptInterpreter(output, error).Run(script, "fuzz.sh");
        return (status, error.ToString() + output.ToString());
    }

    [Fact]
    public void AtfCheckWithOnlyOptionsIsAUsageError()
    {
        // Was: ArgumentOutOfRangeException from the empty command list.
        var (status, messages) = Run("atf_check -s exit:0 -o empty\n");
        Assert.Equal(64, status);
        Assert.Contains("atf_check: No command specified", messages);
    }

    [Theory]
    [InlineData("match:e(x")]
    [InlineData("not-match:[a-")]
    public void ABadRegularExpressionIsTheScriptsError(string check)
    {
        // Was: RegexParseException out of Run.
        var (status, messages) = Run($"atf_check -o {check} echo ex\n");
        Assert.Equal(64, status);
        Assert.Contains("atf_check: bad regular expression", messages);
    }

    [Fact]
    public void ABadEscapeInAnInlineCheckIsTheScriptsError()
    {
        // Was: RegexParseException from Regex.Unescape.
        var (status, messages) = Run("atf_check -o inline:\\\\q echo q\n");
        Assert.Equal(64, status);
        Assert.Contains("atf_check: bad escape in inline:", messages);
    }

    [Fact]
    public void APatternThatBacktracksWithoutEndIsStopped()
    {
        // Was: the match ran for hours (catastrophic backtracking on 40 a's and a mismatch).
        var (status, messages) = Run($"atf_check -o match:^(a+)+$ echo {new string('a', 40)}!\n");
        Assert.Equal(64, status);
        Assert.Contains("took over 2 s to match", messages);
    }

    [Theory]
    [InlineData("NaN")]
    [InlineData("-1")]
    [InlineData("-Infinity")]
    [InlineData("soon")]
    public void SleepRefusesAnIntervalThatIsNotATime(string interval)
    {
        // Was: NaN and -Infinity threw out of TimeSpan.FromSeconds, -1 out of Thread.Sleep (and -0.001 slept forever);
        // "soon" slept a second. Now sleep(1)'s error, and the script fails at that line.
        var (status, messages) = Run($"sleep {interval}\necho not reached\n");
        Assert.Equal(1, status);
        Assert.Contains($"sleep: invalid time interval: {interval}", messages);
        Assert.DoesNotContain("not reached", messages);
    }

    [Theory]
    [InlineData("vnet_cleanup")]
    [InlineData("vnet_mkepair")]
    public void AVnetHelperCannotRunInTheBackground(string helper)
    {
        // Was: "vnet_cleanup &" waited 30 s for its own job, and a helper in a job changed the interpreter's lists
        // from another thread while the script went on.
        var (status, messages) = Run($"{helper} &\nwait\n");
        Assert.Equal(64, status);
        Assert.Contains($"{helper} cannot run in the background", messages);
    }
}
