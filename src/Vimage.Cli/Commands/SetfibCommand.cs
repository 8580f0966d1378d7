using System.Globalization;
using Vimage.Core;
using Vimage.Net.Route;

namespace Vimage.Cli.Commands;

/// <summary>
/// setfib(1): runs a command with another default routing table (setfib(2) then exec): its sockets, route(8) and
/// netstat -r use that fib. "-F N", "-N" and "N" are the same; a fib outside the vnet's net.fibs is errx(1).
/// </summary>
public sealed class SetfibCommand(Func<CommandDispatcher> dispatcher) : ICommand, IUsageStatus
{
    /// <summary>usage() exits 1.</summary>
    public int UsageExitCode => 1;

    public string Name => "setfib";

    public string Usage => "setfib [-[F]]value command";

    public int Run(CommandContext context, string[] args)
    {
        if (args.Length < 1)
        {
            return UsageError();
        }

        // main(): "-N" and "N" become "-FN" before getopt sees them.
        string first = args[0];
        string digits = first.Length > 1 && first[0] == '-' && char.IsAsciiDigit(first[1]) ? first[1..] : first;
        string[] argv = digits.Length > 0 && char.IsAsciiDigit(digits[0]) ? ["-F" + digits, .. args[1..]] : args;
        var getopt = new Getopt("setfib", argv, "F:");
        string fibText = "0";
        for (int ch; (ch = getopt.Next()) != -1;)
        {
            if (ch != 'F')
            {
                return UsageError();
            }

            fibText = getopt.Optarg!;
        }

        string[] command = getopt.Operands;
        int numfibs;
        using (Curvnet.Set(context.Vnet))
        {
            numfibs = Fibs.NumFibs;
            if (!int.TryParse(fibText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int fib) || fib < 0 || fib >= numfibs)
            {
                throw new CommandException(string.Create(CultureInfo.InvariantCulture, $"setfib: {fibText}: invalid FIB (max {numfibs - 1})"), 1);
            }

            if (command.Length == 0)
            {
                return UsageError();
            }

            if (Fibs.SetFib(fib, out Fibs.FibScope scope) != 0)
            {
                context.Err.WriteLine("setfib: setfib: Invalid argument"); // warn("setfib"); the command still runs
            }

            using (scope)
            {
                return dispatcher().Run(context, command);
            }
        }
    }

    private static int UsageError() => throw new UsageException(string.Empty);
}
