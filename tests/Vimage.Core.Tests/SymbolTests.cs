namespace Vimage.Core.Tests;

/// <summary>By-name access to any vnet's variables, as monitoring tools (netstat, kvm) need.</summary>
public class SymbolTests
{
    [Fact]
    public void EveryVariableHasASymbolWithNameTypeOffsetAndSize()
    {
        VnetSymbol ttl = VnetSymbols.Find("ip_defttl");
        Assert.Equal("Vimage.Core.Tests", ttl.Assembly);
        Assert.Equal("Vimage.Core.Tests.TestGlobals", ttl.DeclaringType);
        Assert.Equal(typeof(int), ttl.Type);
        Assert.Equal(4, ttl.Size);
        Assert.True(ttl.Offset >= 0);
        Assert.Equal(-1, ttl.Slot);
        VnetSymbol table = VnetSymbols.Find("Vimage.Core.Tests.TestGlobals.table");
        Assert.True(table.IsReference);
        Assert.Equal(-1, table.Offset);
        Assert.True(table.Slot >= 0);
        VnetSymbol big = VnetSymbols.Find("big_counter");
        Assert.Equal(0, big.Offset % 8); // naturally aligned
    }

    [Fact]
    public void ReadAndWriteAnyVnetsCopyByName()
    {
        Vnet v = Vnet.IsVimage ? Vnet.Create("sym") : Vnet.Vnet0;
        try
        {
            int before = (int)VnetSymbols.Read(v, "ip_defttl")!;
            VnetSymbols.Write(v, "ip_defttl", 123);
            Assert.Equal(123, TestGlobals.V_ip_defttl_In(v));
            Assert.Equal(123, VnetSymbols.Read(v, "ip_defttl"));
            Assert.Equal(BitConverter.GetBytes(123), VnetSymbols.ReadBytes(v, "ip_defttl"));
            VnetSymbols.Write(v, "hostname", "by-name");
            Assert.Equal("by-name", TestGlobals.V_hostname_In(v));
            if (Vnet.IsVimage)
            {
                Assert.Equal(64, TestGlobals.V_ip_defttl_In(Vnet.Vnet0)); // other vnets untouched
            }

            VnetSymbols.Write(v, "ip_defttl", before);
            VnetSymbols.Write(v, "hostname", null);
        }
        finally
        {
            if (v != Vnet.Vnet0)
            {
                v.Destroy();
            }
        }
    }

    [Fact]
    public void BadNamesAndWrongTypesAreRefused()
    {
        Assert.Contains("no vnet symbol", Assert.Throws<KeyNotFoundException>(() => VnetSymbols.Find("nope")).Message);
        Assert.Throws<ArgumentException>(() => VnetSymbols.Write(Vnet.Vnet0, "ip_defttl", "sixty-four"));
        Assert.Throws<ArgumentException>(() => VnetSymbols.Write(Vnet.Vnet0, "ip_defttl", 64L));
        Assert.Throws<ArgumentException>(() => VnetSymbols.Write(Vnet.Vnet0, "ip_defttl", null));
        Assert.Throws<ArgumentException>(() => VnetSymbols.ReadBytes(Vnet.Vnet0, "table"));
        Assert.Throws<ArgumentException>(() => VnetSymbols.Find(" "));
    }

#if VIMAGE
    [Fact]
    public void WritingTheMasterOnlyAffectsVnetsCreatedLater()
    {
        Vnet before = Vnet.Create("before-master");
        object? old = VnetSymbols.ReadMaster("ip_defttl");
        Assert.Equal(64, old);
        VnetSymbols.WriteMaster("ip_defttl", 200);
        Vnet after = Vnet.Create("after-master");
        try
        {
            Assert.Equal(64, TestGlobals.V_ip_defttl_In(before));
            Assert.Equal(64, TestGlobals.V_ip_defttl_In(Vnet.Vnet0));
            Assert.Equal(200, TestGlobals.V_ip_defttl_In(after));
        }
        finally
        {
            VnetSymbols.WriteMaster("ip_defttl", old);
            before.Destroy();
            after.Destroy();
        }
    }
#endif
}
