using System.Diagnostics;

namespace NodeAgent.Agent.Workspaces;

/// <summary>
/// Named points in the workspace state machine, right after each step has taken effect. Crash tests stop the
/// agent exactly there; in normal operation nothing happens.
/// </summary>
public interface IFailpoints
{
    void Reached(string workspaceId, string point);
}

/// <summary>No failpoint is set: the normal case.</summary>
public sealed class NoFailpoints : IFailpoints
{
    public void Reached(string workspaceId, string point)
    {
    }
}

/// <summary>
/// The agent kills itself with SIGKILL the first time any workspace reaches the step named in
/// <c>NODEAGENT_CRASH_AFTER</c> (e.g. <c>prepare:disk</c>, <c>start</c>, <c>record:removing</c>): the crash
/// test's way to kill -9 the agent exactly between two steps, which timing from outside cannot do.
/// </summary>
public sealed class CrashAfterStep(string step) : IFailpoints
{
    public const string Variable = "NODEAGENT_CRASH_AFTER";

    public static IFailpoints FromEnvironment() =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } step ? new CrashAfterStep(step) : new NoFailpoints();

    public void Reached(string workspaceId, string point)
    {
        if (string.Equals(step, point, StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"{Variable}={step}: workspace {workspaceId} reached it; killing the agent with SIGKILL");
            Process.GetCurrentProcess().Kill();
        }
    }
}
