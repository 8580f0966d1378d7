using Vimage.Core;
using Vimage.Net.Inet;
using Vimage.Net.Netdb;

namespace Vimage.Net.Tests;

/// <summary>hosts(5) per vnet: getaddrinfo's order (literal, then the table), EAI_NONAME, names, isolation.</summary>
public sealed class HostsTests
{
    [Fact]
    public void Literal_first_then_the_table_then_EAI_NONAME()
    {
        Vnet v = Vnet.Vnet0;
        Hosts.Add(v, "db.hosts.test", InAddr.Parse("10.9.0.5"));
        Hosts.Add(v, "DB.hosts.test", InAddr.Parse("10.9.0.6")); // a later line with the same name: the first wins
        try
        {
            Assert.Equal(InAddr.Parse("10.9.0.5"), Hosts.Resolve(v, "db.hosts.test"));
            Assert.Equal(InAddr.Parse("10.9.0.5"), Hosts.Resolve(v, "Db.Hosts.Test.")); // case-insensitive, absolute
            Assert.Equal(InAddr.Parse("192.0.2.7"), Hosts.Resolve(v, "192.0.2.7"));
            Assert.Equal(InAddr.Loopback, Hosts.Resolve(v, "localhost"));
            NetdbException e = Assert.Throws<NetdbException>(() => Hosts.Resolve(v, "nowhere.hosts.test"));
            Assert.Equal(NetdbException.EAI_NONAME, e.Error);
            Assert.Equal("nowhere.hosts.test: hostname nor servname provided, or not known", e.Message);
        }
        finally
        {
            Assert.True(Hosts.Remove(v, "db.hosts.test")); // both lines
        }

        Assert.False(Hosts.TryResolve(v, "db.hosts.test", out _));
        Assert.False(Hosts.Remove(v, "db.hosts.test"));
    }

    [Fact]
    public void List_keeps_file_order_and_duplicates_are_one_line()
    {
        Vnet v = Vnet.Vnet0;
        int before = Hosts.List(v).Count;
        Hosts.Add(v, "b.hosts.test", "10.9.1.2");
        Hosts.Add(v, "a.hosts.test", "10.9.1.1");
        Hosts.Add(v, "b.hosts.test", "10.9.1.2");
        try
        {
            IReadOnlyList<HostEntry> list = Hosts.List(v);
            Assert.Equal(before + 2, list.Count);
            Assert.Equal(new HostEntry(InAddr.Parse("10.9.1.2"), "b.hosts.test"), list[^2]);
            Assert.Equal("10.9.1.1\ta.hosts.test", list[^1].ToString());
        }
        finally
        {
            Hosts.Remove(v, "a.hosts.test");
            Hosts.Remove(v, "b.hosts.test");
        }

        Assert.Equal(before, Hosts.List(v).Count);
    }

    [Theory]
    [InlineData("")]
    [InlineData("bad name")]
    [InlineData("a..b")]
    [InlineData("10.0.0.1")]
    [InlineData("x/y")]
    public void Invalid_names_are_refused_and_nothing_is_added(string name)
    {
        int before = Hosts.List(Vnet.Vnet0).Count;
        Assert.Throws<ArgumentException>(() => Hosts.Add(Vnet.Vnet0, name, InAddr.Parse("10.9.2.1")));
        Assert.Throws<ArgumentException>(() => Hosts.Add(Vnet.Vnet0, "ok.hosts.test", "10.9.2"));
        Assert.Equal(before, Hosts.List(Vnet.Vnet0).Count);
        Assert.False(Hosts.IsValidName(new string('a', 64)));
        Assert.True(Hosts.IsValidName("svc_1.internal-zone.test"));
    }

    [Fact]
    public void The_table_is_bounded()
    {
        Vnet v = Vnet.IsVimage ? Vnet.Create("hosts-full") : Vnet.Vnet0;
        int before = Hosts.List(v).Count;
        try
        {
            for (int i = before; i < Hosts.MaxEntries; i++)
            {
                Hosts.Add(v, $"h{i}.full.test", new InAddr(0x0a0a0000u + (uint)i));
            }

            Assert.Throws<InvalidOperationException>(() => Hosts.Add(v, "one-more.full.test", InAddr.Parse("10.9.3.1")));
            Assert.Equal(Hosts.MaxEntries, Hosts.List(v).Count);
        }
        finally
        {
            for (int i = before; i < Hosts.MaxEntries; i++)
            {
                Hosts.Remove(v, $"h{i}.full.test");
            }

            if (v != Vnet.Vnet0)
            {
                v.Destroy();
            }
        }
    }

    [SkippableFact]
    public void Each_vnet_has_its_own_table_and_a_dead_vnet_has_none()
    {
        Skip.IfNot(Vnet.IsVimage, "one table without VIMAGE");
        Vnet a = Vnet.Create("hosts-a"), b = Vnet.Create("hosts-b");
        try
        {
            Hosts.Add(a, "svc.hosts.test", "10.9.4.1");
            Hosts.Add(b, "svc.hosts.test", "10.9.4.2");
            Assert.Equal(InAddr.Parse("10.9.4.1"), Hosts.Resolve(a, "svc.hosts.test"));
            Assert.Equal(InAddr.Parse("10.9.4.2"), Hosts.Resolve(b, "svc.hosts.test"));
            Assert.False(Hosts.TryResolve(Vnet.Vnet0, "svc.hosts.test", out _));
            Assert.Equal([new HostEntry(InAddr.Loopback, "localhost"), new HostEntry(InAddr.Parse("10.9.4.1"), "svc.hosts.test")], Hosts.List(a));
        }
        finally
        {
            a.Destroy();
            b.Destroy();
        }

        Assert.Throws<ObjectDisposedException>(() => Hosts.Resolve(a, "svc.hosts.test"));
    }
}
