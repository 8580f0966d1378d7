using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using Vimage.Cli.Host;
using Vimage.Core;

namespace Vimage.Cli.Shell;

/// <summary>
/// What <c>vimage run</c>, <c>vimage shell</c> and <c>vimage atf run</c> give a script: a private host (its own
/// stacks) serving on an owner-only socket in a fresh 0700 directory, a directory of shims (ifconfig, route, ...,
/// each the fast C client under the tool's name) first on PATH, and the ATF / vnet.subr shell library
/// (<c>$VIMAGE_ATF_LIB</c>). Disposing stops the host (its jails go) and removes the directory.
/// </summary>
public sealed class ShellSession : IDisposable
{
    /// <summary>The tools a script finds on PATH; each forwards to the host (unknown ones answer exit 127).</summary>
    public static readonly string[] Shims =
        ["arp", "dmesg", "getent", "hosts", "ifconfig", "ipfw", "jail", "jexec", "jls", "nc", "netstat", "ping", "route", "setfib", "sockstat", "sysctl", "tcpdump"];

    private readonly HostServer _host;
    private readonly Task _serving;

    public ShellSession()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("vimage run needs a POSIX system (/bin/sh, Unix sockets)");
        }

        Root = Directory.CreateTempSubdirectory("vimage-sh-").FullName; // mode 0700
        SocketPath = Path.Combine(Root, "run", "host.sock");
        ShimDirectory = Path.Combine(Root, "bin");
        Library = Path.Combine(Root, "lib", "atf.subr");
        try
        {
            string client = ClientBinary();
            Directory.CreateDirectory(ShimDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            foreach (string name in Shims)
            {
                File.CreateSymbolicLink(Path.Combine(ShimDirectory, name), client);
            }

            Directory.CreateDirectory(Path.GetDirectoryName(Library)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.WriteAllText(Library, Resource("atf.subr"));
            _host = new HostServer(SocketPath);
            _host.Start();
            _serving = Task.Run(_host.RunAsync);
        }
        catch
        {
            DeleteRoot();
            throw;
        }
    }

    public string Root { get; }

    public string SocketPath { get; }

    public string ShimDirectory { get; }

    /// <summary>The ATF / vnet.subr shell library scripts source.</summary>
    public string Library { get; }

    /// <summary>
    /// Where a test program runs from: a copy of its directory (its files as symbolic links) under the session, next
    /// to a <c>common/vnet.subr</c> that sources the library, so FreeBSD's <c>. $(atf_get_srcdir)/../common/vnet.subr</c>
    /// works unmodified. Returns the program's path in the copy; ATF_SRCDIR is its directory.
    /// </summary>
    public string Stage(string program)
    {
        string original = Path.GetDirectoryName(Path.GetFullPath(program))!;
        string staged = Path.Combine(Root, "src", Path.GetFileName(original));
        if (!Directory.Exists(staged))
        {
            Directory.CreateDirectory(staged);
            foreach (string file in Directory.GetFiles(original))
            {
                File.CreateSymbolicLink(Path.Combine(staged, Path.GetFileName(file)), file);
            }

            // tests/sys/netinet/x.sh sources ../common/vnet.subr; tests/sbin/route/utils.subr ../../sys/common/vnet.subr.
            foreach (string common in new[] { Path.Combine(Root, "src", "common"), Path.Combine(Root, "sys", "common") })
            {
                Directory.CreateDirectory(common);
                File.WriteAllText(Path.Combine(common, "vnet.subr"), "# vimage: vnet.subr's helpers come from atf.subr\n. \"$VIMAGE_ATF_LIB\"\n");
            }
        }

        return Path.Combine(staged, Path.GetFileName(program));
    }

    /// <summary>A /bin/sh process with the session's environment (shims first on PATH, the socket, the library).</summary>
    public ProcessStartInfo Shell(IEnumerable<string> arguments, bool redirect = true)
    {
        var start = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardOutput = redirect,
            RedirectStandardError = redirect,
            RedirectStandardInput = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PATH"] = ShimDirectory + ":" + (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin");
        start.Environment[HostPaths.SocketVariable] = SocketPath;
        start.Environment[HostPaths.NoAutostartVariable] = "1";
        start.Environment["VIMAGE_ATF_LIB"] = Library;
        start.Environment["VIMAGE_FEATURE_VIMAGE"] = Vnet.IsVimage ? "1" : "0";
        start.Environment.Remove("VIMAGE_JAIL");
        start.Environment.Remove("ATF_RESFILE");
        return start;
    }

    /// <summary>Runs a shell to completion, copying its output as it comes; returns its exit status.</summary>
    public static int Execute(ProcessStartInfo start, TextWriter output, TextWriter error)
    {
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Copy(output, e.Data);
        process.ErrorDataReceived += (_, e) => Copy(error, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.WaitForExit();
        return process.ExitCode;
    }

    public void Dispose()
    {
        _host.Stop();
        _serving.Wait(TimeSpan.FromSeconds(10));
        _host.Dispose();
        DeleteRoot();
    }

    private static void Copy(TextWriter writer, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (writer)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }

    private void DeleteRoot()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    internal static string Resource(string name)
    {
        using Stream stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Vimage.Cli.Shell." + name)
            ?? throw new InvalidOperationException($"resource {name} missing");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// The fast client: $VIMAGE_CLIENT, else vimage-client next to this program, else built once with the system's cc
    /// from the embedded source into the user's cache (a 0700 directory, the file named by the source's hash).
    /// </summary>
    public static string ClientBinary()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the vimage client needs a POSIX system");
        }

        string? given = Environment.GetEnvironmentVariable("VIMAGE_CLIENT");
        if (!string.IsNullOrEmpty(given) && File.Exists(given))
        {
            return Path.GetFullPath(given);
        }

        string beside = Path.Combine(AppContext.BaseDirectory, "vimage-client");
        if (File.Exists(beside))
        {
            return beside;
        }

        string source = Resource("vimage-client.c");
        string hash = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(source)))[..16];
        string cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x && Path.IsPathRooted(x)
            ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        string directory = Path.Combine(cache, "vimage");
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        SocketSecurity.CheckDirectory(directory); // ours alone, or nobody could trust the binary in it
        string binary = Path.Combine(directory, $"vimage-client-{hash}");
        if (File.Exists(binary))
        {
            return binary;
        }

        string temp = Path.Combine(directory, $"build-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            File.WriteAllText(Path.Combine(temp, "vimage-client.c"), source);
            var cc = new ProcessStartInfo(Environment.GetEnvironmentVariable("CC") is { Length: > 0 } c ? c : "cc")
            {
                UseShellExecute = false,
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            foreach (string arg in (string[])["-O2", "-std=c11", "-o", Path.Combine(temp, "vimage-client"), Path.Combine(temp, "vimage-client.c")])
            {
                cc.ArgumentList.Add(arg);
            }

            using Process process = Process.Start(cc) ?? throw new InvalidOperationException("cannot start cc");
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"cc failed building vimage-client (scripts/setup.sh installs gcc):\n{errors}");
            }

            File.Move(Path.Combine(temp, "vimage-client"), binary, overwrite: true);
            return binary;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"no C compiler to build vimage-client ({e.Message}); run scripts/setup.sh or set VIMAGE_CLIENT");
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }
}
