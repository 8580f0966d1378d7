using Microsoft.Win32.SafeHandles;

namespace Vimage.Cli.Host;

/// <summary>The socket, its directory or the lock file is not safe to trust; the message names the path and the fix.</summary>
public sealed class UnsafeSocketException(string message) : Exception(message);

/// <summary>
/// The rules ssh-agent, tmux and gpg-agent apply to their sockets, applied by host and client alike: the socket's
/// directory and the socket itself must be owned by the current uid, not group/world writable, and not symlinks
/// (checked with lstat: nothing there is ever followed). Whoever can write the directory can swap the socket and
/// impersonate the host, so a directory failing these rules is refused, never repaired.
/// </summary>
public static class SocketSecurity
{
    /// <summary>Checks the socket's directory; false when it does not exist (nothing to trust yet).</summary>
    /// <exception cref="UnsafeSocketException">It exists but is not ours alone.</exception>
    public static bool CheckDirectory(string directory)
    {
        FileFacts? facts = Facts(directory);
        if (facts is not { } f)
        {
            return false;
        }

        string fix = "remove it, or point --socket or VIMAGE_SOCKET at a path in a directory you own with mode 0700";
        if (f.Type == FileFacts.Kind.Symlink)
        {
            throw new UnsafeSocketException($"unsafe socket directory {directory}: it is a symbolic link ({fix})");
        }

        if (f.Type != FileFacts.Kind.Directory)
        {
            throw new UnsafeSocketException($"unsafe socket directory {directory}: not a directory ({fix})");
        }

        Owned(directory, "socket directory", f, fix);
        if (f.SharedWritable)
        {
            throw new UnsafeSocketException(
                $"unsafe socket directory {directory}: group or world writable (mode {Octal(f.Mode)}; fix with: chmod 700 {directory})");
        }

        return true;
    }

    /// <summary>Checks the socket file (after its directory); false when there is none.</summary>
    /// <exception cref="UnsafeSocketException">Something else, or someone else's socket, is there.</exception>
    public static bool CheckSocket(string socketPath)
    {
        FileFacts? facts = Facts(socketPath);
        if (facts is not { } f)
        {
            return false;
        }

        string fix = $"remove it ({socketPath}) and start the host again";
        if (f.Type != FileFacts.Kind.Socket)
        {
            string what = f.Type == FileFacts.Kind.Symlink ? "a symbolic link" : "not a socket";
            throw new UnsafeSocketException($"unsafe socket {socketPath}: it is {what} ({fix})");
        }

        Owned(socketPath, "socket", f, fix);
        if (f.SharedWritable)
        {
            throw new UnsafeSocketException($"unsafe socket {socketPath}: group or world writable (mode {Octal(f.Mode)}; {fix})");
        }

        return true;
    }

    /// <summary>Checks the lock file the host opened (O_NOFOLLOW): a regular file of ours, writable by us alone.</summary>
    public static void CheckLock(string path, SafeFileHandle handle)
    {
        if (!HostFiles.Supported)
        {
            return;
        }

        FileFacts f = HostFiles.Fstat(handle);
        string fix = $"remove {path} and start the host again";
        if (f.Type != FileFacts.Kind.Regular)
        {
            throw new UnsafeSocketException($"unsafe lock file {path}: not a regular file ({fix})");
        }

        Owned(path, "lock file", f, fix);
        if (f.SharedWritable)
        {
            throw new UnsafeSocketException($"unsafe lock file {path}: group or world writable (mode {Octal(f.Mode)}; {fix})");
        }
    }

    /// <summary>The refusal for a planted symlink at the lock path: the host never opens through it.</summary>
    public static UnsafeSocketException SymlinkedLock(string path) =>
        new($"unsafe lock file {path}: it is a symbolic link (remove it and start the host again)");

    private static void Owned(string path, string what, FileFacts f, string fix)
    {
        uint self = HostNative.GetUid();
        if (HostFiles.Supported && f.Uid != self)
        {
            throw new UnsafeSocketException($"unsafe {what} {path}: owned by uid {f.Uid}, not by uid {self} ({fix})");
        }
    }

    private static FileFacts? Facts(string path)
    {
        if (HostFiles.Supported)
        {
            return HostFiles.Lstat(path);
        }

        // Elsewhere .NET tells type, symlink and mode (not the owner).
        var info = new FileInfo(path);
        if (!info.Exists && !Directory.Exists(path) && info.LinkTarget is null)
        {
            return null;
        }

        FileFacts.Kind kind = info.LinkTarget is not null ? FileFacts.Kind.Symlink
            : info.Attributes.HasFlag(FileAttributes.Directory) ? FileFacts.Kind.Directory
            : FileFacts.Kind.Socket;
        uint mode = OperatingSystem.IsWindows() ? 0x1c0u : (uint)info.UnixFileMode;
        return new FileFacts(kind, HostNative.GetUid(), mode);
    }

    private static string Octal(uint mode) => "0" + Convert.ToString(mode, 8);
}
