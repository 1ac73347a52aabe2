using System.CommandLine;
using NodeAgent.Cli;
using NodeAgent.Cli.Commands;

var options = new GlobalOptions();
var root = new RootCommand("""
    ws — lease workspaces (virtual machines) from a NodeAgent cloud.

    The scheduler places each leased workspace on a host by load, boots it, and ends it when the lease
    expires. Exit status: 0 success, 1 the scheduler refused or failed the request, 2 a usage error,
    3 the scheduler could not be reached.
    """);
options.AddTo(root);
foreach (var command in LeaseCommands.Create(options))
{
    root.Subcommands.Add(command);
}

foreach (var command in PowerCommands.Create(options))
{
    root.Subcommands.Add(command);
}

root.Subcommands.Add(SaveCommand.Create(options));
root.Subcommands.Add(HostCommands.Create(options));
root.Subcommands.Add(ImageCommands.Create(options));
root.Subcommands.Add(UsageCommand.Create(options));
root.Subcommands.Add(QuotaCommands.Create(options));
root.Subcommands.Add(TokenCommands.CreateWhoAmI(options));
root.Subcommands.Add(TokenCommands.CreateAdmin(options));
ManualHelp.Install(root);

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors)
    {
        await Console.Error.WriteLineAsync("ws: " + error.Message);
    }

    await Console.Error.WriteLineAsync("ws: run `ws --help` for usage");
    return ExitCodes.UsageError;
}

return await parse.InvokeAsync();
