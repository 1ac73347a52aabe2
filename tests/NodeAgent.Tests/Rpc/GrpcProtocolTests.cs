using NodeAgent.Rpc;

namespace NodeAgent.Tests.Rpc;

public sealed class GrpcProtocolTests
{
    [Theory]
    [InlineData(1, "1000u")]
    [InlineData(1500, "1500000u")]
    [InlineData(99_999, "99999000u")]
    [InlineData(100_000, "100000m")]
    [InlineData(3_600_000_000, "3600000S")]
    public void FormatTimeout_Milliseconds_UsesAtMostEightDigits(long milliseconds, string expected)
    {
        var text = GrpcProtocol.FormatTimeout(TimeSpan.FromMilliseconds(milliseconds));

        Assert.Equal(expected, text);
        Assert.True(text.Length <= 9);
    }

    [Theory]
    [InlineData("1H", 3_600_000)]
    [InlineData("2M", 120_000)]
    [InlineData("3S", 3_000)]
    [InlineData("250m", 250)]
    [InlineData("1500u", 1.5)]
    [InlineData("2000000n", 2)]
    public void TryParseTimeout_EveryUnit_Parses(string text, double expectedMs)
    {
        Assert.True(GrpcProtocol.TryParseTimeout(text, out var timeout));
        Assert.Equal(expectedMs, timeout.TotalMilliseconds, precision: 3);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("123456789S")]
    [InlineData("12x")]
    [InlineData("-1S")]
    [InlineData("1.5S")]
    public void TryParseTimeout_Malformed_IsRejected(string text) =>
        Assert.False(GrpcProtocol.TryParseTimeout(text, out _));

    [Theory]
    [InlineData("plain ascii message", "plain ascii message")]
    [InlineData("100% full", "100%25 full")]
    [InlineData("line\nbreak", "line%0Abreak")]
    [InlineData("ü", "%C3%BC")]
    public void EncodeMessage_PercentEncodesOnlyWhatTheProtocolRequires(string message, string encoded)
    {
        Assert.Equal(encoded, GrpcProtocol.EncodeMessage(message));
        Assert.Equal(message, GrpcProtocol.DecodeMessage(encoded));
    }

    [Fact]
    public void DecodeMessage_MalformedEscape_IsKeptAsIs() =>
        Assert.Equal("50%zz and %4", GrpcProtocol.DecodeMessage("50%zz and %4"));

    [Fact]
    public void ReadFrameHeader_LengthOverLimit_IsResourceExhausted()
    {
        var header = new byte[5];
        GrpcProtocol.WriteFrameHeader(header, 4096);

        var error = Assert.Throws<RpcException>(() => GrpcProtocol.ReadFrameHeader(header, 4095, "request"));

        Assert.Equal(StatusCode.ResourceExhausted, error.Status);
        Assert.Contains("4096", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadFrameHeader_CompressedFlagWithoutEncoding_IsInternal()
    {
        byte[] header = [1, 0, 0, 0, 1];

        var error = Assert.Throws<RpcException>(() => GrpcProtocol.ReadFrameHeader(header, 100, "request"));

        Assert.Equal(StatusCode.Internal, error.Status);
    }

    [Theory]
    [InlineData("application/grpc", true)]
    [InlineData("application/grpc+proto", true)]
    [InlineData("application/grpc; charset=utf-8", true)]
    [InlineData("application/grpcx", false)]
    [InlineData("application/json", false)]
    [InlineData(null, false)]
    public void IsGrpcContentType_RecognisesTheProtocolForms(string? contentType, bool expected) =>
        Assert.Equal(expected, GrpcProtocol.IsGrpcContentType(contentType));
}
