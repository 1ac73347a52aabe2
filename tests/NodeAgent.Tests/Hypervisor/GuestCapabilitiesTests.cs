using NodeAgent.Agent.Hypervisor;

namespace NodeAgent.Tests.Hypervisor;

/// <summary>
/// The choice of domain type and machine from capabilities XML. The XML is what libvirt 9.0 with QEMU 7.2
/// reports on a Debian 12 x86_64 host (qemu:///system), shortened to a few machines: the test driver cannot
/// produce a QEMU host's capabilities, and these tests must not depend on a running libvirtd.
/// </summary>
public sealed class GuestCapabilitiesTests
{
    private const string QemuHost = """
        <capabilities>
          <host>
            <uuid>37b8816b-90a3-4a99-9d67-92449ee97881</uuid>
            <cpu>
              <arch>x86_64</arch>
              <model>kvm64</model>
            </cpu>
          </host>
          <guest>
            <os_type>hvm</os_type>
            <arch name='i686'>
              <wordsize>32</wordsize>
              <emulator>/usr/bin/qemu-system-i386</emulator>
              <machine maxCpus='255'>pc-i440fx-7.2</machine>
              <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
              <domain type='qemu'/>
              <domain type='kvm'/>
            </arch>
          </guest>
          <guest>
            <os_type>hvm</os_type>
            <arch name='x86_64'>
              <wordsize>64</wordsize>
              <emulator>/usr/bin/qemu-system-x86_64</emulator>
              <machine maxCpus='255'>pc-i440fx-7.2</machine>
              <machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
              <machine maxCpus='288'>pc-q35-7.2</machine>
              <machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>
              <machine maxCpus='288'>microvm</machine>
              <domain type='qemu'/>
              <domain type='kvm'/>
            </arch>
          </guest>
        </capabilities>
        """;

    [Fact]
    public void Choose_KvmListedAndUsable_Kvm()
    {
        string? askedFor = null;

        var guest = GuestCapabilities.Choose(QemuHost, arch =>
        {
            askedFor = arch;
            return true;
        });

        Assert.Equal(new GuestCapabilities("x86_64", "kvm", "pc-i440fx-7.2"), guest);
        Assert.Equal("x86_64", askedFor);
    }

    [Fact]
    public void Choose_KvmListedButNotUsable_Qemu()
    {
        var guest = GuestCapabilities.Choose(QemuHost, _ => false);

        Assert.Equal("qemu", guest.DomainType);
        Assert.Equal("x86_64", guest.Architecture);
    }

    [Fact]
    public void Choose_KvmNotListed_QemuWithoutAskingForKvm()
    {
        var xml = QemuHost.Replace("<domain type='kvm'/>", "", StringComparison.Ordinal);

        var guest = GuestCapabilities.Choose(xml, _ => throw new InvalidOperationException("kvm must not be probed"));

        Assert.Equal("qemu", guest.DomainType);
    }

    [Fact]
    public void Choose_NoMachineAliases_FirstMachine()
    {
        var xml = QemuHost.Replace(" canonical='pc-i440fx-7.2'", "", StringComparison.Ordinal).Replace(" canonical='pc-q35-7.2'", "", StringComparison.Ordinal);

        var guest = GuestCapabilities.Choose(xml, _ => true);

        Assert.Equal("pc-i440fx-7.2", guest.MachineType);
    }

    [Fact]
    public void Choose_NoGuestForHostArchitecture_FormatExceptionNamesArchitecture()
    {
        var xml = QemuHost.Replace("<arch>x86_64</arch>", "<arch>aarch64</arch>", StringComparison.Ordinal);

        var error = Assert.Throws<FormatException>(() => GuestCapabilities.Choose(xml, _ => true));

        Assert.Contains("aarch64", error.Message, StringComparison.Ordinal);
        Assert.Contains("install the emulator", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Choose_NotXml_FormatException()
    {
        Assert.Throws<FormatException>(() => GuestCapabilities.Choose("<capabilities>", _ => true));
    }
}
