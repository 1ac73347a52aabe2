using NodeAgent.Agent;
using NodeAgent.Agent.HostFacts;
using NodeAgent.Scheduler;
using NodeAgent.Scheduler.Placement;
using NodeAgent.Service;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Service;

/// <summary>Configuration files read as command-line options, with the daemons' real option sets and real files.</summary>
public sealed class DaemonConfigurationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Load_FileAndCommandLine_FileSetsWhatTheCommandLineDoesNotGive()
    {
        var file = Write("scheduler.conf", """
            # heartbeats
            heartbeat-interval = 00:00:07
            heartbeat-ttl = 00:01:00

            placement-strategy = pack
            """);
        var commandLine = new SchedulerCommandLine();

        var configuration = commandLine.Service.Load(commandLine.Root, ["--config", file, "--heartbeat-interval", "00:00:09"]);
        var options = commandLine.Bind(configuration);

        Assert.Empty(configuration.Problems);
        Assert.Equal(TimeSpan.FromSeconds(9), options.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromMinutes(1), options.HeartbeatTtl);
        Assert.Equal(PlacementStrategy.Pack, options.Placement.Strategy);
        Assert.Equal(["heartbeat-interval"], configuration.OverriddenKeys);
        Assert.Equal(file, configuration.FilePath);
    }

    [Fact]
    public void Load_RepeatedKey_GivesEveryValueOfARepeatableOption()
    {
        var file = Write("nodeagent.conf", """
            label = rack=r12
            label = note=a#b @c = d
            network = lab=nabr0
            network = dmz=nabr1,uplink=eth1,vlan=7
            """);
        var commandLine = new AgentCommandLine();

        var configuration = commandLine.Service.Load(commandLine.Root, ["--config", file]);
        var options = commandLine.Bind(configuration, host: null);

        Assert.Empty(configuration.Problems);
        Assert.Equal("r12", options.Labels["rack"]);
        Assert.Equal("a#b @c = d", options.Labels["note"]);
        Assert.Equal(["lab", "dmz"], options.Networks.Select(n => n.Name.Value));
    }

    [Fact]
    public void Load_SchedulerReplicas_CommaSeparated_EveryAddressInOrder_AndABadOneNamed()
    {
        var file = Write("nodeagent.conf", "scheduler = http://s1:7700, http://s2:7700,https://s3:7443\n");
        var commandLine = new AgentCommandLine();

        var configuration = commandLine.Service.Load(commandLine.Root, ["--config", file]);
        var options = commandLine.Bind(configuration, host: null);

        Assert.Empty(configuration.Problems);
        Assert.Equal(["http://s1:7700/", "http://s2:7700/", "https://s3:7443/"], options.Schedulers.Select(s => s.ToString()));
        Assert.Equal("s1", options.Scheduler.Host);

        var bad = Write("bad.conf", "scheduler = http://s1:7700,,http://s2:7700\n");
        var badLoad = commandLine.Service.Load(commandLine.Root, ["--config", bad]);
        commandLine.Bind(badLoad, host: null);
        Assert.Contains(badLoad.Problems, p => p.Contains("empty address", StringComparison.Ordinal) && p.StartsWith(bad + ":1:", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_RepeatableOptionOnTheCommandLine_ReplacesTheFilesValues()
    {
        var file = Write("nodeagent.conf", "label = rack=r12\nlabel = row=3\n");
        var commandLine = new AgentCommandLine();

        var configuration = commandLine.Service.Load(commandLine.Root, ["--config", file, "--label", "rack=r1"]);
        var options = commandLine.Bind(configuration, host: null);

        Assert.Empty(configuration.Problems);
        Assert.Equal(new Dictionary<string, string> { ["rack"] = "r1" }, options.Labels);
    }

    [Fact]
    public void Load_FileWithManyMistakes_ReportsEachWithItsLineInLineOrder()
    {
        var file = Write("nodeagent.conf", """
            scheduler = http://127.0.0.1:7700
            stop-timeout = soon
            reserved-vcpus = 4096
            stop-timeot = 00:00:10
            just some words
            reserved-memory = 12Q
            label = Rack=r2
            parallel-operations = 4
            parallel-operations = 5
            host-id =
            config = /etc/other.conf
            """);
        var commandLine = new AgentCommandLine();

        var configuration = commandLine.Service.Load(commandLine.Root, ["--config", file, "--reconcile-interval", "00:00:00"]);
        commandLine.Bind(configuration, new HostSize(Vcpus: 8, MemoryBytes: 16L << 30));

        var problems = configuration.Problems;
        Assert.Collection(problems,
            p => Assert.StartsWith($"{file}:2: stop-timeout = soon: ", p),
            p => Assert.StartsWith($"{file}:3: reserved-vcpus: 4096 leaves none of this host's 8 CPUs", p),
            p => Assert.StartsWith($"{file}:4: unknown key 'stop-timeot'; did you mean stop-timeout?", p),
            p => Assert.StartsWith($"{file}:5: 'just some words' is not `key = value`", p),
            p => Assert.StartsWith($"{file}:6: --reserved-memory '12Q' is not a size", p),
            p => Assert.StartsWith($"{file}:7: label key 'Rack' has 'R' at position 0", p),
            p => Assert.StartsWith($"{file}:9: parallel-operations is already set at {file}:8", p),
            p => Assert.StartsWith($"{file}:10: host-id has no value", p),
            p => Assert.StartsWith($"{file}:11: config cannot be set in a configuration file", p),
            p => Assert.StartsWith("reconcile-interval: 00:00:00 is shorter than a second", p));
    }

    [Fact]
    public void Load_ValueThatDoesNotParse_IsNotJudgedAgainOnItsDefault()
    {
        // heartbeat-ttl's default (15 s) is shorter than twice the file's interval: that is no problem of the file's.
        var file = Write("scheduler.conf", "heartbeat-interval = 00:00:30\nheartbeat-ttl = a minute\n");
        var commandLine = new SchedulerCommandLine();

        var configuration = commandLine.Service.Load(commandLine.Root, ["--config", file]);
        commandLine.Bind(configuration);

        Assert.Equal($"{file}:2: heartbeat-ttl = a minute: ", Assert.Single(configuration.Problems)[..($"{file}:2: heartbeat-ttl = a minute: ".Length)]);
    }

    [Fact]
    public void Load_ExplicitFileThatIsMissing_IsAProblemAndNoneReadsNoFile()
    {
        var commandLine = new SchedulerCommandLine();
        var missing = Path.Combine(_directory.Path, "absent.conf");

        var withMissing = commandLine.Service.Load(commandLine.Root, ["--config", missing]);
        var withNone = commandLine.Service.Load(commandLine.Root, ["--config", "none"]);

        Assert.Equal($"config: {missing} does not exist; give an existing file, or --config none to read none", Assert.Single(withMissing.Problems));
        Assert.Empty(withNone.Problems);
        Assert.Null(withNone.FilePath);
    }

    [Fact]
    public void Load_DefaultFile_IsReadWhenItExistsAndSkippedWhenNot()
    {
        var commandLine = new SchedulerCommandLine();
        var defaultPath = Path.Combine(_directory.Path, "scheduler.conf");

        var before = DaemonConfiguration.Load(commandLine.Root, commandLine.Service.Config, defaultPath, []);
        File.WriteAllText(defaultPath, "expiry-grace = 00:05:00\n");
        var after = DaemonConfiguration.Load(commandLine.Root, commandLine.Service.Config, defaultPath, []);

        Assert.Null(before.FilePath);
        Assert.Equal(TimeSpan.FromMinutes(2), commandLine.Bind(before).ExpiryGrace);
        Assert.Equal(defaultPath, after.FilePath);
        Assert.Equal(TimeSpan.FromMinutes(5), commandLine.Bind(after).ExpiryGrace);
    }

    [Fact]
    public void EffectiveValues_AfterTheFileChanges_DifferInTheChangedKeysOnly()
    {
        var file = Write("scheduler.conf", "expiry-grace = 00:05:00\nlisten = http://127.0.0.1:7700\n");
        var commandLine = new SchedulerCommandLine();
        var first = commandLine.Service.Load(commandLine.Root, ["--config", file]);

        File.WriteAllText(file, "expiry-grace = 00:06:00\nlisten = http://127.0.0.1:7700\nlisten = http://127.0.0.1:7710\n");
        var second = first.Reload();

        var (before, after) = (first.EffectiveValues(), second.EffectiveValues());
        Assert.Equal(["expiry-grace", "listen"], after.Keys.Where(k => before[k] != after[k]).Order());
        Assert.Equal("http://127.0.0.1:7700\nhttp://127.0.0.1:7710", after["listen"]);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_directory.Path, name);
        File.WriteAllText(path, text);
        return path;
    }
}
