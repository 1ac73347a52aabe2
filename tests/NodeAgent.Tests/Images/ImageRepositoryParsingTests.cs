using NodeAgent.Scheduler.Images;

namespace NodeAgent.Tests.Images;

/// <summary>What the repository reads from text: Range headers and --image-max-size.</summary>
public sealed class ImageRepositoryParsingTests
{
    [Theory]
    [InlineData("bytes=0-", 0, 100)]
    [InlineData("bytes=10-19", 10, 10)]
    [InlineData("bytes=90-1000", 90, 10)]
    [InlineData("bytes=-30", 70, 30)]
    [InlineData("bytes=-1000", 0, 100)]
    [InlineData("BYTES= 5 - 5 ", 5, 1)]
    public void Parse_SingleRange_StartAndLength(string header, long start, long length)
    {
        var request = ByteRange.Parse(header, 100);

        Assert.False(request.IsUnsatisfiable);
        Assert.Equal(new ByteRange(start, length), request.Range);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("bytes=")]
    [InlineData("bytes=-")]
    [InlineData("bytes=a-b")]
    [InlineData("bytes=5-4")]
    [InlineData("bytes=0-1,3-4")]
    [InlineData("bytes=+1-2")]
    [InlineData("bytes=99999999999999999999-")]
    [InlineData("lines=0-1")]
    public void Parse_MalformedOrSeveral_WholeImage(string? header) => Assert.Equal(RangeRequest.Whole, ByteRange.Parse(header, 100));

    [Theory]
    [InlineData("bytes=100-", 100)]
    [InlineData("bytes=100-200", 100)]
    [InlineData("bytes=-0", 100)]
    [InlineData("bytes=0-", 0)]
    public void Parse_OutsideTheImage_Unsatisfiable(string header, long size) => Assert.True(ByteRange.Parse(header, size).IsUnsatisfiable);

    [Theory]
    [InlineData("1048576", 1L << 20)]
    [InlineData("512K", 512L << 10)]
    [InlineData("500G", 500L << 30)]
    [InlineData("16T", 16L << 40)]
    [InlineData("2MiB", 2L << 20)]
    [InlineData("3g", 3L << 30)]
    public void ParseSize_NumberAndUnit_Bytes(string text, long bytes) => Assert.Equal(bytes, ImageRepositoryChecks.ParseSize(text));

    [Theory]
    [InlineData("")]
    [InlineData("G")]
    [InlineData("1.5G")]
    [InlineData("-1")]
    [InlineData("10X")]
    [InlineData("99999999999T")]
    public void ParseSize_NotASize_FormatExceptionShowingTheSyntax(string text)
    {
        var error = Assert.Throws<FormatException>(() => ImageRepositoryChecks.ParseSize(text));

        Assert.Contains(ImageRepositoryChecks.SizeSyntax, error.Message, StringComparison.Ordinal);
    }
}
