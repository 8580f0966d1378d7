using Vimage.Core;
using Vimage.Net.Bpf;

namespace Vimage.Cli.Tests;

/// <summary>The README's main job runs on its embedded defaults and produces what it promises.</summary>
public class DemoTests
{
    [Fact]
    public void TheDemoPingsAcrossEchoesUdpAndWritesAReadablePcap()
    {
        string pcap = Path.Combine(Path.GetTempPath(), $"vimage-demo-{Guid.NewGuid():N}.pcap");
        var output = new StringWriter();
        try
        {
            Assert.Equal(0, Demo.Run(output, pcap));
            string text = output.ToString();
            if (!Vnet.IsVimage)
            {
                Assert.Contains("3 packets received, 0.0% packet loss", text);
                return;
            }

            Assert.Contains("[5/8] capture", text);
            Assert.Contains("[8/8] netstat -s deltas", text);
            Assert.Contains("33,554,432 bytes sent and counted by the server", text); // the TCP transfer, whole
            Assert.Contains("3 packets transmitted, 3 packets received, 0.0% packet loss", text);
            Assert.Matches(@"ttl=63", text); // through the router
            Assert.Equal(5, System.Text.RegularExpressions.Regex.Matches(text, "bytes echoed by 198.51.100.2:7").Count);
            Assert.Matches(@"\d+ packets forwarded \(\d+ packets fast forwarded\)", text);
            Assert.Contains("default            192.0.2.2          UGS", text);
            List<PcapRecord> records = PcapReader.ReadAllRecords(pcap);
            Assert.True(records.Count >= 16, $"{records.Count} packets captured");
            Assert.Contains(records, r => r.Data.Length > 34 && r.Data[23] == 1); // ICMP
            Assert.Contains(records, r => r.Data.Length > 34 && r.Data[23] == 17); // UDP
            Assert.DoesNotContain(Vnet.List(), v => v.Name is "client" or "router" or "server"); // cleaned up
        }
        finally
        {
            File.Delete(pcap);
        }
    }
}
