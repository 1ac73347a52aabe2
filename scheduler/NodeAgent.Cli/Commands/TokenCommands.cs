using System.CommandLine;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using NodeAgent.Cli.Output;
using NodeAgent.Contract.V1;

namespace NodeAgent.Cli.Commands;

/// <summary><c>ws admin token create|list|revoke</c> (admins) and <c>ws whoami</c> (anyone with a token).</summary>
public static class TokenCommands
{
    public static Command CreateAdmin(GlobalOptions options)
    {
        var token = new ManualCommand("token", "Make, list and revoke API tokens (admins).", """
            Every call to a scheduler run with --auth token carries a bearer token. A user's token is for one
            project: its holder leases in that project and sees and changes that project's leases only. An
            admin's token may do everything. An agent's token is for one host: the agent registers and reports
            for that host only, and receives that host's workspaces only.

            The scheduler keeps only a SHA-256 of each token: `create` prints the token once, and it cannot be
            shown again. The first admin token is written at the scheduler's first start to its
            --admin-token-file (by default /var/lib/nodeagent-scheduler/admin.token).
            """)
        {
            CreateCommand(options),
            ListCommand(options),
            RevokeCommand(options),
        };
        return new ManualCommand("admin", "Administration: API tokens.", "Commands for the scheduler's admins; they need an admin token.") { token };
    }

    public static Command CreateWhoAmI(GlobalOptions options)
    {
        var command = new ManualCommand("whoami", "Show who your token says you are.", """
            Prints the user, project, role and token id the scheduler finds for your token, and when it
            expires. Use it to check a token before a script depends on it.

            Examples:
              ws whoami
              ws --token-file ~/physics.token whoami -o json
            """);
        command.SetAction((parse, cancel) => CommandContext.RunAsync(parse, options, async context =>
        {
            var identity = await new TokenServiceClient(context.Channel).WhoAmIAsync(new WhoAmIRequest(), context.Call);
            context.Write(identity, () =>
                $"user     {identity.User}\nproject  {Or(identity.Project)}\nrole     {RoleName(identity.Role)}\n" +
                (identity.HostId.Length > 0 ? $"host     {identity.HostId}\n" : string.Empty) +
                $"token    {Or(identity.TokenId)}\nexpires  {(identity.ExpiresAt is { } e ? Time(e) : "never")}\n");
        }, cancel));
        return command;
    }

    private static ManualCommand CreateCommand(GlobalOptions options)
    {
        var user = new Option<string?>("--user") { Description = "The user the token is for (users and admins)." };
        var project = new Option<string?>("--project") { Description = "The user's project: required for users; an admin's leases go there too." };
        var admin = new Option<bool>("--admin") { Description = "Make an admin token: it may do everything." };
        var host = new Option<string?>("--host") { Description = "Make an agent token for this host id (the agent's /var/lib/nodeagent/host-id)." };
        var expires = new Option<string?>("--expires-in") { Description = "How long the token lasts, e.g. 90d, 12h; between 1 minute and 3650 days. Default: until revoked." };
        var description = new Option<string?>("--description") { Description = "What the token is for, shown by `list`." };
        var command = new ManualCommand("create", "Make a token and print it (once).", """
            Makes a user token (--user and --project), an admin token (--admin and --user) or an agent token
            (--host). The token is printed on standard output and nowhere else: put it where its holder reads
            it, e.g. ~/.config/nodeagent/token (mode 0600) for ws, or the agent's token-file.

            Examples:
              ws admin token create --user alice --project physics --expires-in 90d > alice.token
              ws admin token create --host node17 --description "rack 3" > /etc/nodeagent/agent.token
              ws admin token create --admin --user bob
            """)
        { user, project, admin, host, expires, description };
        command.SetAction((parse, cancel) => CommandContext.RunAsync(parse, options, async context =>
        {
            var hostId = parse.GetValue(host);
            if (hostId is not null && parse.GetValue(admin))
            {
                throw new UsageException("--host makes an agent token and --admin an admin token: give one of them");
            }

            var request = new CreateTokenRequest
            {
                User = parse.GetValue(user) ?? string.Empty,
                Project = parse.GetValue(project) ?? string.Empty,
                Role = hostId is not null ? Role.Agent : parse.GetValue(admin) ? Role.Admin : Role.User,
                HostId = hostId ?? string.Empty,
                Description = parse.GetValue(description) ?? string.Empty,
            };
            if (parse.GetValue(expires) is { } lifetime)
            {
                request.ExpiresIn = Duration.FromTimeSpan(Parsing.Duration(lifetime, "--expires-in"));
            }

            var created = await new TokenServiceClient(context.Channel).CreateTokenAsync(request, context.Call);
            context.Write(created, () => created.Secret + "\n");
            if (!context.JsonOutput)
            {
                await Console.Error.WriteLineAsync($"ws: made token {created.Token.Id} ({Whose(created.Token)}); it is shown only this once");
            }
        }, cancel));
        return command;
    }

    private static ManualCommand ListCommand(GlobalOptions options)
    {
        var user = new Option<string?>("--user") { Description = "Only this user's tokens." };
        var project = new Option<string?>("--project") { Description = "Only this project's tokens." };
        var all = new Option<bool>("--all") { Description = "Revoked tokens too." };
        var command = new ManualCommand("list", "List tokens, newest first (never their secrets).", """
            One row per token: its id, role, whose it is, when it was made and by whom, and when it expires.
            Revoked tokens are listed only with --all.

            Examples:
              ws admin token list
              ws admin token list --project physics --all -o json
            """)
        { user, project, all };
        command.SetAction((parse, cancel) => CommandContext.RunAsync(parse, options, async context =>
        {
            var response = await new TokenServiceClient(context.Channel).ListTokensAsync(
                new ListTokensRequest { User = parse.GetValue(user) ?? string.Empty, Project = parse.GetValue(project) ?? string.Empty, IncludeRevoked = parse.GetValue(all) },
                context.Call);
            context.Write(response, () =>
            {
                var table = new Table("ID", "ROLE", "FOR", "CREATED", "BY", "EXPIRES", "REVOKED", "DESCRIPTION");
                foreach (var t in response.Tokens)
                {
                    table.Add(t.Id, RoleName(t.Role), Whose(t), Time(t.CreatedAt), t.CreatedBy, t.ExpiresAt is { } e ? Time(e) : "never",
                        t.RevokedAt is { } r ? $"{Time(r)} by {t.RevokedBy}" : "-", Or(t.Description));
                }

                return table.ToString();
            });
        }, cancel));
        return command;
    }

    private static ManualCommand RevokeCommand(GlobalOptions options)
    {
        var id = new Argument<string>("ID") { Description = "The token's id (t-…), as `ws admin token list` shows." };
        var command = new ManualCommand("revoke", "Revoke a token at once.", """
            The token stops working at once on the scheduler that revokes it, and within 2 seconds on its
            other replicas. Revoking an agent's token stops its reports: give the agent a new one first.

            Example:
              ws admin token revoke t-3f0c9a1b2c3d4e5f
            """)
        { id };
        command.SetAction((parse, cancel) => CommandContext.RunAsync(parse, options, async context =>
        {
            var token = await new TokenServiceClient(context.Channel).RevokeTokenAsync(new RevokeTokenRequest { Id = parse.GetValue(id)! }, context.Call);
            context.Write(token, () => $"revoked {token.Id} ({Whose(token)})\n");
        }, cancel));
        return command;
    }

    private static string Whose(Token t) => t.Role switch
    {
        Role.Agent => "host " + t.HostId,
        Role.Admin => "admin " + t.User + (t.Project.Length > 0 ? " in " + t.Project : string.Empty),
        _ => t.User + " in " + t.Project,
    };

    private static string RoleName(Role role) => role switch
    {
        Role.Admin => "admin",
        Role.Agent => "agent",
        Role.User => "user",
        _ => "-",
    };

    private static string Or(string text) => text.Length > 0 ? text : "-";

    private static string Time(Timestamp t) => t.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture);
}
