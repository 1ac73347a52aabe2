using System.Diagnostics;
using NodeAgent.Agent.Metering;
using NodeAgent.Tests.Support;

namespace NodeAgent.Tests.Metering;

/// <summary>A domain's cgroup CPU time, found from its QEMU pid, on cgroupfs-shaped trees (v1 and v2) and on this host's real v1 cgroups.</summary>
public sealed class CgroupCpuTests : IDisposable
{
    private const string Scope = @"machine.slice/machine-qemu\x2d3\x2dnodeagent\x2dw1.scope";
    private readonly TempDirectory _dir = new();

    private string Root => Path.Combine(_dir.Path, "cgroup");

    private string Pids => Path.Combine(_dir.Path, "run");

    private string Proc => Path.Combine(_dir.Path, "proc");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Read_CgroupV1_ReadsCpuacctUsageOfTheDomainCgroupNotOfEmulator()
    {
        Write(Path.Combine(Pids, "nodeagent-w1.pid"), "4242\n");
        Write(Path.Combine(Proc, "4242", "cgroup"),
            $"9:name=systemd:/{Scope}\n4:cpu,cpuacct:/{Scope}/emulator\n3:memory:/{Scope}\n");
        Write(Path.Combine(Root, "cpu,cpuacct", Scope, "cpuacct.usage"), "12500000000\n");
        Write(Path.Combine(Root, "cpu,cpuacct", Scope, "emulator", "cpuacct.usage"), "1000000000\n");

        var reading = new CgroupCpu(Root, Pids, Proc).Read("nodeagent-w1");

        Assert.Equal(new CgroupCpuReading(4242, 12.5), reading);
    }

    [Fact]
    public void Read_CgroupV2_ReadsUsageUsecFromCpuStatOfTheParentOfEmulator()
    {
        Write(Path.Combine(Pids, "nodeagent-w1.pid"), "77");
        Write(Path.Combine(Proc, "77", "cgroup"), $"0::/{Scope}/libvirt/emulator\n");
        Write(Path.Combine(Root, Scope, "libvirt", "cpu.stat"), "usage_usec 7250000\nuser_usec 7000000\nsystem_usec 250000\n");
        Write(Path.Combine(Root, Scope, "libvirt", "emulator", "cpu.stat"), "usage_usec 100\n");

        var reading = new CgroupCpu(Root, Pids, Proc).Read("nodeagent-w1");

        Assert.Equal(new CgroupCpuReading(77, 7.25), reading);
    }

    [Fact]
    public void Read_HybridWithQemuInTheCpuacctRoot_ReadsTheUnifiedTreeNotTheHostsTotal()
    {
        // As libvirt 9 places QEMU on a hybrid host whose cpu and cpuacct are separate v1 mounts: cpuacct stays at the
        // root, whose cpuacct.usage is the whole host's CPU.
        const string Domain = "machine/project-alice.partition/qemu-4-nodeagent-w1.libvirt-qemu";
        Write(Path.Combine(Pids, "nodeagent-w1.pid"), "91");
        Write(Path.Combine(Proc, "91", "cgroup"), $"4:memory:/{Domain}\n2:cpuacct:/\n1:cpu:/{Domain}/emulator\n0::/{Domain}/emulator\n");
        Write(Path.Combine(Root, "cpuacct", "cpuacct.usage"), "999000000000000\n");
        Write(Path.Combine(Root, "unified", "cgroup.controllers"), "hugetlb\n");
        Write(Path.Combine(Root, "unified", Domain, "cpu.stat"), "usage_usec 6427643\nuser_usec 5994274\nsystem_usec 433369\n");

        var reading = new CgroupCpu(Root, Pids, Proc).Read("nodeagent-w1");

        Assert.Equal(new CgroupCpuReading(91, 6.427643), reading);
    }

    [Fact]
    public void Read_ProcessOnlyInRootCgroups_IsNullSoLibvirtsCpuTimeAnswers()
    {
        Write(Path.Combine(Pids, "nodeagent-w1.pid"), "92");
        Write(Path.Combine(Proc, "92", "cgroup"), "2:cpuacct:/\n1:cpu:/\n0::/\n");
        Write(Path.Combine(Root, "cpuacct", "cpuacct.usage"), "999000000000000\n");
        Write(Path.Combine(Root, "cpu.stat"), "usage_usec 999000000000\n");

        Assert.Null(new CgroupCpu(Root, Pids, Proc).Read("nodeagent-w1"));
    }

    [Fact]
    public void Read_NoPidFileOrNoCgroupFile_IsNull()
    {
        var cgroups = new CgroupCpu(Root, Pids, Proc);
        Assert.Null(cgroups.Read("nodeagent-w1"));

        Write(Path.Combine(Pids, "nodeagent-w1.pid"), "77");
        Write(Path.Combine(Proc, "77", "cgroup"), $"0::/{Scope}/emulator\n");
        Assert.Null(cgroups.Read("nodeagent-w1"));
    }

    [Fact]
    public void DomainCgroup_EmulatorChild_IsItsParent()
    {
        Assert.Equal("machine/a.libvirt-qemu", CgroupCpu.DomainCgroup("/machine/a.libvirt-qemu/emulator"));
        Assert.Equal("machine/a.libvirt-qemu", CgroupCpu.DomainCgroup("/machine/a.libvirt-qemu"));
    }

    [Fact]
    public void Read_RealCgroupV1_ProcessInEmulatorChild_GivesTheDomainCgroupsCpuacctUsage()
    {
        var domain = Path.Combine("/sys/fs/cgroup/cpuacct", "nodeagent-test-" + Guid.NewGuid().ToString("N")[..8]);
        var emulator = Path.Combine(domain, "emulator");
        Directory.CreateDirectory(emulator);
        using var burner = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "read go; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done; read stop"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        })!;
        try
        {
            File.WriteAllText(Path.Combine(emulator, "cgroup.procs"), burner.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            burner.StandardInput.WriteLine("go");
            Assert.Equal("done", burner.StandardOutput.ReadLine());
            Write(Path.Combine(Pids, "nodeagent-w1.pid"), burner.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));

            var reading = new CgroupCpu("/sys/fs/cgroup", Pids, "/proc").Read("nodeagent-w1");

            var expected = ulong.Parse(File.ReadAllText(Path.Combine(domain, "cpuacct.usage")).Trim(), System.Globalization.CultureInfo.InvariantCulture) / 1e9;
            Assert.NotNull(reading);
            Assert.Equal(burner.Id, reading.Pid);
            Assert.True(reading.CpuSeconds > 0, "the shell's loop used CPU in the cgroup");
            Assert.Equal(expected, reading.CpuSeconds);
        }
        finally
        {
            burner.Kill();
            burner.WaitForExit();
            Directory.Delete(emulator);
            Directory.Delete(domain);
        }
    }

    private static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }
}
