using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Proxy.Inspection;

/// <summary>
/// The certificates inspected tunnels show their clients: one leaf per CA and host, minted on the thread pool and
/// kept in a bounded least-recently-used cache. A handshake waits only for its own leaf; two tunnels to the same
/// host share one mint in flight. Outlives configurations: a reload that keeps the CA keeps the leaves.
/// </summary>
internal sealed class LeafCertificates
{
    /// <summary>How long a minted leaf is valid; re-minted once less than <see cref="RenewWithin"/> is left.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(72);

    private static readonly TimeSpan RenewWithin = TimeSpan.FromHours(24);
    private static readonly TimeSpan Backdate = TimeSpan.FromHours(1);

    private readonly int _capacity;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _byKey = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recent = new();
    private long _mints;

    private sealed record Entry(string Key, Task<SslStreamCertificateContext> Leaf, DateTimeOffset RenewAfter);

    public LeafCertificates(int capacity = 4096) => _capacity = capacity;

    /// <summary>Leaves minted since start: the metrics' count, and the test of the cache.</summary>
    public long Mints => Interlocked.Read(ref _mints);

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byKey.Count;
            }
        }
    }

    /// <summary>The leaf for <paramref name="host"/> (a name, or an IP literal's text with <paramref name="address"/> set) signed by <paramref name="ca"/>.</summary>
    public Task<SslStreamCertificateContext> ForAsync(X509Certificate2 ca, string host, IPAddress? address)
    {
        string key = $"{ca.Thumbprint}|{host}";
        DateTimeOffset now = DateTimeOffset.UtcNow;
        lock (_lock)
        {
            if (_byKey.TryGetValue(key, out LinkedListNode<Entry>? found))
            {
                Entry entry = found.Value;
                bool usable = !entry.Leaf.IsFaulted && !entry.Leaf.IsCanceled && now < entry.RenewAfter;
                if (usable)
                {
                    _recent.Remove(found);
                    _recent.AddFirst(found);
                    return entry.Leaf;
                }

                _recent.Remove(found);
                _byKey.Remove(key);
            }

            // Minted off the caller's thread: signing takes a fraction of a millisecond for ECDSA but several for an
            // RSA CA, and an accept loop or a handshake for a cached host must never wait behind it.
            Task<SslStreamCertificateContext> leaf = Task.Run(() => Mint(ca, host, address, now));
            DateTimeOffset renewAfter = Min(now + Lifetime, ca.NotAfter.ToUniversalTime()) - RenewWithin;
            LinkedListNode<Entry> node = _recent.AddFirst(new Entry(key, leaf, renewAfter > now ? renewAfter : now + TimeSpan.FromMinutes(5)));
            _byKey[key] = node;
            while (_byKey.Count > _capacity && _recent.Last is { } oldest)
            {
                _recent.RemoveLast();
                _byKey.Remove(oldest.Value.Key);
            }

            return leaf;
        }
    }

    private SslStreamCertificateContext Mint(X509Certificate2 ca, string host, IPAddress? address, DateTimeOffset now)
    {
        Interlocked.Increment(ref _mints);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256); // owned by the leaf from CopyWithPrivateKey on
        var request = new CertificateRequest(new X500DistinguishedName($"CN={CommonName(host)}"), key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        if (address is not null)
        {
            names.AddIpAddress(address);
        }
        else
        {
            names.AddDnsName(host);
        }

        request.CertificateExtensions.Add(names.Build(critical: false));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // serverAuth
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(AuthorityKeyId(ca));

        DateTimeOffset notBefore = Max(now - Backdate, ca.NotBefore.ToUniversalTime());
        DateTimeOffset notAfter = Min(now + Lifetime, ca.NotAfter.ToUniversalTime());
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive, as RFC 5280 asks
        // Signed with the CA's own key type: an ECDSA leaf under an RSA CA is signed sha256WithRSA (CertificateRequest's
        // Create(issuer, ...) refuses an issuer whose key algorithm differs from the request's).
        using AsymmetricAlgorithm caKey = (AsymmetricAlgorithm?)ca.GetECDsaPrivateKey() ?? ca.GetRSAPrivateKey()
            ?? throw new InvalidOperationException($"the inspection CA {ca.Subject} has no ECDSA or RSA private key");
        X509SignatureGenerator signer = caKey is RSA rsa ? X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1) : X509SignatureGenerator.CreateForECDsa((ECDsa)caKey);
        using X509Certificate2 issued = request.Create(ca.SubjectName, signer, notBefore, notAfter, serial);
        X509Certificate2 leaf = issued.CopyWithPrivateKey(key);
        return SslStreamCertificateContext.Create(leaf, [X509CertificateLoader.LoadCertificate(ca.RawData)], offline: true);
    }

    // RFC 5280 §4.2.1.1: the CA's subject key identifier, or, for a CA made without one, the identifier §4.2.1.2 derives
    // from its public key (CreateFromCertificate refuses such a CA, and then nothing could be minted).
    private static X509AuthorityKeyIdentifierExtension AuthorityKeyId(X509Certificate2 ca) =>
        X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(
            ca.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault() ?? new X509SubjectKeyIdentifierExtension(ca.PublicKey, false));

    // A common name holds at most 64 characters (RFC 5280); the SAN carries the full name, which is what clients check.
    private static string CommonName(string host) => (host.Length <= 64 ? host : host[..64]).Replace(",", "", StringComparison.Ordinal).Replace("+", "", StringComparison.Ordinal);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
