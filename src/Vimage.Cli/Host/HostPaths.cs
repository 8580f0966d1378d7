namespace Vimage.Cli.Host;

/// <summary>Where the host's socket lives.</summary>
public static class HostPaths
{
    public const string SocketVariable = "VIMAGE_SOCKET";
    public const string NoAutostartVariable = "VIMAGE_NO_AUTOSTART";

    /// <summary>$VIMAGE_SOCKET, else $XDG_RUNTIME_DIR/vimage/host.sock, else /tmp/vimage-UID/host.sock.</summary>
    public static string DefaultSocket()
    {
        string? explicitPath = Environment.GetEnvironmentVariable(SocketVariable);
        if (!string.IsNullOrEmpty(explicitPath))
        {
            return Path.GetFullPath(explicitPath);
        }

        string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (!string.IsNullOrEmpty(runtime) && Path.IsPathRooted(runtime))
        {
            return Path.Combine(runtime, "vimage", "host.sock");
        }

        return Path.Combine("/tmp", $"vimage-{HostNative.GetUid()}", "host.sock");
    }

    /// <summary>--socket PATH if given, else the default.</summary>
    public static string Resolve(string? socketOption) => string.IsNullOrEmpty(socketOption) ? DefaultSocket() : Path.GetFullPath(socketOption);

    public static bool AutostartDisabled => Environment.GetEnvironmentVariable(NoAutostartVariable) is "1" or "true" or "yes";
}
