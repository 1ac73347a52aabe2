namespace NodeAgent.Scheduler.Security;

/// <summary>
/// Who may read and write the image repository over HTTP, with <c>--auth token</c>: a read needs a download grant for
/// that digest (<see cref="ImageGrants"/>, as agents get in their workspaces' image URLs) or an admin's or agent's bearer
/// token; a write needs an upload grant (a host saving a workspace) or an admin's token (<c>ws image add --file</c>).
/// With <c>--auth none</c> everything is allowed, as on the API. /metrics is not the repository's and stays open.
/// </summary>
public sealed class ImageAccess(AuthMode mode, TokenBook tokens, ImageGrants grants)
{
    public ImageGrants Grants => grants;

    /// <summary>Null when the request may read <paramref name="sha256"/>; otherwise why not, to answer with 401.</summary>
    public string? RefuseRead(HttpContext context, string sha256) =>
        mode == AuthMode.None || grants.AllowsDownload(context.Request.Query, sha256) || Bearer(context) is { Role: Role.Admin or Role.Agent } ||
        (HttpMethods.IsHead(context.Request.Method) && grants.AllowsUpload(context.Request.Query)) // an uploader asks first whether it is there
            ? null
            : "reading this repository needs the grant of the image's URL as the scheduler hands it to hosts, or an admin's or agent's token (Authorization: Bearer TOKEN)";

    /// <summary>Null when the request may upload; otherwise why not, to answer with 401.</summary>
    public string? RefuseWrite(HttpContext context) =>
        mode == AuthMode.None || grants.AllowsUpload(context.Request.Query) || Bearer(context) is { Role: Role.Admin }
            ? null
            : "uploading needs an admin's token (ws image add --file sends yours) or the grant of a save's upload URL";

    private Caller? Bearer(HttpContext context) =>
        TokenBook.BearerOf(context.Request.Headers.Authorization.ToString()) is { } bearer ? tokens.Authenticate(bearer) : null;
}
