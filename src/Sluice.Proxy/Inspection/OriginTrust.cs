using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Proxy.Inspection;

/// <summary>
/// How an inspected tunnel checks its origin: the chain against the system roots, or against <c>upstreamCa</c> when
/// the system roots do not end it, and the name always. What failed is kept in words for the client's 502, because
/// an invalid origin certificate is never papered over with a minted one.
/// </summary>
internal sealed class OriginTrust
{
    private readonly X509Certificate2Collection _extra;

    public OriginTrust(X509Certificate2Collection extraRoots) => _extra = extraRoots;

    /// <summary>One handshake's options, and where its validation problem is written if it fails.</summary>
    public SslClientAuthenticationOptions OptionsFor(string host, OriginCheck check) => new()
    {
        TargetHost = host,
        ApplicationProtocols = [SslApplicationProtocol.Http11], // the proxy speaks HTTP/1.1 inside: never negotiate h2
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) => check.Record(Validate(host, certificate, chain, errors)),
    };

    /// <summary>Null when the certificate is good; otherwise what is wrong with it.</summary>
    private string? Validate(string host, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return $"{host} sent no certificate";
        }

        // Parsed once per handshake: SslStream hands over an X509Certificate2 already; anything else is read here.
        using X509Certificate2? copy = certificate as X509Certificate2 is null ? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()) : null;
        X509Certificate2 presented = copy ?? (X509Certificate2)certificate;
        if (!HasSubjectAltName(presented))
        {
            // TLS libraries still fall back to the subject's CN; browsers and RFC 6125 do not, and neither does Sluice.
            return $"the certificate of {host} names no host in a subjectAltName (only in its subject, {presented.Subject}), which clients do not accept";
        }

        if (errors == SslPolicyErrors.None)
        {
            return null;
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return $"the certificate of {host} is for {Names(presented)}, not {host}";
        }

        X509ChainStatusFlags flags = Flags(chain);
        if (_extra.Count > 0)
        {
            using var custom = new X509Chain();
            custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            custom.ChainPolicy.CustomTrustStore.AddRange(_extra);
            custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            custom.ChainPolicy.ApplicationPolicy.Add(new Oid(ServerAuth)); // as SslStream's own chain asks: a server certificate
            if (chain is not null)
            {
                custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
                foreach (X509ChainElement element in chain.ChainElements)
                {
                    custom.ChainPolicy.ExtraStore.Add(element.Certificate);
                }
            }

            if (custom.Build(presented))
            {
                return null;
            }

            // What is wrong whichever roots are asked: the system's chain alone would call every upstreamCa origin untrusted.
            flags &= Flags(custom);
        }

        return ChainProblem(host, presented, flags);
    }

    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";

    private const X509ChainStatusFlags Untrusted = X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain;

    /// <summary>Every status of the chain; an unknown or unreached root counts as both kinds of untrusted, so two chains agree on it.</summary>
    private static X509ChainStatusFlags Flags(X509Chain? chain)
    {
        X509ChainStatusFlags flags = X509ChainStatusFlags.NoError;
        foreach (X509ChainStatus status in chain?.ChainStatus ?? [])
        {
            flags |= status.Status;
        }

        return (flags & Untrusted) != 0 ? flags | Untrusted : flags;
    }

    private static string ChainProblem(string host, X509Certificate2 presented, X509ChainStatusFlags flags)
    {
        DateTime now = DateTime.Now;
        if (flags.HasFlag(X509ChainStatusFlags.NotTimeValid) || presented.NotAfter < now || presented.NotBefore > now)
        {
            return presented.NotAfter < now
                ? $"the certificate of {host} expired on {presented.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z"
                : presented.NotBefore > now ? $"the certificate of {host} is not valid before {presented.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss}Z"
                : $"a certificate in the chain of {host} is outside its validity period";
        }

        if (flags.HasFlag(X509ChainStatusFlags.NotValidForUsage))
        {
            return $"the certificate of {host} is not for server authentication (its extended key usage lacks serverAuth)";
        }

        if ((flags & Untrusted) != 0)
        {
            return $"the certificate of {host} is issued by {presented.Issuer}, which is not trusted (not in the system roots or tls.inspection.upstreamCa)";
        }

        return $"the certificate of {host} does not validate: {(flags == X509ChainStatusFlags.NoError ? "chain errors" : flags.ToString())}";
    }

    private static bool HasSubjectAltName(X509Certificate2 certificate)
    {
        foreach (X509Extension extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san && (san.EnumerateDnsNames().Any() || san.EnumerateIPAddresses().Any()))
            {
                return true;
            }
        }

        return false;
    }

    private static string Names(X509Certificate2 certificate)
    {
        var names = new List<string>();
        foreach (X509Extension extension in certificate.Extensions)
        {
            if (extension is X509SubjectAlternativeNameExtension san)
            {
                names.AddRange(san.EnumerateDnsNames());
                names.AddRange(san.EnumerateIPAddresses().Select(a => a.ToString()));
            }
        }

        return names.Count == 0 ? certificate.Subject : string.Join(", ", names.Take(5)) + (names.Count > 5 ? ", ..." : "");
    }
}

/// <summary>What the validation of one origin handshake found, read once the handshake has failed.</summary>
internal sealed class OriginCheck
{
    /// <summary>The certificate problem, when validation refused the certificate.</summary>
    public string? Problem { get; private set; }

    public bool Record(string? problem)
    {
        Problem = problem;
        return problem is null;
    }
}
