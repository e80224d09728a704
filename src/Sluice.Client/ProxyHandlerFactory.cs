using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Client;

/// <summary>The proxy and its bypass list as an <see cref="IWebProxy"/>.</summary>
public sealed class SettingsWebProxy : IWebProxy
{
    private readonly ProxySettings _settings;

    // .NET speaks plain HTTP to this URI; for an HTTPS proxy the TLS is added underneath by the handler's
    // ConnectCallback, which is how the proxy leg gets its own trust while origins keep theirs.
    private readonly Uri _wireUri;

    public SettingsWebProxy(ProxySettings settings)
    {
        _settings = settings;
        _wireUri = new Uri($"http://{settings.ProxyUri.Authority}");
        Credentials = settings.Credentials;
    }

    public ICredentials? Credentials { get; set; }

    public Uri GetProxy(Uri destination) => _wireUri;

    public bool IsBypassed(Uri host) => _settings.Excluded.Bypasses(host);
}

/// <summary>
/// Builds <see cref="SocketsHttpHandler"/>s that honour <see cref="ProxySettings"/>: bypass list, credentials after
/// the challenge, and for <c>type: https</c> a TLS connection to the proxy validated with the proxy CA (or not at
/// all when <see cref="ProxySettings.RejectUnauthorized"/> is false). That choice applies to the proxy connection
/// only: origins reached through the proxy are validated by the handler's usual rules, plus, with
/// <see cref="ProxySettings.InspectionCaPem"/>, chains ending at the inspecting proxy's CA (the handler's
/// <c>SslOptions.RemoteCertificateValidationCallback</c> is then set: an application that replaces it replaces that
/// trust).
/// </summary>
public static class ProxyHandlerFactory
{
    public static SocketsHttpHandler Create(ProxySettings? settings)
    {
        var handler = new SocketsHttpHandler();
        if (settings is null)
        {
            handler.UseProxy = false; // direct, and no environment proxy either
            return handler;
        }

        handler.UseProxy = true;
        handler.Proxy = new SettingsWebProxy(settings);
        if (settings.Type == ProxyType.Https)
        {
            X509Certificate2Collection? roots = ProxyTrust.Roots(settings);
            handler.ConnectCallback = (context, cancellationToken) => ConnectAsync(context, settings, roots, cancellationToken);
        }

        if (settings.InspectionCaPem is { } inspection)
        {
            handler.SslOptions.RemoteCertificateValidationCallback = new OriginTrust(inspection, settings.Excluded).Validate;
        }

        return handler;
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, ProxySettings settings, X509Certificate2Collection? roots, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
            var network = new NetworkStream(socket, ownsSocket: true);
            bool toProxy = string.Equals(context.DnsEndPoint.Host, settings.Host, StringComparison.OrdinalIgnoreCase) && context.DnsEndPoint.Port == settings.Port;
            if (!toProxy)
            {
                return network; // a bypassed destination, reached directly
            }

            var tls = new SslStream(network, leaveInnerStreamOpen: false);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = settings.Host,
                RemoteCertificateValidationCallback = (_, certificate, chain, errors) => ProxyTrust.Validate(settings, roots, certificate, errors),
            }, cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>How the proxy's own certificate is judged: skipped, against the given CA only, or against the system roots.</summary>
internal static class ProxyTrust
{
    public static X509Certificate2Collection? Roots(ProxySettings settings)
    {
        if (settings.CaPem is null)
        {
            return null;
        }

        var roots = new X509Certificate2Collection();
        roots.ImportFromPem(settings.CaPem);
        return roots.Count > 0 ? roots : throw new FormatException("sslCA holds no PEM certificate");
    }

    public static bool Validate(ProxySettings settings, X509Certificate2Collection? roots, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (!settings.RejectUnauthorized)
        {
            return true;
        }

        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return false;
        }

        if (roots is null)
        {
            return errors == SslPolicyErrors.None;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var presented = new X509Certificate2(certificate);
        return chain.Build(presented);
    }
}

/// <summary>
/// How origin certificates are judged when the proxy inspects TLS: the system roots as always, or else a chain to the
/// inspecting proxy's CA, for origins reached through the proxy only. The host name must match either way, and a
/// destination reached directly gets no trust from that CA: the proxy did not mint its certificate. The callback
/// learns the host, not the port, so a host excluded on any port counts as reached directly on every port.
/// </summary>
internal sealed class OriginTrust
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    private readonly X509Certificate2Collection _roots;

    private readonly NoProxyList _excluded;

    public OriginTrust(string pem, NoProxyList excluded)
    {
        _roots = InspectionCa.Parse(pem);
        _excluded = excluded;
    }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true; // the system roots
        }

        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is null)
        {
            return false; // a name mismatch, or no certificate: no CA makes that right
        }

        if (sender is not SslStream tls || _excluded.BypassesAnyPort(tls.TargetHostName))
        {
            return false; // not through the proxy (HTTP/3 never is)
        }

        using var inspected = new X509Chain();
        inspected.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        inspected.ChainPolicy.CustomTrustStore.AddRange(_roots);
        inspected.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // as SslStream's default for the system roots
        inspected.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        if (chain is not null)
        {
            inspected.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore); // intermediates the origin sent
        }

        using var presented = new X509Certificate2(certificate);
        return inspected.Build(presented);
    }
}
