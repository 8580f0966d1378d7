namespace Vimage.Net.Tap;

/// <summary>
/// A failed system call on a TAP device or while entering a network namespace. The message names the device,
/// the operation and the errno, e.g. <c>tap vtap0: TUNSETIFF failed: EBUSY (16)</c>.
/// </summary>
public sealed class TapException : IOException
{
    public TapException(string device, string operation, int errno, string? hint = null)
        : this("tap " + device, device, operation, errno, hint)
    {
    }

    private TapException(string subject, string device, string operation, int errno, string? hint)
        : base(Format(subject, operation, errno, hint))
    {
        Device = device;
        Operation = operation;
        Errno = errno;
    }

    /// <summary>The interface name as the caller gave it; empty for a failure not tied to a device.</summary>
    public string Device { get; }

    /// <summary>What failed, e.g. <c>TUNSETIFF</c>, <c>open /dev/net/tun</c>, <c>setns</c>, <c>read</c>.</summary>
    public string Operation { get; }

    /// <summary>The Linux errno value.</summary>
    public int Errno { get; }

    /// <summary>The symbolic errno name, e.g. <c>EBUSY</c> (or <c>errno</c> when not in the built-in table).</summary>
    public string ErrnoName => TapNative.ErrnoName(Errno);

    /// <summary>A failure entering or leaving a network namespace outside any device ("netns NAME: ...").</summary>
    internal static TapException ForNetns(string netns, string operation, int errno, string? hint = null) =>
        new("netns " + netns, "", operation, errno, hint);

    private static string Format(string subject, string operation, int errno, string? hint) =>
        $"{subject}: {operation} failed: {TapNative.Describe(errno)}" + (hint is null ? "" : $" ({hint})");
}
