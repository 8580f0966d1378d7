using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Vimage.Cli.Host;

/// <summary>What lstat(2)/fstat(2) say about a file: its type, owner and permission bits (Linux statx).</summary>
internal readonly record struct FileFacts(FileFacts.Kind Type, uint Uid, uint Mode)
{
    public enum Kind
    {
        Other,
        Regular,
        Directory,
        Symlink,
        Socket,
    }

    /// <summary>Group- or world-writable (S_IWGRP | S_IWOTH, 0022).</summary>
    public bool SharedWritable => (Mode & 0x12) != 0;
}

/// <summary>
/// The file-system calls the socket checks need, without following symlinks: statx(AT_SYMLINK_NOFOLLOW) as lstat,
/// statx(AT_EMPTY_PATH) as fstat, open(O_NOFOLLOW | O_CLOEXEC) and flock for the lock file. Linux only; elsewhere
/// <see cref="Supported"/> is false and callers fall back to what .NET can tell.
/// </summary>
internal static partial class HostFiles
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const int ORdWr = 2;
    private const int OCreat = 0x40;
    private const int OCloexec = 0x80000;
    private const int LockEx = 2;
    private const int LockNb = 4;
    private const int Enoent = 2;
    private const int Eloop = 40;
    private const int Ewouldblock = 11;

    public static bool Supported => OperatingSystem.IsLinux();

    // O_NOFOLLOW differs between Linux ABIs: 0400000 on x86, 0100000 on arm/arm64.
    private static int ONoFollow => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x8000 : 0x20000;

    /// <summary>lstat(2): facts about the path itself (a symlink is reported as one, never followed); null if absent.</summary>
    /// <exception cref="IOException">Any failure other than ENOENT.</exception>
    public static unsafe FileFacts? Lstat(string path)
    {
        byte* buffer = stackalloc byte[256];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == Enoent ? null : throw new IOException($"{path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return Facts(buffer);
    }

    /// <summary>fstat(2) of an open descriptor.</summary>
    public static unsafe FileFacts Fstat(SafeFileHandle handle)
    {
        byte* buffer = stackalloc byte[256];
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxBasicStats, buffer) != 0)
            {
                throw new IOException("fstat: " + Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }

        return Facts(buffer);
    }

    /// <summary>The outcome of <see cref="OpenLock"/>.</summary>
    public enum LockResult
    {
        Locked,
        Busy,
        Symlink,
    }

    /// <summary>
    /// open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600) and flock(LOCK_EX | LOCK_NB): a planted symlink is
    /// refused (ELOOP), never followed, so the host creates or truncates nothing outside its directory.
    /// </summary>
    public static LockResult OpenLock(string path, out SafeFileHandle? handle)
    {
        handle = null;
        int fd = open(path, ORdWr | OCreat | ONoFollow | OCloexec, 0x180); // 0600
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno == Eloop ? LockResult.Symlink : throw new IOException($"{path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        var owned = new SafeFileHandle(fd, ownsHandle: true);
        if (flock(fd, LockEx | LockNb) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            owned.Dispose();
            return errno == Ewouldblock ? LockResult.Busy : throw new IOException($"{path}: flock: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        handle = owned;
        return LockResult.Locked;
    }

    private static unsafe FileFacts Facts(byte* statxBuffer)
    {
        // struct statx: stx_uid at 20, stx_mode (u16) at 28; the layout is the same on every Linux ABI.
        uint uid = *(uint*)(statxBuffer + 20);
        uint mode = *(ushort*)(statxBuffer + 28);
        FileFacts.Kind kind = (mode & 0xf000) switch
        {
            0x8000 => FileFacts.Kind.Regular,
            0x4000 => FileFacts.Kind.Directory,
            0xa000 => FileFacts.Kind.Symlink,
            0xc000 => FileFacts.Kind.Socket,
            _ => FileFacts.Kind.Other,
        };
        return new FileFacts(kind, uid, mode & 0xfff);
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);
}
