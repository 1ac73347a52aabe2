using NodeAgent.Agent.Processes;

namespace NodeAgent.Agent.Networking;

/// <summary>
/// Runs <c>ip</c> and <c>nft</c> for the networking managers, in the host's network namespace or, when one
/// is named, inside it through <c>ip netns exec</c>. Production uses the host's; tests name a namespace they
/// made, so bridges, rules and traffic never reach the machine's own network.
/// </summary>
public sealed class NetworkCommands
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly CommandRunner _runner;

    public NetworkCommands(CommandRunner runner, string? networkNamespace = null)
    {
        _runner = runner;
        if (networkNamespace is not null && !Contract.IdSyntax.IsValid(networkNamespace, out var problem))
        {
            throw new ArgumentException($"network namespace {problem}", nameof(networkNamespace));
        }

        Namespace = networkNamespace;
    }

    /// <summary>The namespace commands run in; null for the agent's own.</summary>
    public string? Namespace { get; }

    public Task<CommandResult> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var (actualProgram, actualArguments) = Wrap(program, arguments);
        return _runner.RunAsync(actualProgram, actualArguments, Timeout, cancellationToken);
    }

    /// <summary>Runs and throws <see cref="CommandException"/> (with the command and its stderr) unless it exits 0.</summary>
    public Task<string> RunCheckedAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var (actualProgram, actualArguments) = Wrap(program, arguments);
        return _runner.RunCheckedAsync(actualProgram, actualArguments, Timeout, cancellationToken);
    }

    private (string Program, IReadOnlyList<string> Arguments) Wrap(string program, IReadOnlyList<string> arguments) =>
        Namespace is null ? (program, arguments) : ("ip", ["netns", "exec", Namespace, program, .. arguments]);
}
