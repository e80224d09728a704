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
        // Only an FTP server's own answer, translated by the gateway, is no proxy error and has no type.
        bool serversAnswer = kind is ProxyErrorKind.FtpNotFound or ProxyErrorKind.FtpForbidden or ProxyErrorKind.FtpLoginRequired or ProxyErrorKind.FtpLoginRefused;
        Assert.Matches(serversAnswer ? "^$" : "^[a-z_]+$", info.ProxyStatusError);
        Assert.Matches("^[A-Z]+_[A-Z]+$", SquidResults.Code(info.Squid));
    }

    [Fact]
    public void An_ftp_servers_answer_has_details_and_no_error_type()
    {
        Assert.Null(ProxyErrors.ProxyStatusError(ProxyErrorKind.FtpNotFound));
        Assert.Equal("sluice; details=\"550 No such file\"", ErrorResponse.ProxyStatus("sluice", "", "550 No such file"));
    }

    [Fact]
    public void No_kind_is_no_error() => Assert.Null(ProxyErrors.ProxyStatusError(null));
}
