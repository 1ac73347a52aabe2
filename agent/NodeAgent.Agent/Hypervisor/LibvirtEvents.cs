using System.Runtime.InteropServices;

namespace NodeAgent.Agent.Hypervisor;

/// <summary>What happened to a domain, as libvirt's lifecycle events say (virDomainEventType).</summary>
public enum DomainEventKind
{
    Defined = 0,
    Undefined = 1,
    Started = 2,
    Suspended = 3,
    Resumed = 4,
    Stopped = 5,
    Shutdown = 6,
    PMSuspended = 7,
    Crashed = 8,
}

/// <summary>One lifecycle event of one domain. <see cref="Detail"/> is libvirt's detail code for the kind.</summary>
public sealed record DomainEvent(string Name, DomainEventKind Kind, int Detail);

/// <summary>
/// libvirt's default event loop, run on a thread of its own for the whole process, and lifecycle-event
/// subscriptions on a connection. The loop must be registered before the first connection is opened, so
/// <see cref="EnsureLoop"/> runs at the start of every <see cref="LibvirtHypervisor.Open"/>.
/// </summary>
internal static partial class LibvirtEvents
{
    private const string Library = "libvirt.so.0";
    private const int LifecycleEventId = 0; // VIR_DOMAIN_EVENT_ID_LIFECYCLE
    private static readonly Lock LoopLock = new();
    private static bool _loopStarted;

    public static void EnsureLoop()
    {
        lock (LoopLock)
        {
            if (_loopStarted)
            {
                return;
            }

            if (virEventRegisterDefaultImpl() < 0)
            {
                throw LibvirtException.FromLastError(nameof(virEventRegisterDefaultImpl), null, null);
            }

            var thread = new Thread(RunLoop) { IsBackground = true, Name = "libvirt-events" };
            thread.Start();
            _loopStarted = true;
        }
    }

    /// <summary>Calls <paramref name="handler"/> on the event thread for every lifecycle event; dispose to stop.</summary>
    public static unsafe IDisposable Subscribe(ConnectionHandle connection, string uri, Action<DomainEvent> handler)
    {
        var target = GCHandle.Alloc(handler);
        var id = virConnectDomainEventRegisterAny(connection, 0, LifecycleEventId, (nint)(delegate* unmanaged<nint, nint, int, int, nint, int>)&OnLifecycle, GCHandle.ToIntPtr(target), 0);
        if (id < 0)
        {
            target.Free();
            throw LibvirtException.FromLastError(nameof(virConnectDomainEventRegisterAny), null, uri);
        }

        return new Subscription(connection, id, target);
    }

    /// <summary>Calls <paramref name="handler"/> once when libvirt closes the connection (daemon gone, socket broken).</summary>
    public static unsafe IDisposable OnClose(ConnectionHandle connection, string uri, Action<int> handler)
    {
        var target = GCHandle.Alloc(handler);
        if (virConnectRegisterCloseCallback(connection, (nint)(delegate* unmanaged<nint, int, nint, void>)&OnClosed, GCHandle.ToIntPtr(target), 0) < 0)
        {
            target.Free();
            throw LibvirtException.FromLastError(nameof(virConnectRegisterCloseCallback), null, uri);
        }

        return new CloseSubscription(connection, target);
    }

    private static void RunLoop()
    {
        while (true)
        {
            if (virEventRunDefaultImpl() < 0)
            {
                LibvirtNative.virResetLastError();
                Thread.Sleep(100);
            }
        }
    }

    [UnmanagedCallersOnly]
    private static int OnLifecycle(nint connection, nint domain, int kind, int detail, nint opaque)
    {
        try
        {
            var name = Marshal.PtrToStringUTF8(virDomainGetName(domain));
            if (name is not null && GCHandle.FromIntPtr(opaque).Target is Action<DomainEvent> handler)
            {
                handler(new DomainEvent(name, (DomainEventKind)kind, detail));
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // An exception must not unwind into libvirt's C event loop; the periodic reconcile catches what is lost.
        }

        return 0;
    }

    [UnmanagedCallersOnly]
    private static void OnClosed(nint connection, int reason, nint opaque)
    {
        try
        {
            if (GCHandle.FromIntPtr(opaque).Target is Action<int> handler)
            {
                handler(reason);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Never unwind into libvirt; a lost connection is also noticed by the next failing call.
        }
    }

    [LibraryImport(Library)]
    private static partial int virConnectRegisterCloseCallback(ConnectionHandle conn, nint cb, nint opaque, nint freecb);

    [LibraryImport(Library)]
    private static partial int virConnectUnregisterCloseCallback(ConnectionHandle conn, nint cb);

    [LibraryImport(Library)]
    private static partial int virEventRegisterDefaultImpl();

    [LibraryImport(Library)]
    private static partial int virEventRunDefaultImpl();

    [LibraryImport(Library)]
    private static partial int virConnectDomainEventRegisterAny(ConnectionHandle conn, nint dom, int eventID, nint cb, nint opaque, nint freecb);

    [LibraryImport(Library)]
    private static partial int virConnectDomainEventDeregisterAny(ConnectionHandle conn, int callbackID);

    /// <summary>The name is owned by the domain, which libvirt owns during the callback.</summary>
    [LibraryImport(Library, EntryPoint = "virDomainGetName")]
    private static partial nint virDomainGetName(nint domain);

    private sealed class CloseSubscription(ConnectionHandle connection, GCHandle target) : IDisposable
    {
        private int _disposed;

        public unsafe void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                if (!connection.IsClosed)
                {
                    virConnectUnregisterCloseCallback(connection, (nint)(delegate* unmanaged<nint, int, nint, void>)&OnClosed);
                }

                target.Free();
            }
        }
    }

    private sealed class Subscription(ConnectionHandle connection, int id, GCHandle target) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                if (!connection.IsClosed)
                {
                    virConnectDomainEventDeregisterAny(connection, id);
                }

                target.Free();
            }
        }
    }
}
