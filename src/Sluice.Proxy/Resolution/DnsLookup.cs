using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Resolution;

/// <summary>
/// One lookup of a name over DnsClient, A and AAAA in parallel. Each family goes round the servers in order, at most
/// <c>attempts</c> times, as glibc's stub does: a server that does not answer in time, or answers SERVFAIL or REFUSED,
/// hands over to the next; NXDOMAIN and NODATA are answers and end it. The name is absolute: no search domain is
/// appended. DnsClient's own cache is off (the resolver keeps a bounded one with stale-during-refresh).
/// </summary>
internal sealed class DnsLookup
{
    private readonly LookupClient _client;
    private readonly NameServer[] _servers;
    private readonly int _attempts;
    private readonly TimeSpan _timeout;

    public DnsLookup(IReadOnlyList<IPEndPoint> servers, TimeSpan timeout, int attempts)
    {
        _servers = [.. servers.Select(s => new NameServer(s))];
        _attempts = attempts;
        _timeout = timeout;
        _client = new LookupClient(new LookupClientOptions(_servers)
        {
            UseCache = false,
            Timeout = timeout,
            Retries = 0, // the rounds over the servers are counted here, not per server by DnsClient
            ThrowDnsErrors = false,
            ContinueOnDnsError = false, // NXDOMAIN is final; SERVFAIL and REFUSED move on below
            ContinueOnEmptyResponse = false, // NODATA is an answer, not a reason to ask another server
            UseRandomNameServer = false,
            UseTcpFallback = true,
            EnableAuditTrail = false,
        });
    }

    public async Task<DnsAnswer> LookUpAsync(string name, CancellationToken cancellationToken)
    {
        Task<Family> v6 = QueryAsync(name, QueryType.AAAA, cancellationToken);
        Task<Family> v4 = QueryAsync(name, QueryType.A, cancellationToken);
        await Task.WhenAll(v6, v4).ConfigureAwait(false);
        return Combine(name, await v6.ConfigureAwait(false), await v4.ConfigureAwait(false));
    }

    private static DnsAnswer Combine(string name, Family v6, Family v4)
    {
        if (v6.Addresses.Count > 0 || v4.Addresses.Count > 0)
        {
            TimeSpan ttl = new[] { v6, v4 }.Where(f => f.Addresses.Count > 0).Min(f => f.Ttl!.Value);
            return new DnsAnswer(AnswerKind.Addresses, AddressOrder.Interleave(v6.Addresses, v4.Addresses), ttl, "");
        }

        // NXDOMAIN is about the name, whatever the other family's query met; NODATA needs both families to say it.
        Family[] negative = [.. new[] { v6, v4 }.Where(f => f.Kind == AnswerKind.NotFound)];
        if (negative.Any(f => f.NxDomain) || negative.Length == 2)
        {
            TimeSpan? ttl = negative.Select(f => f.Ttl).Where(t => t is not null).Min();
            return new DnsAnswer(AnswerKind.NotFound, [], ttl, negative.Any(f => f.NxDomain) ? $"{name} does not exist" : $"{name} has no addresses");
        }

        string why = string.Join("; ", new[] { v6, v4 }.Where(f => f.Kind == AnswerKind.Failed).Select(f => f.Failure).Distinct());
        return DnsAnswer.Failed($"lookup of {name} failed: {why}");
    }

    private async Task<Family> QueryAsync(string name, QueryType type, CancellationToken cancellationToken)
    {
        string failure = "no name server";
        for (int attempt = 0; attempt < _attempts; attempt++)
        {
            foreach (NameServer server in _servers)
            {
                IDnsQueryResponse response;
                try
                {
                    response = await _client.QueryServerAsync([server], name, type, QueryClass.IN, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested
                    && e is DnsResponseException or SocketException or TimeoutException or IOException or OperationCanceledException)
                {
                    failure = e is DnsResponseException { Code: DnsResponseCode.ConnectionTimeout } or TimeoutException or OperationCanceledException
                        ? $"no answer from {Describe(server)} within {Durations.Format(_timeout)}"
                        : $"no answer from {Describe(server)} ({e.Message})";
                    continue;
                }

                switch (response.Header.ResponseCode)
                {
                    case DnsHeaderResponseCode.NoError:
                        return Answered(response, type);
                    case DnsHeaderResponseCode.NotExistentDomain:
                        return new Family(AnswerKind.NotFound, [], NegativeTtl(response), true, "");
                    default:
                        failure = $"{Describe(server)} answered {Code(response.Header.ResponseCode)}";
                        break;
                }
            }
        }

        return new Family(AnswerKind.Failed, [], null, false, $"{type}: {failure}");
    }

    private static Family Answered(IDnsQueryResponse response, QueryType type)
    {
        var addresses = new List<IPAddress>();
        foreach (DnsResourceRecord record in response.Answers)
        {
            switch (record)
            {
                case ARecord a when type == QueryType.A:
                    addresses.Add(a.Address);
                    break;
                case AaaaRecord aaaa when type == QueryType.AAAA:
                    addresses.Add(aaaa.Address);
                    break;
            }
        }

        if (addresses.Count == 0)
        {
            return new Family(AnswerKind.NotFound, [], NegativeTtl(response), false, "");
        }

        // The whole chain (CNAMEs included) lives only as long as its shortest link.
        int ttl = response.Answers.Min(r => r.TimeToLive);
        return new Family(AnswerKind.Addresses, addresses, TimeSpan.FromSeconds(Math.Max(0, ttl)), false, "");
    }

    // RFC 2308 §5: a negative answer lives for the smaller of the SOA's TTL and its MINIMUM field.
    private static TimeSpan? NegativeTtl(IDnsQueryResponse response) =>
        response.Authorities.OfType<SoaRecord>().FirstOrDefault() is { } soa
            ? TimeSpan.FromSeconds(Math.Min(Math.Max(0, soa.TimeToLive), (long)soa.Minimum))
            : null;

    private static string Describe(NameServer server) => Endpoints.Format(new IPEndPoint(IPAddress.Parse(server.Address), server.Port));

    private static string Code(DnsHeaderResponseCode code) => code switch
    {
        DnsHeaderResponseCode.ServerFailure => "SERVFAIL",
        DnsHeaderResponseCode.Refused => "REFUSED",
        DnsHeaderResponseCode.FormatError => "FORMERR",
        DnsHeaderResponseCode.NotImplemented => "NOTIMP",
        _ => code.ToString(),
    };

    private sealed record Family(AnswerKind Kind, IReadOnlyList<IPAddress> Addresses, TimeSpan? Ttl, bool NxDomain, string Failure);
}
