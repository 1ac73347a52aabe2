using System.CommandLine;
using Google.Protobuf;
using NodeAgent.Rpc;
using NodeAgent.Rpc.Client;

namespace NodeAgent.Cli;

/// <summary>Options every ws command takes.</summary>
public sealed class GlobalOptions
{
    public Option<string?> Scheduler { get; } = new("--scheduler")
    {
        Description = $"The scheduler's address, e.g. http://sched.example:7700, or its replicas' separated by commas (ws tries the next when one cannot be reached). Default: ${SchedulerEndpoint.EnvironmentVariable}, then `scheduler = URL` in ~/.config/nodeagent/ws.conf, then {SchedulerEndpoint.Default}.",
        Recursive = true,
    };

    public Option<string?> TokenFile { get; } = new("--token-file")
    {
        Description = $"A file holding your API token (from an admin's `ws admin token create`). Default: ${TokenSource.EnvironmentVariable} (the token itself), then ~/.config/nodeagent/token.",
        Recursive = true,
    };

    public Option<string?> CaFile { get; } = new("--ca-file")
    {
        Description = "CA certificates (PEM) an https:// scheduler's certificate must chain to, when it is not from a CA the system trusts. Default: $WS_CA_FILE, then the system's trust store.",
        Recursive = true,
    };

    public Option<string> Output { get; } = new("--output", "-o")
    {
        Description = "Output format: table (for people) or json (for scripts).",
        DefaultValueFactory = _ => "table",
        Recursive = true,
    };

    public Option<TimeSpan> Timeout { get; } = new("--timeout")
    {
        Description = "How long to wait for each answer from the scheduler (hh:mm:ss).",
        DefaultValueFactory = _ => TimeSpan.FromSeconds(15),
        Recursive = true,
    };

    public GlobalOptions() => Output.AcceptOnlyFromAmong("table", "json");

    public void AddTo(RootCommand root)
    {
        root.Options.Add(Scheduler);
        root.Options.Add(TokenFile);
        root.Options.Add(CaFile);
        root.Options.Add(Output);
        root.Options.Add(Timeout);
    }
}

/// <summary>What a running ws command needs: the channel, how to print, and its writers.</summary>
public sealed class CommandContext(RpcChannel channel, bool json, TimeSpan timeout, TextWriter output, CancellationToken cancellationToken, string? token = null)
{
    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithIndentation());

    public RpcChannel Channel { get; } = channel;

    public bool JsonOutput { get; } = json;

    public TextWriter Out { get; } = output;

    public CancellationToken CancellationToken { get; } = cancellationToken;

    /// <summary>The caller's API token (null: none); the image repository takes it for uploads too.</summary>
    public string? Token { get; } = token;

    public CallOptions Call => CallOptions.WithTimeout(timeout, CancellationToken);

    /// <summary>
    /// What every call carries: the token, when ws has one, and the local user's name, which a scheduler run with
    /// --auth none takes as the caller (one with tokens ignores it).
    /// </summary>
    public static Metadata Headers(string? token)
    {
        var headers = new Metadata { { "x-nodeagent-user", UserName() } };
        if (token is not null)
        {
            headers.Add("authorization", "Bearer " + token);
        }

        return headers;
    }

    private static string UserName()
    {
        var name = (Environment.GetEnvironmentVariable("USER") ?? Environment.UserName).ToLowerInvariant();
        return Contract.IdSyntax.IsValid(name, out _) ? name : "anonymous";
    }

    /// <summary>Prints <paramref name="message"/> as JSON, or the human rendering as text.</summary>
    public void Write(IMessage message, Func<string> human) => Out.Write(JsonOutput ? Json.Format(message) + "\n" : human());

    /// <summary>
    /// Runs a command: resolves the scheduler, opens the channel, and turns every failure into a message on
    /// stderr and a distinct exit code. The one place ws decides what an error looks like.
    /// </summary>
    public static async Task<int> RunAsync(ParseResult parse, GlobalOptions options, Func<CommandContext, Task> action, CancellationToken cancellationToken)
    {
        var (address, source) = SchedulerEndpoint.Resolve(parse.GetValue(options.Scheduler), Environment.GetEnvironmentVariable);
        IReadOnlyList<Uri> uris;
        try
        {
            uris = RpcChannel.ParseAddresses(address);
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync($"ws: {e.Message} (from {source})");
            return ExitCodes.UsageError;
        }

        string? token;
        string tokenSource;
        try
        {
            (token, tokenSource) = TokenSource.Resolve(parse.GetValue(options.TokenFile), Environment.GetEnvironmentVariable);
        }
        catch (UsageException e)
        {
            await Console.Error.WriteLineAsync($"ws: {e.Message}");
            return ExitCodes.UsageError;
        }

        System.Net.Security.RemoteCertificateValidationCallback? validation = null;
        if ((parse.GetValue(options.CaFile) ?? Environment.GetEnvironmentVariable("WS_CA_FILE")) is { Length: > 0 } caFile)
        {
            try
            {
                validation = TlsFiles.ServerValidator(TlsFiles.LoadAuthorities(caFile));
            }
            catch (TlsFileException e)
            {
                await Console.Error.WriteLineAsync($"ws: {e.Message}");
                return ExitCodes.UsageError;
            }
        }

        using var channel = new RpcChannel(uris, new RpcChannelOptions { DefaultHeaders = Headers(token), ServerCertificateValidation = validation });
        var context = new CommandContext(channel, parse.GetValue(options.Output) == "json", parse.GetValue(options.Timeout), Console.Out, cancellationToken, token);
        try
        {
            await action(context);
            return ExitCodes.Ok;
        }
        catch (RpcException e) when (e.Status is StatusCode.Unavailable or StatusCode.DeadlineExceeded)
        {
            await Console.Error.WriteLineAsync($"ws: {e.Message}\nws: the scheduler address {address} came from {source}; set another with --scheduler or ${SchedulerEndpoint.EnvironmentVariable}.");
            if (e.Message.Contains("TLS handshake", StringComparison.Ordinal))
            {
                await Console.Error.WriteLineAsync("ws: to trust the scheduler's CA, give its certificate with --ca-file FILE or $WS_CA_FILE.");
            }

            return ExitCodes.Unavailable;
        }
        catch (RpcException e) when (e.Status is StatusCode.Unauthenticated)
        {
            await Console.Error.WriteLineAsync($"ws: {e.Message}\nws: token: {(token is null ? tokenSource : "from " + tokenSource)}.");
            return ExitCodes.ServerError;
        }
        catch (RpcException e)
        {
            await Console.Error.WriteLineAsync($"ws: {e.Message}");
            return ExitCodes.ServerError;
        }
        catch (UsageException e)
        {
            await Console.Error.WriteLineAsync($"ws: {e.Message}");
            return ExitCodes.UsageError;
        }
    }
}

/// <summary>A value on the command line is wrong; the message says which and what is accepted.</summary>
public sealed class UsageException : Exception
{
    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException()
    {
    }

    public UsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
