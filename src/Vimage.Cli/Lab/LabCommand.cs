using System.Globalization;
using Vimage.Cli.Commands;

namespace Vimage.Cli.Lab;

/// <summary>
/// <c>vimage lab</c>: topologies from a file (docs/labs.md). deploy FILE, destroy NAME, inspect NAME [--json],
/// graph NAME [-o FILE.svg|FILE.dot], save NAME [-o FILE], list, validate FILE. Runs in the host process like every
/// command; a lab's vnet nodes are ordinary jails (jexec NODE ...), its host nodes answer jexec too.
/// </summary>
public sealed class LabCommand : ICommand
{
    public string Name => "lab";

    public string Usage => "lab deploy FILE | destroy NAME | inspect NAME [--json] | graph NAME [-o FILE.svg|FILE.dot] | save NAME [-o FILE] | list | validate FILE";

    public int Run(CommandContext context, string[] args)
    {
        try
        {
            return RunCore(context, args);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CommandException($"lab: {e.Message}");
        }
    }

    private static int RunCore(CommandContext context, string[] args)
    {
        if (args.Length == 0)
        {
            throw new UsageException("lab: a subcommand is required");
        }

        string[] rest = args[1..];
        LabRegistry labs = LabRegistry.For(context.Jails);
        switch (args[0])
        {
            case "deploy":
            {
                string file = One(rest, "deploy FILE");
                LabPlan plan = Parse(context, file);
                LabRuntime lab = LabDeployer.Deploy(context, plan);
                context.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"lab {lab.Name}: deployed {lab.Nodes.Count} nodes, {plan.Links.Count} links in {lab.DeployTime.TotalSeconds:0.000} s"));
                return 0;
            }

            case "validate":
            {
                string file = One(rest, "validate FILE");
                LabPlan plan = Parse(context, file);
                context.Out.WriteLine($"{file}: lab {plan.Name}: {plan.Nodes.Count} nodes, {plan.Links.Count} links: OK");
                return 0;
            }

            case "destroy":
            {
                string name = One(rest, "destroy NAME");
                LabRuntime lab = labs.Withdraw(name) ?? throw new CommandException($"lab: {name}: no such lab");
                try
                {
                    LabDeployer.Teardown(context.Jails, lab.Nodes, context.Err);
                }
                finally
                {
                    labs.Unreserve(name);
                }

                context.Out.WriteLine($"lab {name}: destroyed {lab.Nodes.Count} nodes");
                return 0;
            }

            case "list":
                if (rest.Length != 0)
                {
                    throw new UsageException("lab: list takes no arguments");
                }

                context.Out.WriteLine($"{"NAME",-20} {"NODES",7} {"LINKS",7}  FILE");
                foreach (LabRuntime lab in labs.All)
                {
                    context.Out.WriteLine($"{lab.Name,-20} {lab.Nodes.Count,7} {lab.Plan.Links.Count,7}  {lab.Plan.File}");
                }

                return 0;

            case "inspect":
            {
                bool json = rest.Contains("--json");
                string name = One([.. rest.Where(a => a != "--json")], "inspect NAME [--json]");
                LabRuntime lab = labs.Find(name);
                if (json)
                {
                    LabInspect.WriteJson(lab, context.Out);
                }
                else
                {
                    LabInspect.WriteTable(lab, context.Out);
                }

                return 0;
            }

            case "graph":
            {
                (string name, string? output) = NameAndOutput(rest, "graph NAME [-o FILE.svg|FILE.dot]");
                LabRuntime lab = labs.Find(name);
                if (output is null)
                {
                    LabGraph.WriteDot(lab, context.Out);
                    return 0;
                }

                string path = context.ResolvePath(output);
                using (var writer = new StreamWriter(path))
                {
                    if (path.EndsWith(".dot", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".gv", StringComparison.OrdinalIgnoreCase))
                    {
                        LabGraph.WriteDot(lab, writer);
                    }
                    else
                    {
                        LabGraph.WriteSvg(lab, writer);
                    }
                }

                context.Out.WriteLine($"lab {name}: graph written to {output}");
                return 0;
            }

            case "save":
            {
                (string name, string? output) = NameAndOutput(rest, "save NAME [-o FILE]");
                LabRuntime lab = labs.Find(name);
                if (output is null)
                {
                    LabSaver.Write(lab, context.Out);
                    return 0;
                }

                using (var writer = new StreamWriter(context.ResolvePath(output)))
                {
                    LabSaver.Write(lab, writer);
                }

                context.Out.WriteLine($"lab {name}: saved to {output}");
                return 0;
            }

            default:
                throw new UsageException($"lab: {args[0]}: unknown subcommand");
        }
    }

    private static LabPlan Parse(CommandContext context, string file)
    {
        try
        {
            return LabParser.ParseFile(context.ResolvePath(file), file);
        }
        catch (LabValidationException e)
        {
            throw new CommandException(string.Join("\n", e.Errors.Select(x => x.ToString()))
                                       + $"\nlab: {file}: {e.Errors.Count} error{(e.Errors.Count == 1 ? "" : "s")}, nothing deployed");
        }
    }

    private static string One(string[] rest, string usage)
    {
        if (rest.Length != 1 || rest[0].StartsWith('-'))
        {
            throw new UsageException($"lab: usage: lab {usage}");
        }

        return rest[0];
    }

    private static (string Name, string? Output) NameAndOutput(string[] rest, string usage)
    {
        string? name = null, output = null;
        for (int i = 0; i < rest.Length; i++)
        {
            if (rest[i] == "-o" && i + 1 < rest.Length)
            {
                output = rest[++i];
            }
            else if (name is null && !rest[i].StartsWith('-'))
            {
                name = rest[i];
            }
            else
            {
                throw new UsageException($"lab: usage: lab {usage}");
            }
        }

        return (name ?? throw new UsageException($"lab: usage: lab {usage}"), output);
    }
}
