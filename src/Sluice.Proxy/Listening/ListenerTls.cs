using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Sluice.Proxy.Files;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Listening;

/// <summary>
/// TLS for one listener: the certificate chain and key from PEM files, and client-certificate checking.
/// The files are looked at again (at most once a second, on a handshake) and a changed pair is loaded for new
/// handshakes, so certificates rotate without a restart; a pair that fails to load keeps the previous one.
/// </summary>
internal sealed class ListenerTls
{
    private static readonly TimeSpan RecheckEvery = TimeSpan.FromSeconds(1);

    private readonly TlsConfig _config;
    private readonly X509Certificate2Collection? _clientCas;
    private readonly Action<string> _warn;
    private volatile SslStreamCertificateContext _context;
    private volatile IReadOnlyList<RevocationList> _revoked = [];
    private (FileStamp Certificate, FileStamp Key, FileStamp Crl) _loadedStamps;
    private long _nextCheckTicks;

    public ListenerTls(TlsConfig config, Action<string> warn)
    {
        _config = config;
        _warn = warn;
        (_context, _loadedStamps) = Load(config);
        if (config.ClientCa is not null)
        {
            _clientCas = new X509Certificate2Collection();
            _clientCas.ImportFromPemFile(config.ClientCa);
            if (_clientCas.Count == 0)
            {
                throw new InvalidOperationException($"{config.ClientCa} holds no PEM certificate");
            }

            if (config.ClientCrl is not null)
            {
                _revoked = LoadCrl(config.ClientCrl, _clientCas, warn);
            }
        }
    }

    /// <summary>The certificate new handshakes present.</summary>
    public X509Certificate2 Certificate => _context.TargetCertificate;

    public SslServerAuthenticationOptions Options() => new()
    {
        ServerCertificateContext = Current(),
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        ClientCertificateRequired = _config.ClientCertificate != ClientCertificateMode.None,
        RemoteCertificateValidationCallback = _config.ClientCertificate == ClientCertificateMode.None ? null : ValidateClient,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };

    private SslStreamCertificateContext Current()
    {
        long now = Environment.TickCount64;
        if (now < Interlocked.Read(ref _nextCheckTicks))
        {
            return _context;
        }

        Interlocked.Exchange(ref _nextCheckTicks, now + (long)RecheckEvery.TotalMilliseconds);
        (FileStamp Certificate, FileStamp Key, FileStamp Crl) stamps = Stamps(_config);
        if (stamps == _loadedStamps)
        {
            return _context;
        }

        // The revocation list and the certificate are reloaded independently: a broken one never blocks the other.
        if (_config.ClientCrl is not null && stamps.Crl != _loadedStamps.Crl)
        {
            try
            {
                _revoked = LoadCrl(_config.ClientCrl, _clientCas!, _warn);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                _warn($"client CRL {_config.ClientCrl} changed but cannot be loaded ({e.Message}); keeping the previous list");
            }
        }

        if ((stamps.Certificate, stamps.Key) != (_loadedStamps.Certificate, _loadedStamps.Key))
        {
            try
            {
                (_context, _) = Load(_config);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                _warn($"TLS certificate {_config.Certificate} changed but cannot be loaded ({e.Message}); keeping the previous one");
            }
        }

        _loadedStamps = stamps; // the same broken files are not retried on every handshake

        return _context;
    }

    private static IReadOnlyList<RevocationList> LoadCrl(string path, X509Certificate2Collection cas, Action<string> warn)
    {
        IReadOnlyList<RevocationList> lists = RevocationList.Load(path, cas);
        foreach (RevocationList stale in lists.Where(l => l.NextUpdate < DateTimeOffset.UtcNow))
        {
            warn($"client CRL {path} is past its next-update time ({stale.NextUpdate:u}): publish a fresh one; revocations in it still apply");
        }

        return lists;
    }

    private bool ValidateClient(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return _config.ClientCertificate == ClientCertificateMode.Optional;
        }

        using var presented = new X509Certificate2(certificate);
        if (!IsClientCertificate(presented))
        {
            return false;
        }

        // Trust only the configured client CAs, not the machine's store.
        using var verify = new X509Chain();
        verify.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        verify.ChainPolicy.CustomTrustStore.AddRange(_clientCas!);
        verify.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        verify.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2")); // client authentication
        if (chain is not null)
        {
            verify.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
        }

        if (!verify.Build(presented))
        {
            return false;
        }

        // Every certificate in the chain but the trust anchor: a revoked intermediate revokes what it issued.
        IReadOnlyList<RevocationList> revoked = _revoked;
        for (int i = 0; i < verify.ChainElements.Count - 1; i++)
        {
            X509Certificate2 element = verify.ChainElements[i].Certificate;
            if (revoked.Any(list => list.IsRevoked(element)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An end-entity certificate that says it is for client authentication (an EKU is required, not assumed).</summary>
    private static bool IsClientCertificate(X509Certificate2 certificate)
    {
        if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
        {
            return false;
        }

        X509EnhancedKeyUsageExtension? usage = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        return usage is not null && usage.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Any(o => o.Value == "1.3.6.1.5.5.7.3.2");
    }

    private static (SslStreamCertificateContext, (FileStamp, FileStamp, FileStamp)) Load(TlsConfig config)
    {
        (FileStamp, FileStamp, FileStamp) stamps = Stamps(config);
        string? passphrase = Passphrase(config);
        X509Certificate2 leaf;
        try
        {
            leaf = passphrase is null
                ? X509Certificate2.CreateFromPemFile(config.Certificate, config.Key)
                : X509Certificate2.CreateFromEncryptedPemFile(config.Certificate, passphrase, config.Key);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new InvalidOperationException($"cannot load the TLS certificate {config.Certificate} with key {config.Key}: {e.Message}", e);
        }

        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(config.Certificate);
        var intermediates = new X509Certificate2Collection();
        foreach (X509Certificate2 cert in all)
        {
            if (cert.Thumbprint != leaf.Thumbprint)
            {
                intermediates.Add(cert);
            }
        }

        return (SslStreamCertificateContext.Create(leaf, intermediates, offline: true), stamps);
    }

    private static string? Passphrase(TlsConfig config)
    {
        if (config.KeyPassphraseEnv is { } variable)
        {
            return Environment.GetEnvironmentVariable(variable)
                ?? throw new InvalidOperationException($"the TLS key passphrase variable {variable} is not set");
        }

        return config.KeyPassphraseFile is { } file ? File.ReadLines(file).FirstOrDefault() ?? "" : null;
    }

    private static (FileStamp, FileStamp, FileStamp) Stamps(TlsConfig config) =>
        (FileStamp.Of(config.Certificate), FileStamp.Of(config.Key), FileStamp.Of(config.ClientCrl));
}
