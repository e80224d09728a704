using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Inspection;

/// <summary>
/// One configuration's <c>tls.inspection</c>: the CA leaves are signed with, and the trust origins are checked against.
/// The CA files are looked at again at most once a second, on a handshake, and a changed pair is used for new
/// tunnels, so the CA rotates without a reload; a pair that fails to load keeps the previous one (with a warning).
/// </summary>
internal sealed class InspectionAuthority
{
    private static readonly TimeSpan RecheckEvery = TimeSpan.FromSeconds(1);

    private readonly InspectionConfig _config;
    private readonly LeafCertificates _leaves;
    private readonly Action<string> _warn;
    private volatile X509Certificate2 _ca;
    private (DateTime, DateTime) _stamps;
    private long _nextCheckTicks;

    private InspectionAuthority(InspectionConfig config, LeafCertificates leaves, Action<string> warn)
    {
        _config = config;
        _leaves = leaves;
        _warn = warn;
        _stamps = Stamps(config);
        _ca = LoadCa(config);
        Origins = new OriginTrust(LoadExtraRoots(config));
    }

    /// <summary>Reads the CA and <c>upstreamCa</c>; a <see cref="ConfigException"/> names the file and what is wrong (nothing applied).</summary>
    public static InspectionAuthority? For(SluiceConfig config, LeafCertificates leaves, Action<string> warn)
    {
        if (config.Inspection is not { } inspection)
        {
            return null;
        }

        try
        {
            return new InspectionAuthority(inspection, leaves, warn);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new ConfigException(config.Source, inspection.Line, 0, $"tls.inspection: {e.Message}");
        }
    }

    public OriginTrust Origins { get; }

    /// <summary>The CA new leaves are signed with.</summary>
    public X509Certificate2 Ca => Current();

    /// <summary>The client-side handshake of an inspected tunnel, as the origin <paramref name="host"/>.</summary>
    public async Task<SslServerAuthenticationOptions> ServerOptionsAsync(string host, IPAddress? address)
    {
        SslStreamCertificateContext leaf = await _leaves.ForAsync(Current(), host, address).ConfigureAwait(false);
        return new SslServerAuthenticationOptions
        {
            ServerCertificateContext = leaf,
            ApplicationProtocols = [SslApplicationProtocol.Http11], // clients that offer h2 fall back to HTTP/1.1
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            ClientCertificateRequired = false,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
    }

    private X509Certificate2 Current()
    {
        long now = Environment.TickCount64;
        if (now < Interlocked.Read(ref _nextCheckTicks))
        {
            return _ca;
        }

        Interlocked.Exchange(ref _nextCheckTicks, now + (long)RecheckEvery.TotalMilliseconds);
        (DateTime, DateTime) stamps = Stamps(_config);
        if (stamps == _stamps)
        {
            return _ca;
        }

        try
        {
            _ca = LoadCa(_config);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or CryptographicException)
        {
            _warn($"the inspection CA {_config.Ca} changed but cannot be loaded ({e.Message}); keeping the previous one");
        }

        _stamps = stamps; // the same broken files are not retried on every handshake
        return _ca;
    }

    private static X509Certificate2 LoadCa(InspectionConfig config)
    {
        X509Certificate2 ca;
        try
        {
            ca = X509Certificate2.CreateFromPemFile(config.Ca, config.Key);
        }
        catch (ArgumentException e)
        {
            // What X509Certificate2 throws for a key of another certificate: a problem with the files, like the others.
            throw new InvalidOperationException($"the key {config.Key} does not belong to the CA certificate {config.Ca} ({e.Message})", e);
        }

        bool isCa = ca.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority);
        bool signs = ca.Extensions.OfType<X509KeyUsageExtension>().All(u => u.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign));
        if (!isCa || !signs)
        {
            throw new InvalidOperationException($"{config.Ca} is not a CA certificate (basicConstraints CA:TRUE and keyCertSign are needed); create one with sluice ca init");
        }

        if (ca.NotAfter.ToUniversalTime() <= DateTime.UtcNow)
        {
            throw new InvalidOperationException($"the CA {config.Ca} expired on {ca.NotAfter.ToUniversalTime():yyyy-MM-dd}");
        }

        return ca;
    }

    private static X509Certificate2Collection LoadExtraRoots(InspectionConfig config)
    {
        var roots = new X509Certificate2Collection();
        if (config.UpstreamCa is { } file)
        {
            roots.ImportFromPemFile(file);
            if (roots.Count == 0)
            {
                throw new InvalidOperationException($"upstreamCa {file} holds no PEM certificate");
            }
        }

        return roots;
    }

    private static (DateTime, DateTime) Stamps(InspectionConfig config) =>
        (File.GetLastWriteTimeUtc(config.Ca), File.GetLastWriteTimeUtc(config.Key));
}
