
namespace Vimage.Net.Tests;

/// <summary>Sets net.isr.dispatch (and optionally the depth limit) for one test and restores both.</summary>
internal sealed class DispatchScope : IDisposable
{
    private readonly NetisrPolicy _savedPolicy = NetisrDispatch.Policy;
    private readonly int _savedDepth = NetisrDispatch.MaxDepth;

    public DispatchScope(string mode, int maxDepth = 0)
    {
        Assert.True(NetisrDispatch.TryParse(mode, out NetisrPolicy policy), mode);
        NetisrDispatch.Policy = policy;
        if (maxDepth > 0)
        {
            NetisrDispatch.MaxDepth = maxDepth;
        }
    }

    /// <summary>The three policies, for Theory data.</summary>
    public static TheoryData<string> Modes => new() { "direct", "hybrid", "deferred" };

    public void Dispose()
    {
        NetisrDispatch.Policy = _savedPolicy;
        NetisrDispatch.MaxDepth = _savedDepth;
    }
}
