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

    /// <param name="target"><c>host:port</c> for CONNECT, <c>http://host[:port]/</c> for a forwarded request.</param>
    public bool Allows(string target, string client = "10.1.1.1", string? method = null, string? user = null) =>
        Decide(target, client, method, user).Allowed;

    /// <summary>How an allowed request leaves: <c>direct</c> or an upstream (its rule's via, else route.default); null when it is denied.</summary>
    public string? Route(string target, string client = "10.1.1.1", string? method = null, string? user = null)
    {
        Decision decision = Decide(target, client, method, user);
        return !decision.Allowed ? null : Config.Rules.FirstOrDefault(r => r.Name == decision.Rule)?.Via ?? Config.Route.Default;
    }

    private Decision Decide(string target, string client, string? method, string? user)
    {
        bool http = target.StartsWith("http://", StringComparison.Ordinal);
        HostPort destination;
        string problem;
        if (http)
        {
            Assert.True(HostPort.TryParseUri(target, out UriTarget uri, out problem), problem);
            destination = uri.Authority;
        }
        else
        {
            Assert.True(HostPort.TryParseAuthority(target, 0, out destination, out problem), problem);
        }

        var facts = new RequestFacts(http ? (method ?? "GET") : "CONNECT", http ? RequestScheme.Http : RequestScheme.Tunnel, destination.Host, destination.Address, destination.Port, IPAddress.Parse(client))
        {
            User = user,
        };
        return new RulePolicy(Config.Rules, Config.Default).Decide(facts);
    }
}
