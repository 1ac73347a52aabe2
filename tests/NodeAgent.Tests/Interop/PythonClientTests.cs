using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Interop;

/// <summary>
/// Debian's grpcio (a gRPC implementation nobody here wrote), given only the .proto files, calls the real
/// scheduler: unary and streaming calls (a lease group among them), a deadline, error statuses, an oversized request, concurrency.
/// </summary>
public sealed class PythonClientTests : IClassFixture<PythonClientTests.ClientRun>
{
    private readonly ClientRun _run;

    public PythonClientTests(ClientRun run) => _run = run;

    [Theory]
    [InlineData("unary_register")]
    [InlineData("unary_heartbeat")]
    [InlineData("unary_list_hosts")]
    [InlineData("lease_group")]
    [InlineData("error_status")]
    [InlineData("server_streaming")]
    [InlineData("deadline_exceeded")]
    [InlineData("oversized_request")]
    [InlineData("unimplemented_method")]
    [InlineData("metadata_and_concurrency")]
    public void GrpcioClient_CallsTheScheduler_CheckPasses(string check)
        => _run.Checks.AssertPassed(check);

    [Fact]
    public void GrpcioClient_AllChecks_ExitZero() => Assert.True(_run.Checks.ExitCode == 0, _run.Checks.Output);

    /// <summary>Starts the scheduler and runs tests/interop/client.py against it once for the whole class.</summary>
    public sealed class ClientRun : IAsyncLifetime
    {
        public PythonChecks Checks { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Repository.RequirePythonGrpc();
            await using var scheduler = await RunningScheduler.StartAsync();
            Checks = await PythonChecks.RunAsync("client.py", "--target", scheduler.Address.Authority);
        }

        public Task DisposeAsync() => Task.CompletedTask;
    }
}
