using Sluice.Proxy.Errors;

namespace Sluice.Proxy.Tests.Errors;

/// <summary>The error table is complete: every kind has a status, an RFC 9209 type and a Squid code.</summary>
public sealed class ProxyErrorsTests
{
    public static TheoryData<ProxyErrorKind> Kinds() => [.. Enum.GetValues<ProxyErrorKind>()];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_kind_is_described(ProxyErrorKind kind)
    {
        ProxyErrorInfo info = ProxyErrors.Describe(kind);
        Assert.InRange(info.Status, 400, 599);
        Assert.Matches("^[a-z_]+$", info.ProxyStatusError);
        Assert.Matches("^[A-Z]+_[A-Z]+$", SquidResults.Code(info.Squid));
    }

    [Fact]
    public void No_kind_is_no_error() => Assert.Null(ProxyErrors.ProxyStatusError(null));
}
