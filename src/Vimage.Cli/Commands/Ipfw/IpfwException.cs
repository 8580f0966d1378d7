namespace Vimage.Cli.Commands.Ipfw;

/// <summary>errx(code, message) of ipfw(8): printed as "ipfw: message", the command exits with <see cref="ExitCode"/>.</summary>
public sealed class IpfwException(int exitCode, string message) : Exception(message)
{
    /// <summary>sysexits(3).</summary>
    public const int EX_USAGE = 64, EX_DATAERR = 65, EX_NOHOST = 68, EX_UNAVAILABLE = 69;

    public int ExitCode { get; } = exitCode;
}
