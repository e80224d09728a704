using Sluice.Policy.Config;

namespace Sluice.Deploy.Kubernetes;

/// <summary>
/// The Secrets the pods mount: never rendered (their contents are not for a manifest), only named, with the keys
/// the operator creates them with.
/// </summary>
internal static class Secrets
{
    /// <summary>The keys of a listener's TLS Secret, each with the configuration key that names the file.</summary>
    public static List<(string Key, string ConfigKey)> TlsKeys(TlsConfig tls)
    {
        var keys = new List<(string, string)> { ("tls.crt", "certificate"), ("tls.key", "key") };
        if (tls.ClientCa is not null)
        {
            keys.Add(("ca.crt", "clientCa"));
        }

        if (tls.ClientCrl is not null)
        {
            keys.Add(("ca.crl", "clientCrl"));
        }

        if (tls.KeyPassphraseFile is not null || tls.KeyPassphraseEnv is not null)
        {
            keys.Add(("passphrase", "keyPassphraseFile"));
        }

        return keys;
    }

    /// <summary>One line per Secret to create, with the kubectl command that creates it.</summary>
    public static IEnumerable<string> Notes(ProxyLayout layout)
    {
        string ns = layout.Options.Namespace;
        foreach (ListenerPort l in layout.Listeners.Where(l => l.Tls))
        {
            yield return $"Create Secret {layout.Name}-{l.SecretSuffix} yourself (never rendered here): keys {string.Join(", ", TlsKeys(l.Config.Tls!).Select(k => k.Key))}, "
                + $"e.g. kubectl -n {ns} create secret generic {layout.Name}-{l.SecretSuffix} --from-file=tls.crt=... --from-file=tls.key=...";
        }

        if (layout.Config.Auth is { } auth)
        {
            yield return $"Create Secret {layout.Name}-users yourself: key users.htpasswd{(auth.Basic.GroupsFile is null ? "" : " and groups")}, "
                + $"e.g. kubectl -n {ns} create secret generic {layout.Name}-users --from-file=users.htpasswd=...";
        }

        foreach (string note in UpstreamSecrets.Notes(layout).Concat(InspectionSecret.Notes(layout)))
        {
            yield return note;
        }
    }
}
