namespace Vimage.Core.Tests;

/// <summary>Leaves made on demand by a node handler look like registered ones to lookups, walks and writes.</summary>
public class SysctlNodeHandlerTests
{
    /// <summary>test.handled.&lt;n&gt;.value for every n in a set that changes at run time; value is writable.</summary>
    private sealed class Units(string root) : SysctlNodeHandler(root)
    {
        public readonly SortedDictionary<int, int> Values = [];

        public override SysctlOid? Find(string name)
        {
            foreach (int unit in Values.Keys)
            {
                if (name == $"{Root}.{unit}.value")
                {
                    return Sysctl.MakeProc(name, SysctlFlags.RW, "a unit's value", () => Values[unit], v => Values[unit] = v, 0, 100);
                }
            }

            return null;
        }

        public override bool IsNode(string name) => name == Root ? Values.Count > 0 : Values.Keys.Any(u => name == $"{Root}.{u}");

        public override IEnumerable<SysctlOid> Walk(string node)
            => Values.Keys.Select(u => Find($"{Root}.{u}.value")!).Where(o => IsAtOrBelow(o.Name, node));
    }

    [Fact]
    public void HandledLeavesAreFoundListedInNameOrderAndWritable()
    {
        var units = new Units("test.handled");
        Sysctl.AddNodeHandler(units);
        Sysctl.AddProc("test.handledx.after", SysctlFlags.RD, "sorts after the handled subtree", () => 1);
        units.Values[10] = 1;
        units.Values[9] = 2;

        Assert.Equal(2, Sysctl.Get("test.handled.9.value"));
        Assert.Equal("test.handled.10.value: 1 -> 42", Sysctl.SetAndReport("test.handled.10.value", "42"));
        Assert.Equal(42, units.Values[10]);
        Assert.Equal(SysctlError.InvalidValue, Assert.Throws<SysctlException>(() => Sysctl.Set("test.handled.9.value", "101")).Error);
        Assert.Equal(2, units.Values[9]); // nothing half-applied

        Assert.Equal(["test.handled.10.value", "test.handled.9.value", "test.handledx.after"],
            Sysctl.Walk("test").Select(o => o.Name).Where(n => n.StartsWith("test.handled", StringComparison.Ordinal)));
        Assert.Contains(Sysctl.Walk(), o => o.Name == "test.handled.9.value"); // sysctl -a
        Assert.Equal(["test.handled.9.value"], Sysctl.Walk("test.handled.9").Select(o => o.Name));
        Assert.Contains("test.handled.9.value: 2", Sysctl.List("test.handled"));

        Assert.True(Sysctl.Exists("test.handled.9"));
        Assert.Equal(SysctlError.IsNode, Assert.Throws<SysctlException>(() => Sysctl.Find("test.handled.9")).Error);
        Assert.Equal(SysctlError.UnknownOid, Assert.Throws<SysctlException>(() => Sysctl.Find("test.handled.8.value")).Error);

        units.Values.Clear(); // the instances went away: so did their leaves
        Assert.False(Sysctl.Exists("test.handled.9.value"));
        Assert.Equal(SysctlError.UnknownOid, Assert.Throws<SysctlException>(() => Sysctl.Walk("test.handled")).Error);
    }

    [Fact]
    public void AHandlerAndRegisteredLeavesCannotOverlap()
    {
        Sysctl.AddNodeHandler(new Units("test.overlap.handled"));
        Assert.Equal(SysctlError.Exists,
            Assert.Throws<SysctlException>(() => Sysctl.AddProc("test.overlap.handled.0.value", SysctlFlags.RD, "", () => 1)).Error);
        Assert.Equal(SysctlError.Exists, Assert.Throws<SysctlException>(() => Sysctl.AddNodeHandler(new Units("test.overlap"))).Error);
        Assert.Equal(SysctlError.Exists, Assert.Throws<SysctlException>(() => Sysctl.AddNodeHandler(new Units("test.overlap.handled.0"))).Error);
        Sysctl.AddProc("test.overlap.leaf", SysctlFlags.RD, "", () => 1);
        Assert.Equal(SysctlError.Exists, Assert.Throws<SysctlException>(() => Sysctl.AddNodeHandler(new Units("test.overlap.leaf"))).Error);
    }
}
