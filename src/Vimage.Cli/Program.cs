using System.CommandLine;
using Vimage.Cli;

var root = new RootCommand("vimage: FreeBSD VIMAGE virtual network stacks in one .NET process");

var demo = new Command("demo", "Show per-CPU counters and isolated virtual network stacks on embedded defaults");
var threads = new Option<int>("--threads") { Description = "Threads hammering the shared counter", DefaultValueFactory = _ => Environment.ProcessorCount };
var adds = new Option<int>("--adds") { Description = "Adds per thread", DefaultValueFactory = _ => 1_000_000 };
demo.Options.Add(threads);
demo.Options.Add(adds);
demo.SetAction(result => Demo.Run(Console.Out, result.GetValue(threads), result.GetValue(adds)));
root.Subcommands.Add(demo);

// With no command the main job runs: the demo.
return args.Length == 0 ? Demo.Run(Console.Out, Environment.ProcessorCount, 1_000_000) : root.Parse(args).Invoke();
