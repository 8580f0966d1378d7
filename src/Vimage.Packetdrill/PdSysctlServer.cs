using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Vimage.Core;

namespace Vimage.Packetdrill;

/// <summary>
/// Where packetdrill's backtick commands reach the stack under test: a Unix stream socket in a fresh owner-only
/// (0700) directory, its path exported to this process's environment as VIMAGE_SYSCTL_SOCKET so the shells
/// packetdrill starts inherit it, and the `sysctl` shim first on their PATH talks to it. One request per connection:
/// the arguments, NUL-separated, then end of stream; the answer is "exit-code\n" stdout NUL stderr. The commands are
/// sysctl(8)'s for reading and setting: [-n] [-q] [-i] [-w] name[=value] ..., in the test vnet.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed partial class PdSysctlServer : IDisposable
{
    public const string EnvName = "VIMAGE_SYSCTL_SOCKET";
    private const int MaxRequest = 64 * 1024;
    private readonly System.Net.Sockets.Socket _listener;
    private readonly string _dir;
    private readonly PdStack _stack;
    private volatile bool _stopped;

    private PdSysctlServer(PdStack stack, System.Net.Sockets.Socket listener, string dir)
    {
        _stack = stack;
        _listener = listener;
        _dir = dir;
        new Thread(Serve) { IsBackground = true, Name = "packetdrill sysctl" }.Start();
    }

    public static PdSysctlServer? Start(PdStack stack)
    {
        try
        {
            string dir = Path.Combine(Path.GetTempPath(), $"vimage-pd-{Environment.ProcessId}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            string path = Path.Combine(dir, "sysctl.sock");
            var listener = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(8);
            _ = SetEnv(EnvName, path, 1); // the C environment: what system() children inherit
            return new PdSysctlServer(stack, listener, dir);
        }
        catch (Exception e) when (e is IOException or SocketException or UnauthorizedAccessException)
        {
            return null; // no sysctl from scripts; everything else works
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    private void Serve()
    {
        while (!_stopped)
        {
            System.Net.Sockets.Socket conn;
            try
            {
                conn = _listener.Accept();
            }
            catch (Exception)
            {
                return;
            }

            using (conn)
            {
                try
                {
                    conn.ReceiveTimeout = 5000;
                    var request = new MemoryStream();
                    byte[] buf = new byte[4096];
                    int n;
                    while ((n = conn.Receive(buf)) > 0 && request.Length <= MaxRequest)
                    {
                        request.Write(buf, 0, n);
                    }

                    string[] args = request.Length == 0 ? [] : Encoding.UTF8.GetString(request.ToArray()).Split('\0');
                    (int code, string stdout, string stderr) = Run(args);
                    conn.Send(Encoding.UTF8.GetBytes($"{code}\n{stdout}\0{stderr}"));
                }
                catch (SocketException)
                {
                    // the client went away: nothing to answer
                }
            }
        }
    }

    /// <summary>sysctl(8) in the test vnet: exit 0, or 1 with "sysctl: ..." on stderr for an unknown OID or a bad value.</summary>
    public (int Code, string Stdout, string Stderr) Run(string[] args)
    {
        bool valuesOnly = false, quiet = false, ignoreUnknown = false;
        var names = new List<string>();
        foreach (string a in args)
        {
            if (a.Length > 1 && a[0] == '-' && names.Count == 0)
            {
                foreach (char f in a.AsSpan(1))
                {
                    switch (f)
                    {
                        case 'n': valuesOnly = true; break;
                        case 'q': quiet = true; break;
                        case 'i': ignoreUnknown = true; break;
                        case 'w': break; // obsolete, ignored (as FreeBSD does)
                        default: return (1, "", $"sysctl: illegal option -- {f}\nusage: sysctl [-inqw] name[=value] ...\n");
                    }
                }
            }
            else
            {
                names.Add(a);
            }
        }

        if (names.Count == 0)
        {
            return (1, "", "usage: sysctl [-inqw] name[=value] ...\n");
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        int code = 0;
        foreach (string item in names)
        {
            int eq = item.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? item : item[..eq];
            try
            {
                if (!Sysctl.Exists(name))
                {
                    if (!ignoreUnknown)
                    {
                        code = 1;
                        if (!quiet)
                        {
                            stderr.Append($"sysctl: unknown oid '{name}'\n");
                        }
                    }

                    continue;
                }

                if (eq < 0)
                {
                    SysctlListOptions o = valuesOnly ? SysctlListOptions.ValuesOnly : SysctlListOptions.None;
                    stdout.Append(Sysctl.FormatLine(Sysctl.Find(name), o, _stack.Vnet)).Append('\n');
                }
                else
                {
                    string line = Sysctl.SetAndReport(name, item[(eq + 1)..], _stack.Vnet);
                    if (!valuesOnly)
                    {
                        stdout.Append(line).Append('\n');
                    }
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                code = 1;
                if (!quiet)
                {
                    string msg = e.Message.StartsWith("sysctl", StringComparison.Ordinal) ? e.Message : $"sysctl: {name}: {e.Message}";
                    stderr.Append(msg).Append('\n');
                }
            }
        }

        return (code, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        _stopped = true;
        _listener.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
