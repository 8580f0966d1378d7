using Vimage.Core;

namespace Vimage.Cli.Tests;

/// <summary>Every command of the tool, once, through a real host process (protocol frames over its socket).</summary>
public sealed class HostCommandTests(HostProcess host) : IClassFixture<HostProcess>
{
    [Fact]
    public async Task EveryCommandWorksAgainstARealHost()
    {
        (int Exit, string Out, string Err) Ok(params string[] argv)
        {
            var r = host.Exec(argv);
            Assert.True(r.Exit == 0, $"{string.Join(' ', argv)} exited {r.Exit}: {r.Err}");
            return r;
        }

        string a = Ok("ifconfig", "epair", "create").Out.Trim();
        Assert.Matches(@"^epair\d+a$", a);
        string b = a[..^1] + "b";
        Ok("ifconfig", a, "inet", "192.0.2.1/24", "up");
        Ok("sysctl", "net.inet.ip.ttl");
        Assert.Contains(a, Ok("ifconfig", "-l").Out);
        if (!Vnet.IsVimage)
        {
            var refused = host.Exec("jail", "-c", "name=cmd", "vnet");
            Assert.Equal(1, refused.Exit);
            Assert.Contains("VIMAGE", refused.Err);
            Ok("ifconfig", a, "destroy");
            return;
        }

        Ok("jail", "-c", "name=cmd", "vnet", $"vnet.interface={b}");
        Assert.Contains("cmd", Ok("jls").Out);
        Ok("jexec", "cmd", "ifconfig", b, "inet", "192.0.2.2/24", "up");
        Ok("jexec", "cmd", "route", "add", "default", "192.0.2.1");
        Assert.Contains("default            192.0.2.1", Ok("jexec", "cmd", "netstat", "-rn").Out);
        Assert.Contains("192.0.2.1", Ok("jexec", "cmd", "route", "get", "198.51.100.7").Out);

        // tcpdump says "listening on" once it is attached; then 2 echoes (4 packets, and ARP) cross: -c 3 keeps 3.
        string pcap = Path.Combine(Path.GetTempPath(), $"vimage-cmd-{Guid.NewGuid():N}.pcap");
        var attached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<(int Exit, string Out, string Err)> capture = Task.Run(() => host.Exec(
            err => { if (err.Contains($"tcpdump: listening on {a}")) attached.TrySetResult(); },
            "tcpdump", "-i", a, "-w", pcap, "-c", "3", "--duration", "20"));
        await Task.WhenAny(attached.Task, capture).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(attached.Task.IsCompleted, "tcpdump ended without attaching: " + (capture.IsCompleted ? (await capture).Err : ""));
        Assert.Contains("2 packets received", Ok("ping", "-c", "2", "-i", "0.2", "192.0.2.2").Out);
        var dumped = await capture;
        Assert.Equal(0, dumped.Exit);
        Assert.Contains("3 packets captured", dumped.Err);
        Assert.Equal(3, Vimage.Net.Bpf.PcapReader.ReadAllRecords(pcap).Count);
        File.Delete(pcap);

        Assert.Matches(@"\? \(192\.0\.2\.1\) at [0-9a-f:]{17} on " + b, Ok("jexec", "cmd", "arp", "-an").Out);
        Ok("jexec", "cmd", "arp", "-s", "192.0.2.9", "90:10:00:01:02:03");
        Assert.Contains("deleted", Ok("jexec", "cmd", "arp", "-d", "192.0.2.9").Out);
        Assert.Contains("echo: 2", Ok("jexec", "cmd", "netstat", "-sp", "icmp").Out);
        Assert.Matches(b + @"\s+1500", Ok("jexec", "cmd", "netstat", "-iW").Out); // without -W names are cut to 5 columns
        Ok("jexec", "cmd", "netstat", "-z");
        Assert.DoesNotContain("echo: 2", Ok("jexec", "cmd", "netstat", "-sp", "icmp").Out);
        Assert.Equal("net.inet.ip.forwarding: 0 -> 1", Ok("jexec", "cmd", "sysctl", "net.inet.ip.forwarding=1").Out.Trim());
        Assert.Equal("0", Ok("sysctl", "-n", "net.inet.ip.forwarding").Out.Trim());
        Ok("ifconfig", b, "-vnet", "cmd");
        Ok("ifconfig", b, "vnet", "cmd");
        Ok("ifconfig", "-j", "cmd", b, "mtu", "1400");
        Assert.Contains("mtu 1400", Ok("jexec", "cmd", "ifconfig", b).Out);
        var noReply = host.Exec("jexec", "cmd", "ping", "-c", "1", "-W", "300", "192.0.2.77");
        Assert.Equal(2, noReply.Exit);
        var usage = host.Exec("route", "add");
        Assert.Equal(64, usage.Exit);
        Assert.Contains("usage:", usage.Err);
        Ok("jail", "-r", "cmd");
        Assert.Contains(b, Ok("ifconfig", "-l").Out); // loaned interface came home
        Ok("ifconfig", a, "destroy");
    }
}
