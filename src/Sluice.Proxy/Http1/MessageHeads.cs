namespace Sluice.Proxy.Http1;

/// <summary>A parsed request line and header section.</summary>
internal sealed class RequestHead
{
    public required string Method { get; init; }

    public required string Target { get; init; }

    /// <summary>Minor version of HTTP/1.x: 0 or 1 (anything above 1 is treated as 1, as RFC 9110 asks).</summary>
    public required int MinorVersion { get; init; }

    public required HttpFields Fields { get; init; }

    /// <summary>Size of the head on the wire, request line to the empty line.</summary>
    public int WireLength { get; init; }

    public bool IsHttp10 => MinorVersion == 0;

    public bool IsConnect => Method == "CONNECT";
}

/// <summary>A parsed status line and header section.</summary>
internal sealed class ResponseHead
{
    public required int MinorVersion { get; init; }

    public required int Status { get; init; }

    public required string Reason { get; init; }

    public required HttpFields Fields { get; init; }

    public int WireLength { get; init; }

    public bool IsInformational => Status is >= 100 and < 200;
}
