namespace NodeAgent.Agent.Hypervisor;

/// <summary>A domain's state as libvirt reports it; the values are virDomainState's.</summary>
public enum DomainState
{
    NoState = 0,
    Running = 1,
    Blocked = 2,
    Paused = 3,
    /// <summary>Shutting down: the guest got the request and has not powered off yet.</summary>
    Shutdown = 4,
    Shutoff = 5,
    Crashed = 6,
    /// <summary>Suspended by guest power management (S3/S4).</summary>
    PMSuspended = 7,
}
