using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace NodeAgent.Benchmarks;

/// <summary>
/// gRPC unary calls written as HTTP/2 frames on one connection per scheduler, for the heartbeat window: heartbeats
/// differ from host to host, so h2load, which sends one body, cannot send them, and this program's managed gRPC
/// client spends as much CPU per call as the scheduler does to answer it, on the same 2 cores.
/// </summary>
/// <remarks>
/// A call is a HEADERS frame (the request's headers, HPACK-encoded once, as literals and static-table entries) and
/// a DATA frame (the length-prefixed message) that ends the stream (RFC 9113; the gRPC over HTTP/2 protocol). What
/// the scheduler answers is not decoded: a call succeeded when its stream carried a DATA frame (the response
/// message) before it ended, since a gRPC server that fails a unary call answers with trailers alone. Flow control:
/// the connection's send window is kept from the server's WINDOW_UPDATE frames, and the receive window is opened
/// wide at the start and topped up as answers arrive.
/// </remarks>
internal sealed class RawGrpcCalls : IDisposable
{
    private const int MaxWindow = int.MaxValue;
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly byte[] _headers;
    private readonly SemaphoreSlim _writing = new(1, 1);
    private readonly SemaphoreSlim _window = new(0);
    private readonly bool[] _answered = new bool[4096];
    private long _sendWindow = 65_535;
    private int _nextStream = 1;
    private Exception? _failure;

    private RawGrpcCalls(Socket socket, Uri scheduler, string method)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _headers = HeaderBlock(scheduler, method);
    }

    public static async Task<RawGrpcCalls> ConnectAsync(Uri scheduler, string method)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(scheduler.Host, scheduler.Port);
        var calls = new RawGrpcCalls(socket, scheduler, method);
        var start = new List<byte>(Preface);
        start.AddRange(Frame(type: 4, flags: 0, stream: 0, [0, 4, .. BigEndian(MaxWindow)])); // SETTINGS: INITIAL_WINDOW_SIZE
        start.AddRange(Frame(type: 8, flags: 0, stream: 0, BigEndian(MaxWindow - 65_535))); // WINDOW_UPDATE of the connection
        await calls._stream.WriteAsync(start.ToArray());
        return calls;
    }

    /// <summary>
    /// Makes calls for <paramref name="window"/>, <paramref name="inFlight"/> at a time, the i-th with
    /// <paramref name="body"/>(i) (a message as gRPC frames it, <see cref="H2Load.Framed"/>); returns how many were
    /// answered with a message. Throws if any call failed or the connection broke.
    /// </summary>
    public async Task<long> CallForAsync(TimeSpan window, int inFlight, Func<long, byte[]> body)
    {
        using var slots = new SemaphoreSlim(inFlight, inFlight);
        long answered = 0, failed = 0, started = 0;
        using var stop = new CancellationTokenSource();
        var reading = Task.Run(async () =>
        {
            try
            {
                await ReadAsync(ok =>
                {
                    if (ok)
                    {
                        Interlocked.Increment(ref answered);
                    }
                    else
                    {
                        Interlocked.Increment(ref failed);
                    }

                    slots.Release();
                }, stop.Token);
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                // The writer waits for a free slot: it is given every one, and finds the failure.
                _failure = e;
                try
                {
                    slots.Release(inFlight);
                }
                catch (SemaphoreFullException)
                {
                    // Some were free already; the writer finds the failure at the next one either way.
                }
            }
        });
        var clock = Stopwatch.StartNew();
        var batch = new List<byte>(16 * 1024);
        while (clock.Elapsed < window)
        {
            await slots.WaitAsync();
            ThrowIfBroken();
            batch.Clear();
            do
            {
                var message = body(started++);
                while (Interlocked.Read(ref _sendWindow) < message.Length)
                {
                    await _window.WaitAsync(TimeSpan.FromMilliseconds(10));
                }

                Interlocked.Add(ref _sendWindow, -message.Length);
                var id = _nextStream;
                _nextStream += 2;
                _answered[(id >> 1) % _answered.Length] = false;
                batch.AddRange(Frame(type: 1, flags: 0x4, id, _headers)); // HEADERS, END_HEADERS
                batch.AddRange(Frame(type: 0, flags: 0x1, id, message)); // DATA, END_STREAM
            }
            while (batch.Count < 8 * 1024 && slots.Wait(0));

            await WriteAsync(batch.ToArray());
        }

        for (var i = 0; i < inFlight; i++)
        {
            await slots.WaitAsync();
            ThrowIfBroken();
        }

        await stop.CancelAsync();
        _socket.Shutdown(SocketShutdown.Both);
        await reading.ContinueWith(_ => { }, TaskScheduler.Default);
        return failed == 0 ? answered : throw new InvalidOperationException($"{failed} of {answered + failed} calls were not answered with a message");
    }

    private void ThrowIfBroken()
    {
        if (_failure is { } failure)
        {
            throw new InvalidOperationException($"the connection to the scheduler broke: {failure.Message}", failure);
        }
    }

    /// <summary>Reads frames until the connection ends, calling <paramref name="ended"/> for each stream that ends.</summary>
    private async Task ReadAsync(Action<bool> ended, CancellationToken cancellationToken)
    {
        var header = new byte[9];
        var payload = new byte[16_384];
        long unacknowledged = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            await _stream.ReadExactlyAsync(header, cancellationToken);
            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            var (type, flags) = (header[3], header[4]);
            var id = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue;
            if (length > payload.Length)
            {
                payload = new byte[length];
            }

            await _stream.ReadExactlyAsync(payload.AsMemory(0, length), cancellationToken);
            switch (type)
            {
                case 0: // DATA: the answer's message; the connection's receive window is topped up every 64 KiB
                    _answered[(id >> 1) % _answered.Length] |= length > 0;
                    if ((unacknowledged += length) >= 65_536)
                    {
                        await WriteAsync(Frame(type: 8, flags: 0, stream: 0, BigEndian((int)unacknowledged)));
                        unacknowledged = 0;
                    }

                    break;
                case 3: // RST_STREAM
                    ended(false);
                    continue;
                case 4 when (flags & 0x1) == 0: // SETTINGS, acknowledged
                    await WriteAsync(Frame(type: 4, flags: 0x1, stream: 0, []));
                    break;
                case 6 when (flags & 0x1) == 0: // PING, answered
                    await WriteAsync(Frame(type: 6, flags: 0x1, stream: 0, payload.AsSpan(0, 8).ToArray()));
                    break;
                case 7: // GOAWAY
                    throw new InvalidOperationException($"the scheduler closed the connection (GOAWAY, error {BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4))})");
                case 8 when id == 0: // WINDOW_UPDATE of the connection
                    Interlocked.Add(ref _sendWindow, BinaryPrimitives.ReadInt32BigEndian(payload) & int.MaxValue);
                    _window.Release();
                    break;
            }

            if (type is 0 or 1 && (flags & 0x1) != 0)
            {
                ended(_answered[(id >> 1) % _answered.Length]);
            }
        }
    }

    private async Task WriteAsync(byte[] frames)
    {
        await _writing.WaitAsync();
        try
        {
            await _stream.WriteAsync(frames);
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>
    /// The request's headers as HPACK: :method POST and :scheme http from the static table, :path, :authority and
    /// content-type as literals with an indexed name, te as a literal with a literal name; none added to the dynamic table.
    /// </summary>
    private static byte[] HeaderBlock(Uri scheduler, string method)
    {
        var block = new List<byte> { 0x83, 0x86 };
        void Literal(byte[] prefix, string value)
        {
            block.AddRange(prefix);
            block.AddRange(String(value));
        }

        Literal([0x04], method);
        Literal([0x01], scheduler.Authority);
        Literal([0x0F, 0x10], "application/grpc"); // static index 31 on a 4-bit prefix: 15, then 16
        Literal([0x00, .. String("te")], "trailers");
        return block.ToArray();
    }

    /// <summary>A string literal, not Huffman-coded; the benchmark's are shorter than 127 bytes.</summary>
    private static byte[] String(string value) => [(byte)Encoding.ASCII.GetByteCount(value), .. Encoding.ASCII.GetBytes(value)];

    private static byte[] Frame(byte type, byte flags, int stream, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), stream);
        payload.CopyTo(frame.AsSpan(9));
        return frame;
    }

    private static byte[] BigEndian(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        return bytes;
    }

    public void Dispose()
    {
        _stream.Dispose();
        _writing.Dispose();
        _window.Dispose();
    }
}
