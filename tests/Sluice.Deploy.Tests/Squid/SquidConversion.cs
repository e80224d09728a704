using System.Net;
using System.Runtime.CompilerServices;
using Sluice.Deploy.Squid;
using Sluice.Policy.Config;
using Sluice.Policy.Decisions;
using Sluice.Policy.Names;
using Sluice.Policy.Rules;

namespace Sluice.Deploy.Tests.Squid;

/// <summary>
/// A squid.conf through all three stages, the result loaded as a Sluice configuration, and requests decided by its
/// rules as `sluice explain --no-resolve` decides them (no name is resolved; IP literals are matched as written).
/// </summary>
internal sealed record SquidConversion(SquidTranslation Translation, string Yaml, SluiceConfig Config)
{
    public static string Fixture(string name, [CallerFilePath] string source = "") => Path.Combine(Path.GetDirectoryName(source)!, "Fixtures", name);

    /// <summary>Converts and loads; relative paths in the result are resolved against <paramref name="folder"/>.</summary>
    public static SquidConversion Of(string squidConf, string folder, string source = "squid.conf")
    {
        SquidTranslation translation = SquidTranslator.Translate(SquidReader.Read(squidConf));
        string yaml = SquidWriter.Write(translation, source);
        return new SquidConversion(translation, yaml, ConfigLoader.Parse(yaml, Path.Combine(folder, "sluice.yaml")));
    }

    /// <summary>The notes as import-squid prints them (without the file name in front).</summary>
    public string Notes => string.Join("\n", Translation.Notes);

    /// <param name="target">
    /// <c>host:port</c> for CONNECT, <c>http://host[:port]/path</c> for a forwarded request, <c>https://host/path</c> for
    /// a request inside an inspected tunnel.
    /// </param>
    public bool Allows(string target, string client = "10.1.1.1", string? method = null, string? user = null) =>
        Decide(target, client, method, user).Allowed;

    /// <summary>What an allowed CONNECT's bytes get, as the proxy decides it: <c>inspect</c> or <c>tunnel</c>; null when it is refused.</summary>
    public string? Tls(string authority, string client = "10.1.1.1", string? user = null)
    {
        Decision decision = Decide(authority, client, null, user);
        bool inspected = decision.Allowed && MayInspect(authority) && Config.Rules.FirstOrDefault(r => r.Name == decision.Rule)?.Tls == TlsMode.Inspect;
        return !decision.Allowed ? null : inspected ? "inspect" : "tunnel";
    }

    // Inspection is configured and neverInspect does not name the CONNECT's host.
    private bool MayInspect(string authority) =>
        Config.Inspection is { } inspection && HostPort.TryParseAuthority(authority, 0, out HostPort d, out _) && !inspection.IsNeverInspected(d.Host, d.Address, d.Port);

    /// <summary>How an allowed request leaves: <c>direct</c> or an upstream (its rule's via, else route.default); null when it is denied.</summary>
    public string? Route(string target, string client = "10.1.1.1", string? method = null, string? user = null)
    {
        Decision decision = Decide(target, client, method, user);
        return !decision.Allowed ? null : Config.Rules.FirstOrDefault(r => r.Name == decision.Rule)?.Via ?? Config.Route.Default;
    }

    private Decision Decide(string target, string client, string? method, string? user)
    {
        bool inside = target.StartsWith("https://", StringComparison.Ordinal);
        bool http = inside || target.StartsWith("http://", StringComparison.Ordinal);
        HostPort destination;
        string problem;
        string? path = null;
        if (http)
        {
            // Inside an inspected tunnel the request is origin-form to the CONNECT's host, port 443 here.
            string uriText = inside ? "http://" + target["https://".Length..] : target;
            Assert.True(HostPort.TryParseUri(uriText, out UriTarget uri, out problem), problem);
            destination = inside && uri.Authority.Port == 80 ? uri.Authority with { Port = 443 } : uri.Authority;
            Assert.True(RequestPath.TryNormalise(uri.PathAndQuery, out string normalised, out problem), problem);
            path = normalised;
        }
        else
        {
            Assert.True(HostPort.TryParseAuthority(target, 0, out destination, out problem), problem);
        }

        RequestScheme scheme = inside ? RequestScheme.Https : http ? RequestScheme.Http : RequestScheme.Tunnel;
        var facts = new RequestFacts(http ? (method ?? "GET") : "CONNECT", scheme, destination.Host, destination.Address, destination.Port, IPAddress.Parse(client))
        {
            User = user,
            Path = path,
            MayInspect = !http && MayInspect(target),
        };
        return new RulePolicy(Config.Rules, Config.Default).Decide(facts);
    }
}
