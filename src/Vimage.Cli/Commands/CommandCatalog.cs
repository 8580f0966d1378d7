namespace Vimage.Cli.Commands;

/// <summary>Every command of this assembly: each ICommand with a parameterless constructor, plus jexec.</summary>
public static class CommandCatalog
{
    public static IEnumerable<ICommand> All()
    {
        CommandDispatcher? dispatcher = null;
        var commands = typeof(ICommand).Assembly.GetTypes()
            .Where(t => typeof(ICommand).IsAssignableFrom(t) && t is { IsClass: true, IsAbstract: false } && t.GetConstructor(Type.EmptyTypes) is not null)
            .Select(t => (ICommand)Activator.CreateInstance(t)!)
            .ToList();
        commands.Add(new JexecCommand(() => dispatcher!));
        commands.Add(new SetfibCommand(() => dispatcher!));
        dispatcher = new CommandDispatcher(commands);
        return commands;
    }
}
