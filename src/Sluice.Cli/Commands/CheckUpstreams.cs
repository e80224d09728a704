using Sluice.Policy.Config;
using Sluice.Proxy.Pipeline;

namespace Sluice.Cli.Commands;

/// <summary>
/// What <c>sluice check</c> says about <c>upstreams:</c>: each upstream in a line, whether its secrets can be read, and
/// parents the address guard would never let the proxy connect to. Values are read to be checked, never printed.
/// </summary>
internal static class CheckUpstreams
{
    /// <summary>One line per upstream, then the default route; nothing when the configuration has no upstreams.</summary>
    public static IEnumerable<string> Summary(SluiceConfig config)
    {
        foreach (UpstreamConfig upstream in config.Upstreams)
        {
            string credentials = upstream.Credentials is { } c ? $"; credentials: user {Where(c.User)}, password from {c.Password.Describe()}" : "";
            string ca = upstream.Ca is { } file ? $"; https proxies trusted by {file}" : "";
            yield return $"upstream {upstream.Name} (line {upstream.Line}): {string.Join(", then ", upstream.Proxies)} ({ParentUpstream.Describe(upstream.Balance)}); " +
                $"checkDestinations {upstream.CheckDestinations.ToString().ToLowerInvariant()}{credentials}{ca}";
        }

        if (!config.Upstreams.IsEmpty)
        {
            yield return $"route: {config.Route.Default} for allowed requests whose rule has no via:";
        }
    }

    /// <summary>
    /// Reads every upstream secret the way the proxy does when it applies the configuration (<see cref="SecretSource.Read"/>).
    /// A variable not set here is a warning: CI and laptops run <c>check</c> without the proxy's environment. A file that
    /// cannot be read or is empty is an error, reported with its place in the file, as the proxy would refuse it.
    /// </summary>
    /// <returns>False when a secret file cannot be read.</returns>
    public static bool TryReadSecrets(SluiceConfig config, List<string> warnings, TextWriter errors)
    {
        bool readable = true;
        foreach (UpstreamCredentials credentials in config.Upstreams.Select(u => u.Credentials).OfType<UpstreamCredentials>())
        {
            foreach ((SecretSource secret, Func<string> read) in new (SecretSource, Func<string>)[] { (credentials.User, credentials.ReadUser), (credentials.Password, credentials.Password.Read) })
            {
                try
                {
                    _ = read();
                }
                catch (ConfigException e) when (secret.Kind == SecretKind.Environment)
                {
                    warnings.Add($"{e.Message} where sluice check runs: set on the proxy's machine? (the proxy refuses the configuration without it)");
                }
                catch (ConfigException e)
                {
                    errors.WriteLine($"sluice: {e.Message}");
                    readable = false;
                }
            }
        }

        return readable;
    }

    /// <summary>
    /// Parents written as IP addresses that the address guard refuses: the proxy checks a parent like any destination,
    /// so every request through it would fail. Named parents are checked by the proxy once resolved.
    /// </summary>
    public static IEnumerable<string> RefusedParents(SluiceConfig config)
    {
        if (config.Upstreams.IsEmpty)
        {
            yield break;
        }

        var pipeline = new RequestPipeline(config, OwnEndpoints.Of(config));
        foreach (ParentProxy parent in pipeline.Upstreams.SelectMany(u => u.Proxies))
        {
            if (parent.Address.Address is { Address: { } ip, Port: int port } && pipeline.Guard.Check(ip, port) is { Allowed: false } refused)
            {
                yield return $"upstream {parent.Upstream}: the proxy will not connect to its parent {parent.Endpoint}: {refused.Detail} (a parent is checked like any destination)";
            }
        }
    }

    private static string Where(SecretSource user) => user.Kind == SecretKind.Literal ? user.Name : $"from {user.Describe()}";
}
