using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Interop;

/// <summary>
/// Debian's grpcio (a gRPC implementation nobody here wrote), given only the .proto files, calls the real
/// scheduler: unary and streaming calls, a deadline, error statuses, an oversized request, concurrency.
/// </summary>
public sealed class PythonClientTests : IClassFixture<PythonClientTests.ClientRun>
{
    private readonly ClientRun _run;

    public PythonClientTests(ClientRun run) => _run = run;

    [Theory]
    [InlineData("unary_register")]
    [InlineData("unary_heartbeat")]
    [InlineData("unary_list_hosts")]
    [InlineData("error_status")]
    [InlineData("server_streaming")]
    [InlineData("deadline_exceeded")]
    [InlineData("oversized_request")]
    [InlineData("unimplemented_method")]
    [InlineData("metadata_and_concurrency")]
    public void GrpcioClient_CallsTheScheduler_CheckPasses(string check)
    {
        Assert.True(_run.Results.TryGetValue(check, out var result), $"the grpcio client did not report '{check}'. Output:\n{_run.Output}");
        Assert.True(result.Ok, $"{check}: {result.Detail}");
    }

    [Fact]
    public void GrpcioClient_AllChecks_ExitZero() => Assert.True(_run.ExitCode == 0, _run.Output);

    /// <summary>Starts the scheduler and runs tests/interop/client.py against it once for the whole class.</summary>
    public sealed class ClientRun : IAsyncLifetime
    {
        public Dictionary<string, (bool Ok, string Detail)> Results { get; private set; } = [];

        public string Output { get; private set; } = string.Empty;

        public int ExitCode { get; private set; } = -1;

        public async Task InitializeAsync()
        {
            Repository.RequirePythonGrpc();
            await using var scheduler = await RunningScheduler.StartAsync();
            var run = await PythonChecks.RunAsync("client.py", "--target", scheduler.Address.Authority);
            (Results, Output, ExitCode) = (run.Results, run.Output, run.ExitCode);
        }

        public Task DisposeAsync() => Task.CompletedTask;
    }
}
