namespace NodeAgent.Scheduler.Security;

/// <summary>
/// At start, with <c>--auth token</c>: makes the first admin token when no admin token is valid, and writes it to
/// <see cref="SchedulerOptions.AdminTokenFile"/>. Runs before the API listens, so the file exists when the first call can.
/// </summary>
internal sealed partial class AdminTokenBootstrap(TokenBook tokens, SchedulerOptions options, ILogger<AdminTokenBootstrap> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (await tokens.BootstrapAsync(options.AdminTokenFile, cancellationToken))
        {
            LogWritten(logger, options.AdminTokenFile);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 40, Level = LogLevel.Warning,
        Message = "No admin token was valid: wrote a new one to {Path} (mode 0600). Use it with 'ws --token-file {Path} admin token create ...' to make users' and agents' tokens")]
    private static partial void LogWritten(ILogger logger, string path);
}
