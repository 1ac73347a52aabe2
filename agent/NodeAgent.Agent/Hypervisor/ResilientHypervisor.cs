using Microsoft.Extensions.Logging;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>
/// The agent's libvirt connection, kept alive: when libvirtd dies or restarts, calls fail at once with a
/// message that says so, the host counts as degraded, and a background loop reconnects with backoff. After a
/// reconnect, lifecycle subscriptions are renewed and <see cref="Reconnected"/> fires, so a full reconcile runs.
/// Guests are never touched on the way: QEMU keeps running without libvirtd, and libvirtd adopts it again.
/// </summary>
public sealed partial class ResilientHypervisor : IHypervisor
{
    private readonly Func<ILibvirtConnection> _open;
    private readonly Func<TimeSpan> _nextDelay;
    private readonly Action _resetDelay;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<Action<DomainEvent>, IDisposable?> _handlers = [];
    private readonly List<IDisposable> _subscriptions = [];
    private ILibvirtConnection? _current;
    private string? _unavailable;
    private bool _disposed;

    public ResilientHypervisor(Func<ILibvirtConnection> open, Func<TimeSpan> nextDelay, Action resetDelay, ILogger<ResilientHypervisor> logger)
    {
        _open = open;
        _nextDelay = nextDelay;
        _resetDelay = resetDelay;
        _logger = logger;
        var first = open();
        Uri = first.Uri;
        DomainType = first.DomainType;
        Architecture = first.Architecture;
        Attach(first);
    }

    /// <summary>Fires on libvirt's event thread or the reconnect loop after a lost connection is back.</summary>
    public event Action? Reconnected;

    public string Uri { get; }

    public string DomainType { get; }

    public string Architecture { get; }

    /// <summary>Why libvirt cannot be used right now, or null while connected.</summary>
    public string? Unavailable
    {
        get
        {
            lock (_lock)
            {
                return _unavailable;
            }
        }
    }

    public IReadOnlyList<DomainInfo> ListDomains() => Use(h => h.ListDomains());

    public DomainInfo? FindDomain(string name) => Use(h => h.FindDomain(name));

    public void Define(string xml) => Use(h => h.Define(xml));

    public void Start(string name) => Use(h => h.Start(name));

    public void Shutdown(string name) => Use(h => h.Shutdown(name));

    public void Destroy(string name) => Use(h => h.Destroy(name));

    public void Undefine(string name) => Use(h => h.Undefine(name));

    public void Pause(string name) => Use(h => h.Pause(name));

    public void Unpause(string name) => Use(h => h.Unpause(name));

    public string? GetMetadata(string name, string uri) => Use(h => h.GetMetadata(name, uri));

    public void SetMetadata(string name, string uri, string prefix, string element) => Use(h => h.SetMetadata(name, uri, prefix, element));

    public string GetXml(string name) => Use(h => h.GetXml(name));

    public IReadOnlyList<DomainStats> GetAllDomainStats(string namePrefix) => Use(h => h.GetAllDomainStats(namePrefix));

    /// <summary>Called with every libvirt error a call through this connection raised (for the agent's error counter).</summary>
    public Action<LibvirtException>? ErrorObserved { get; set; }

    public IDisposable WatchLifecycle(Action<DomainEvent> handler)
    {
        lock (_lock)
        {
            _handlers[handler] = _current?.WatchLifecycle(handler);
        }

        return new Unwatch(this, handler);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            DetachLocked();
        }
    }

    private void Use(Action<ILibvirtConnection> operation) => Use(h =>
    {
        operation(h);
        return true;
    });

    private T Use<T>(Func<ILibvirtConnection, T> operation)
    {
        ILibvirtConnection current;
        lock (_lock)
        {
            current = _current ?? throw new LibvirtException($"libvirt at {Uri} is unavailable ({_unavailable}); the agent reconnects by itself, and running guests are not affected");
        }

        try
        {
            return operation(current);
        }
        catch (LibvirtException e) when (Observed(e) && e.IsConnectionFailure)
        {
            Lost(current, e.LibvirtMessage.Length > 0 ? e.LibvirtMessage : e.Message);
            throw;
        }
    }

    // Runs inside the exception filter, so every libvirt error is seen (not only connection failures) without being
    // caught; true, so whether the filter matches is up to the connection-failure test alone.
    private bool Observed(LibvirtException e)
    {
        ErrorObserved?.Invoke(e);
        return true;
    }

    private void Attach(ILibvirtConnection hypervisor)
    {
        lock (_lock)
        {
            _current = hypervisor;
            _unavailable = null;
            _subscriptions.Add(hypervisor.OnConnectionClosed(reason => Lost(hypervisor, reason)));
            foreach (var handler in _handlers.Keys.ToList())
            {
                _handlers[handler] = hypervisor.WatchLifecycle(handler);
            }
        }
    }

    private void DetachLocked()
    {
        foreach (var subscription in TakeSubscriptionsLocked())
        {
            subscription.Dispose();
        }

        _current?.Dispose();
        _current = null;
    }

    /// <summary>Every subscription on the current connection; the handlers stay, to be subscribed again.</summary>
    private List<IDisposable> TakeSubscriptionsLocked()
    {
        List<IDisposable> taken = [.. _subscriptions, .. _handlers.Values.OfType<IDisposable>()];
        _subscriptions.Clear();
        foreach (var handler in _handlers.Keys.ToList())
        {
            _handlers[handler] = null;
        }

        return taken;
    }

    private void Lost(ILibvirtConnection connection, string why)
    {
        List<IDisposable> subscriptions;
        lock (_lock)
        {
            if (_disposed || !ReferenceEquals(_current, connection))
            {
                return;
            }

            _unavailable = why;
            _current = null;
            subscriptions = TakeSubscriptionsLocked();
        }

        LogLost(_logger, Uri, why);

        // Released on another thread: this may run inside libvirt's close callback, and closing a connection or
        // unregistering its callback from there deadlocks libvirt's event loop.
        _ = Task.Run(async () =>
        {
            foreach (var subscription in subscriptions)
            {
                subscription.Dispose();
            }

            connection.Dispose();
            await ReconnectAsync();
        });
    }

    private async Task ReconnectAsync()
    {
        while (true)
        {
            await Task.Delay(_nextDelay());
            lock (_lock)
            {
                if (_disposed)
                {
                    return;
                }
            }

            try
            {
                Attach(_open());
                _resetDelay();
                LogReconnected(_logger, Uri);
                Reconnected?.Invoke();
                return;
            }
            catch (LibvirtException e)
            {
                lock (_lock)
                {
                    _unavailable = e.LibvirtMessage.Length > 0 ? e.LibvirtMessage : e.Message;
                }
            }
        }
    }

    [LoggerMessage(EventId = 600, Level = LogLevel.Warning, Message = "Lost libvirt at {Uri} ({Reason}); guests keep running; the host is degraded until the agent reconnects")]
    private static partial void LogLost(ILogger logger, string uri, string reason);

    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "Reconnected to libvirt at {Uri}")]
    private static partial void LogReconnected(ILogger logger, string uri);

    private sealed class Unwatch(ResilientHypervisor owner, Action<DomainEvent> handler) : IDisposable
    {
        public void Dispose()
        {
            IDisposable? subscription;
            lock (owner._lock)
            {
                owner._handlers.Remove(handler, out subscription);
            }

            subscription?.Dispose();
        }
    }
}
