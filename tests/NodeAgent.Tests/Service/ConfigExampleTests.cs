using System.CommandLine;
using NodeAgent.Agent;
using NodeAgent.Scheduler;
using NodeAgent.Service;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Service;

/// <summary>The example configuration files and docs/service.md name every option, and nothing that is not one, so they cannot go stale.</summary>
public sealed class ConfigExampleTests
{
    [Fact]
    public void AgentExample_ListsEveryOptionAndNoOther()
    {
        var commandLine = new AgentCommandLine();

        AssertListsExactly(ConfigExamples.AgentFile, Keys(commandLine.Root, commandLine.Service.Config));
    }

    [Fact]
    public void SchedulerExample_ListsEveryOptionAndNoOther()
    {
        var commandLine = new SchedulerCommandLine();

        AssertListsExactly(ConfigExamples.SchedulerFile, Keys(commandLine.Root, commandLine.Service.Config));
    }

    [Fact]
    public void AgentExample_WithEverySettingSwitchedOn_LoadsWithoutProblems()
    {
        var commandLine = new AgentCommandLine();
        using var pki = new TestPki();
        var (certificate, key) = pki.Client("host-1");
        var file = WriteUncommented(ConfigExamples.AgentFile, out var directory, pki.CaFile, certificate, key);
        using var _ = directory;

        var configuration = commandLine.Service.Load(commandLine.Root, ["--config", file]);
        commandLine.Service.Bind(configuration);
        commandLine.Bind(configuration, host: null);

        Assert.Empty(configuration.Problems);
    }

    [Fact]
    public void SchedulerExample_WithEverySettingSwitchedOn_LoadsWithoutProblems()
    {
        var commandLine = new SchedulerCommandLine();
        using var pki = new TestPki();
        var (certificate, key) = pki.Server();
        var file = WriteUncommented(ConfigExamples.SchedulerFile, out var directory, pki.CaFile, certificate, key);
        using var _ = directory;

        var configuration = commandLine.Service.Load(commandLine.Root, ["--config", file]);
        commandLine.Service.Bind(configuration);
        commandLine.Bind(configuration);

        Assert.Empty(configuration.Problems);
    }

    [Fact]
    public void ServiceDocs_HaveARowForEveryKeyWithItsHelpText()
    {
        var docs = File.ReadAllText(Path.Combine(Repository.Root, "docs", "service.md"));
        var agent = new AgentCommandLine();
        var scheduler = new SchedulerCommandLine();
        var rows = DaemonConfiguration.ConfigurableOptions(agent.Root, agent.Service.Config).Select(o => ConfigExamples.DocsRow(o, AgentCommandLine.ReloadableKeys))
            .Concat(DaemonConfiguration.ConfigurableOptions(scheduler.Root, scheduler.Service.Config).Select(o => ConfigExamples.DocsRow(o, SchedulerCommandLine.ReloadableKeys)));

        var missing = rows.Where(r => !docs.Contains(r + "\n", StringComparison.Ordinal)).ToList();

        Assert.True(missing.Count == 0, "docs/service.md lacks these rows, or has them with another text (copy them in):\n" + string.Join("\n", missing));
    }

    private static List<string> Keys(RootCommand root, Option config) => [.. DaemonConfiguration.ConfigurableOptions(root, config).Select(DaemonConfiguration.KeyOf)];

    private static void AssertListsExactly(string path, IReadOnlyList<string> keys)
    {
        var listed = ConfigExamples.KeysIn(File.ReadAllText(path));

        var missing = keys.Except(listed).ToList();
        var unknown = listed.Except(keys).ToList();
        Assert.True(missing.Count == 0, $"{path} lacks (add `#KEY = DEFAULT` with a line of explanation): {string.Join(", ", missing)}");
        Assert.True(unknown.Count == 0, $"{path} lists keys that are no options: {string.Join(", ", unknown)}");
    }

    /// <summary>
    /// The example with every setting on. Its TLS files (/etc/nodeagent/tls/NAME.pem and .key, ca.pem) become files of a
    /// test CA, since the settings load them.
    /// </summary>
    private static string WriteUncommented(string example, out TempDirectory directory, string caFile, string certificate, string key)
    {
        directory = new TempDirectory();
        var path = Path.Combine(directory.Path, Path.GetFileName(example));
        var text = System.Text.RegularExpressions.Regex.Replace(ConfigExamples.Uncommented(File.ReadAllText(example)), @"/etc/nodeagent/tls/[a-z-]+\.(pem|key)", m =>
            m.Value.EndsWith("/ca.pem", StringComparison.Ordinal) ? caFile : m.Value.EndsWith(".key", StringComparison.Ordinal) ? key : certificate);
        File.WriteAllText(path, text);
        return path;
    }
}
