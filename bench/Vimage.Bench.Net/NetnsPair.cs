using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Vimage.Bench.Net;

/// <summary>
/// Two Linux network namespaces <c>{prefix}a-PID</c> and <c>{prefix}b-PID</c> joined by a veth pair
/// (<c>{ifPrefix}aPID</c> in the first, <c>{ifPrefix}bPID</c> in the second), IPv6 off in both. The Linux baselines
/// (<see cref="VethBaseline"/>, <see cref="InetLinux"/>) own one each. Deleting the namespaces destroys the pair;
/// that happens on <see cref="Dispose"/>, at process exit, on Ctrl+C and when the setup fails half-way.
/// </summary>
internal sealed class NetnsPair : IDisposable
{
    private int _disposed;

    private NetnsPair(string nsPrefix, string ifPrefix)
    {
        int pid = Environment.ProcessId;
        NsA = $"{nsPrefix}a-{pid}";
        NsB = $"{nsPrefix}b-{pid}";
        IfA = $"{ifPrefix}a{pid}"; // IFNAMSIZ: 15 characters at most
        IfB = $"{ifPrefix}b{pid}";
    }

    public string NsA { get; }

    public string NsB { get; }

    public string IfA { get; }

    public string IfB { get; }

    /// <summary>
    /// Creates the namespaces and the pair, or returns null with the reason it cannot be done (not Linux, not root,
    /// or the message of the first failure, in which case whatever was created is deleted again).
    /// </summary>
    /// <param name="nsPrefix">Namespace name prefix, e.g. <c>vbench-</c>.</param>
    /// <param name="ifPrefix">Interface name prefix, e.g. <c>vb</c>.</param>
    /// <param name="sockets">The sockets the caller needs root for, named in the "not root" reason.</param>
    /// <param name="macA">MAC address of end A, or null for the kernel's choice; <paramref name="macB"/> likewise.</param>
    /// <param name="cidrA">IPv4 address/prefix of end A, or null for none; <paramref name="cidrB"/> likewise.</param>
    /// <param name="ready">Runs once both ends are up; an exception from it fails the setup too.</param>
    public static NetnsPair? TryCreate(string nsPrefix, string ifPrefix, string sockets, string? macA, string? macB,
        string? cidrA, string? cidrB, Action<NetnsPair>? ready, out string reason)
    {
        reason = "";
        if (!OperatingSystem.IsLinux())
        {
            reason = "not Linux";
            return null;
        }

        if (Native.GetEuid() != 0)
        {
            reason = $"not root (creating network namespaces and {sockets} needs CAP_SYS_ADMIN and CAP_NET_RAW)";
            return null;
        }

        var pair = new NetnsPair(nsPrefix, ifPrefix);
        try
        {
            pair.Setup(macA, macB, cidrA, cidrB);
            ready?.Invoke(pair);
            return pair;
        }
        catch (Exception e)
        {
            pair.Dispose();
            reason = e.Message;
            return null;
        }
    }

    private void Setup(string? macA, string? macB, string? cidrA, string? cidrB)
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Dispose();
        Console.CancelKeyPress += (_, _) => Dispose();
        Ip($"netns add {NsA}");
        Ip($"netns add {NsB}");
        foreach (string ns in new[] { NsA, NsB })
        {
            // No IPv6 autoconfiguration traffic on the link while we count frames.
            TryRun("ip", $"netns exec {ns} sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
        }

        static string Address(string? mac) => mac is null ? "" : $" address {mac}";
        Ip($"-n {NsA} link add {IfA}{Address(macA)} type veth peer name {IfB} netns {NsB}{Address(macB)}");
        if (cidrA is not null)
        {
            Ip($"-n {NsA} addr add {cidrA} dev {IfA}");
        }

        if (cidrB is not null)
        {
            Ip($"-n {NsB} addr add {cidrB} dev {IfB}");
        }

        Ip($"-n {NsA} link set {IfA} up");
        Ip($"-n {NsB} link set {IfB} up");
    }

    /// <summary>Runs <paramref name="body"/> on a dedicated thread that entered network namespace <paramref name="ns"/>.</summary>
    internal static T InNetns<T>(string ns, Func<T> body)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                int fd = Native.Open("/var/run/netns/" + ns, Native.O_RDONLY | Native.O_CLOEXEC);
                if (fd < 0)
                {
                    throw new InvalidOperationException($"open /var/run/netns/{ns}: errno {Native.Errno}");
                }

                try
                {
                    if (Native.SetNs(fd, Native.CLONE_NEWNET) != 0)
                    {
                        throw new InvalidOperationException($"setns({ns}): errno {Native.Errno}");
                    }
                }
                finally
                {
                    Native.Close(fd);
                }

                // This thread now lives in the namespace and simply ends afterwards; no other thread is affected.
                result = body();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        { IsBackground = true, Name = "setns " + ns };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }

    internal static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return "?";
        }
    }

    internal static void Ip(string arguments)
    {
        (int code, string output) = TryRun("ip", arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"`ip {arguments}` failed ({code}): {output.Trim()}");
        }
    }

    internal static (int Code, string Output) TryRun(string file, string arguments)
    {
        try
        {
            var psi = new ProcessStartInfo(file, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using Process p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"{file}: {e.Message}");
        }
    }

    /// <summary>Deletes both namespaces (which destroys the veth pair). Idempotent; also runs at process exit and Ctrl+C.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        TryRun("ip", $"netns del {NsA}");
        TryRun("ip", $"netns del {NsB}");
    }
}
