using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Vimage.Cli.Host;

/// <summary>
/// <c>vimage host</c>: without options, starts a detached host and returns once it listens; <c>--foreground</c>
/// serves in this process, logging to stderr, until SIGINT/SIGTERM or a shutdown request; <c>--stop</c> asks the
/// running host to shut down; <c>--status</c> describes it. <c>--daemon</c> (hidden) is what the detached
/// host itself runs: its own session, stdio on /dev/null, only SIGTERM or a shutdown request stop it.
/// </summary>
public static class HostMain
{
    public static int Run(string? socketOption, bool foreground, bool daemon, bool stop, bool status, HostLimits? limits = null)
    {
        limits ??= new HostLimits();
        string path = HostPaths.Resolve(socketOption);
        TextWriter output = Console.Out;
        TextWriter error = Console.Error;
        if (stop)
        {
            return HostClient.Stop(path, output, error);
        }

        if (status)
        {
            return HostClient.Status(path, output, error);
        }

        if (daemon)
        {
            HostNative.Detach();
            HostNative.StdioToDevNull();
            return Serve(path, log: null, interactive: false, limits);
        }

        if (foreground)
        {
            return Serve(path, error, interactive: true, limits);
        }

        if (!HostClient.TryConnectSafely(path, error, out Socket? running, out int refused))
        {
            return refused;
        }

        if (running is not null)
        {
            running.Dispose();
            output.WriteLine($"vimage host: already running at {path}");
            return 0;
        }

        int started = HostClient.StartHost(path, error, out int pid);
        if (started == 0)
        {
            output.WriteLine($"vimage host: listening on {path} (pid {pid}; stop it with: vimage host --stop)");
        }

        return started;
    }

    private static int Serve(string path, TextWriter? log, bool interactive, HostLimits limits)
    {
        using var server = new HostServer(path, log, limits);
        try
        {
            server.Start();
        }
        catch (HostServer.AlreadyRunningException e)
        {
            log?.WriteLine($"vimage host: {e.Message}");
            return HostProtocol.ExitUnavailable;
        }
        catch (UnsafeSocketException e)
        {
            log?.WriteLine($"vimage host: {e.Message}");
            return HostProtocol.ExitNoPerm;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SocketException)
        {
            log?.WriteLine($"vimage host: cannot listen on {path}: {e.Message}");
            return HostProtocol.ExitOsErr;
        }

        var registrations = new List<PosixSignalRegistration>();
        if (!OperatingSystem.IsWindows())
        {
            registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop));
            registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, interactive ? Stop : Ignore));
            registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Stop));
        }

        registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, interactive ? Stop : Ignore));
        try
        {
            server.RunAsync().GetAwaiter().GetResult();
        }
        finally
        {
            foreach (PosixSignalRegistration registration in registrations)
            {
                registration.Dispose();
            }
        }

        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true; // no default termination: RunAsync returns and cleans up
            server.Stop();
        }

        static void Ignore(PosixSignalContext context) => context.Cancel = true;
    }
}
