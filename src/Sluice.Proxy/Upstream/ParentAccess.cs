using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Upstream;

/// <summary>
/// What it takes to use an upstream's proxies: the Proxy-Authorization Sluice sends them and the CAs an https://
/// proxy's certificate must chain to. Built with every snapshot, so a reload re-reads the secrets (a rotated Secret
/// mount takes effect) and a secret that cannot be read refuses the configuration, naming its place in the file.
/// </summary>
internal sealed class ParentAccess
{
    private static readonly List<SslApplicationProtocol> Http11 = [SslApplicationProtocol.Http11];

    private const string Redacted = "(credentials removed)";

    private readonly X509ChainPolicy? _trust;

    // What a parent may quote back of the credentials, longest first: the Basic token, "user:password", the password.
    private readonly string[] _secrets;

    private ParentAccess(string? proxyAuthorization, X509ChainPolicy? trust, params string[] secrets)
    {
        ProxyAuthorization = proxyAuthorization;
        _trust = trust;
        _secrets = [.. secrets.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length)];
    }

    /// <summary>The <c>Proxy-Authorization</c> value (Basic); null when the upstream has no credentials. Never logged.</summary>
    public string? ProxyAuthorization { get; }

    /// <summary>Every upstream's access, by name.</summary>
    /// <exception cref="ConfigException">A secret cannot be read or a CA cannot be loaded: the configuration is refused.</exception>
    public static IReadOnlyDictionary<string, ParentAccess> For(SluiceConfig config) =>
        config.Upstreams.ToDictionary(u => u.Name, u => Create(u, config.Source), StringComparer.Ordinal);

    private static ParentAccess Create(UpstreamConfig upstream, string source)
    {
        string? authorization = null;
        string token = "", pair = "", password = "";
        if (upstream.Credentials is { } credentials)
        {
            string user = credentials.ReadUser();
            password = credentials.Password.Read();
            token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
            authorization = "Basic " + token;
            pair = $"{user}:{password}";
        }

        X509ChainPolicy? trust = null;
        if (upstream.Ca is { } ca)
        {
            var roots = new X509Certificate2Collection();
            try
            {
                roots.ImportFromPemFile(ca);
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
            {
                throw new ConfigException(source, upstream.Line, 1, $"upstreams '{upstream.Name}'.ca: cannot load {ca}: {e.Message}");
            }

            trust = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            trust.CustomTrustStore.AddRange(roots);
        }

        return new ParentAccess(authorization, trust, token, pair, password);
    }

    /// <summary>
    /// <paramref name="text"/> (something a parent sent, about to be quoted in Sluice's answer or log) without the
    /// credentials Sluice sends this upstream: the Basic token, the user:password it encodes, and the password.
    /// </summary>
    public string Redact(string text)
    {
        foreach (string secret in _secrets)
        {
            text = text.Replace(secret, Redacted, StringComparison.Ordinal);
        }

        return text;
    }

    /// <summary>TLS to an https:// proxy: its host name checked against its certificate, only http/1.1 offered.</summary>
    public SslClientAuthenticationOptions TlsOptions(string host) => new()
    {
        TargetHost = host,
        ApplicationProtocols = Http11,
        CertificateChainPolicy = _trust?.Clone(),
        EnabledSslProtocols = System.Security.Authentication.SslProtocols.None, // the system's choice: TLS 1.2 and 1.3
    };
}
