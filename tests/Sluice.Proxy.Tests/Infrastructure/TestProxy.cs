using System.Net;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// The real proxy on 127.0.0.1:0 inside the test process. Loopback is allowed through the address guard
/// (origins live there); names resolve through a <see cref="MapResolver"/>, or with <c>resolverFromConfig</c> through
/// the resolver the configuration's <c>resolver:</c> builds.
/// </summary>
public sealed class TestProxy : IAsyncDisposable
{
    public const string Name = "sluice-test";

    private readonly ProxyServer _server;

    private TestProxy(ProxyServer server, MapResolver resolver, LogCapture log)
    {
        _server = server;
        Resolver = resolver;
        AccessLog = log;
    }

    public ProxyServer Server => _server;

    public MapResolver Resolver { get; }

    public LogCapture AccessLog { get; }

    public IPEndPoint Endpoint => _server.Endpoints[0];

    public Uri Uri => new($"{_server.CurrentConfig.Listeners[0].Scheme}://{Endpoint}");

    public int OpenConnections => _server.OpenConnections;

    public static async Task<TestProxy> StartAsync(Func<SluiceConfig, SluiceConfig>? configure = null, MapResolver? resolver = null, AccessLogFormat format = AccessLogFormat.Squid, TimeSpan? drain = null, LogLines? log = null, bool splice = true, bool resolverFromConfig = false)
    {
        var config = new SluiceConfig
        {
            Name = Name,
            Listeners = [new ListenerConfig { Address = new IPEndPoint(IPAddress.Loopback, 0) }],
            Addresses = new AddressesConfig { Allow = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128")] },
            Log = new LogConfig { Format = format },
            Default = RuleAction.Allow, // tests of the policy set their own rules
            Admin = null, // tests of the admin endpoint turn it on, on port 0
        };
        config = configure?.Invoke(config) ?? config;
        resolver ??= new MapResolver();
        var accessLog = new LogCapture();
        var server = new ProxyServer(config, new ProxyServerOptions { Resolver = resolverFromConfig ? null : resolver, AccessLogOutput = accessLog, DrainTimeout = drain ?? TimeSpan.FromSeconds(2), Splice = splice, LoggerFactory = (Microsoft.Extensions.Logging.ILoggerFactory?)log ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance });
        await server.StartAsync();
        return new TestProxy(server, resolver, accessLog);
    }

    public Task StopAsync() => _server.StopAsync();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();
}
