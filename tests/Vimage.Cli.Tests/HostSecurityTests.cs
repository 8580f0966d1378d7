using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Vimage.Cli.Tests;

/// <summary>
/// The socket rules, host and client alike: the directory and the socket are ours, not group/world writable, never
/// symlinks; the lock file is never followed; peers and hosts of other uids are refused with exit 77 (EX_NOPERM).
/// </summary>
public sealed partial class HostSecurityTests : IDisposable
{
    private const uint Nobody = 65534;
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "vimage-sec-test-" + Guid.NewGuid().ToString("N")[..12]);

    public HostSecurityTests() => Directory.CreateDirectory(_root);

    private static bool IsRoot => OperatingSystem.IsLinux() && geteuid() == 0;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    [SkippableFact]
    public void A_directory_owned_by_another_uid_is_refused_by_host_and_client()
    {
        Skip.IfNot(IsRoot, "giving the directory to uid 65534 needs root");
        string dir = PrivateDirectory("theirs");
        Assert.Equal(0, lchown(dir, Nobody, Nobody));
        AssertRefused(Path.Combine(dir, "h.sock"), $"unsafe socket directory {dir}: owned by uid {Nobody}, not by uid 0");
        Assert.Empty(Directory.GetFileSystemEntries(dir)); // no socket, no lock file: nothing was made there
    }

    [SkippableTheory]
    [InlineData(UnixFileMode.GroupWrite, "0720")]
    [InlineData(UnixFileMode.OtherWrite | UnixFileMode.OtherExecute, "0703")]
    public void A_group_or_world_writable_directory_is_refused(UnixFileMode extra, string mode)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the checks read the owner through statx");
        string dir = PrivateDirectory("shared");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(dir, Private | extra);
        }
        AssertRefused(Path.Combine(dir, "h.sock"), $"unsafe socket directory {dir}: group or world writable (mode {mode}; fix with: chmod 700 {dir})");
        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }

    [SkippableFact]
    public void A_symlinked_directory_is_refused_and_not_followed()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the checks read the owner through statx");
        string real = PrivateDirectory("real");
        string link = Path.Combine(_root, "link");
        File.CreateSymbolicLink(link, real);
        AssertRefused(Path.Combine(link, "h.sock"), $"unsafe socket directory {link}: it is a symbolic link");
        Assert.Empty(Directory.GetFileSystemEntries(real));
    }

    [SkippableFact]
    public void A_symlink_planted_at_the_lock_path_is_not_followed()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "O_NOFOLLOW: Linux");
        string dir = PrivateDirectory("run");
        string socket = Path.Combine(dir, "h.sock");
        string missing = Path.Combine(_root, "created-by-root");
        string existing = Path.Combine(_root, "precious");
        File.WriteAllText(existing, "keep me");
        DateTime written = File.GetLastWriteTimeUtc(existing);
        foreach (string target in new[] { missing, existing })
        {
            File.Delete(socket + ".lock");
            File.CreateSymbolicLink(socket + ".lock", target);
            var host = HostProcesses.Run(new Dictionary<string, string?>(), "host", "--foreground", "--socket", socket);
            Assert.Equal(77, host.Exit);
            Assert.Contains($"unsafe lock file {socket}.lock: it is a symbolic link", host.Err);
            Assert.False(File.Exists(socket));
        }

        Assert.False(File.Exists(missing)); // the host created nothing through the link
        Assert.Equal("keep me", File.ReadAllText(existing));
        Assert.Equal(written, File.GetLastWriteTimeUtc(existing));
    }

    [SkippableFact]
    public void A_lock_file_of_another_uid_is_refused()
    {
        Skip.IfNot(IsRoot, "giving the lock file to uid 65534 needs root");
        string dir = PrivateDirectory("run");
        string socket = Path.Combine(dir, "h.sock");
        File.WriteAllText(socket + ".lock", "");
        Assert.Equal(0, lchown(socket + ".lock", Nobody, Nobody));
        var host = HostProcesses.Run(new Dictionary<string, string?>(), "host", "--foreground", "--socket", socket);
        Assert.Equal(77, host.Exit);
        Assert.Contains($"unsafe lock file {socket}.lock: owned by uid {Nobody}, not by uid 0", host.Err);
    }

    [SkippableFact]
    public void A_socket_swapped_by_another_uid_gets_nothing_from_the_client()
    {
        Skip.IfNot(IsRoot, "giving the socket to uid 65534 needs root");
        string dir = PrivateDirectory("run");
        string path = Path.Combine(dir, "h.sock");
        using var impostor = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        impostor.Bind(new UnixDomainSocketEndPoint(path));
        impostor.Listen(8);
        Assert.Equal(0, lchown(path, Nobody, Nobody));

        AssertRefused(path, $"unsafe socket {path}: owned by uid {Nobody}, not by uid 0");
        Assert.False(impostor.Poll(0, SelectMode.SelectRead), "the client connected to the impostor");
        Assert.True(File.Exists(path)); // the host did not delete someone else's socket either
    }

    [SkippableFact]
    public void A_client_of_another_uid_gets_the_error_frame_and_exit_77()
    {
        Skip.IfNot(IsRoot, "running a client as uid 65534 needs root");
        Skip.If(!File.Exists("/usr/bin/setpriv"), "setpriv (util-linux) is not installed");
        using var host = new LaunchedHost();

        // At the host's own path the client's checks refuse first: that directory belongs to root.
        var direct = RunAsNobody(host.SocketPath, "sysctl", "-n", "net.inet.ip.ttl");
        Assert.Equal(77, direct.Exit);
        Assert.Contains($"unsafe socket directory {Path.GetDirectoryName(host.SocketPath)}: owned by uid 0, not by uid {Nobody}", direct.Err);

        // Past them (a hard link to the host's socket in a directory of its own): the host's SO_PEERCRED check
        // answers with the documented frame, which the client prints before exiting 77.
        string mine = PrivateDirectory("nobody");
        string linked = Path.Combine(mine, "h.sock");
        Assert.Equal(0, link(host.SocketPath, linked));
        Assert.Equal(0, lchown(mine, Nobody, Nobody));
        Assert.Equal(0, lchown(linked, Nobody, Nobody));
        var refused = RunAsNobody(linked, "sysctl", "-n", "net.inet.ip.ttl");
        Assert.Equal((77, "", $"vimage: host: permission denied: peer uid {Nobody} is not the host's uid 0\n"), refused);
        Assert.Contains($"refused peer uid {Nobody}", host.Log);
        Assert.False(host.Process.HasExited);
    }

    /// <summary>Both the host and an autostarting client refuse the path with exit 77 and the message.</summary>
    private static void AssertRefused(string socketPath, string message)
    {
        var host = HostProcesses.Run(new Dictionary<string, string?>(), "host", "--foreground", "--socket", socketPath);
        Assert.True(host.Exit == 77, $"host: {host}");
        Assert.Contains(message, host.Err);

        var client = HostProcesses.Run(new Dictionary<string, string?> { ["VIMAGE_SOCKET"] = socketPath }, "sysctl", "-n", "net.inet.ip.ttl");
        Assert.True(client.Exit == 77, $"client: {client}");
        Assert.Equal("", client.Out);
        Assert.StartsWith("vimage: " + message, client.Err);
    }

    private static (int Exit, string Out, string Err) RunAsNobody(string socketPath, params string[] args)
    {
        var env = new Dictionary<string, string?> { ["VIMAGE_SOCKET"] = socketPath, ["VIMAGE_NO_AUTOSTART"] = "1", ["HOME"] = "/tmp" };
        ProcessStartInfo start = LaunchedHost.Prefix(HostProcesses.StartInfo(args, env), "setpriv", $"--reuid={Nobody}", $"--regid={Nobody}", "--clear-groups");
        return HostProcesses.Run(start);
    }

    private string PrivateDirectory(string name)
    {
        string dir = Path.Combine(_root, name);
        if (OperatingSystem.IsWindows())
        {
            return Directory.CreateDirectory(dir).FullName;
        }

        Directory.CreateDirectory(dir, Private);
        File.SetUnixFileMode(dir, Private); // whatever the umask
        return dir;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, uint owner, uint group);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string existing, string created);

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
