using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;

namespace NodeAgent.Agent.Processes;

/// <summary>A program the agent ran failed; the message has the command line and what it printed.</summary>
public sealed class CommandException : Exception
{
    public CommandException(string message)
        : base(message)
    {
    }

    public CommandException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public CommandException()
    {
    }
}

/// <summary>The result of a finished program.</summary>
public sealed record CommandResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>
/// Runs the host programs the agent needs (qemu-img, nft, ip). Arguments are passed as a list, never
/// through a shell, so no value can become syntax; every run has a timeout.
/// </summary>
public sealed partial class CommandRunner(ILogger<CommandRunner> logger)
{
    public async Task<CommandResult> RunAsync(string program, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        LogRunning(logger, program, arguments.Count);
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CommandException($"cannot run {program}: {e.Message}; is it installed (the nodeagent package depends on it)?", e);
        }

        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw new CommandException($"{Describe(program, arguments)} did not finish within {timeout.TotalSeconds:0} s and was killed");
        }

        return new CommandResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs a program and throws <see cref="CommandException"/> unless it exits 0.</summary>
    public async Task<string> RunCheckedAsync(string program, IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var result = await RunAsync(program, arguments, timeout, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new CommandException($"{Describe(program, arguments)} exited with {result.ExitCode}: {Tail(result.StandardError)}");
        }

        return result.StandardOutput;
    }

    public static string Describe(string program, IReadOnlyList<string> arguments)
    {
        var builder = new StringBuilder(program);
        foreach (var argument in arguments)
        {
            builder.Append(' ').Append(argument.Contains(' ', StringComparison.Ordinal) ? $"'{argument}'" : argument);
        }

        return builder.ToString();
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Debug, Message = "Running {Program} with {ArgumentCount} arguments")]
    private static partial void LogRunning(ILogger logger, string program, int argumentCount);

    private static string Tail(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length <= 600 ? trimmed : "…" + trimmed[^600..];
    }
}
