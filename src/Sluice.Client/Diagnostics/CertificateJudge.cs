using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Client.Diagnostics;

/// <summary>
/// Judges a certificate presented during a handshake: does it chain to the system roots (what the platform already
/// decided), or else to the extra CA, and does it name the host. Used from inside a
/// <see cref="RemoteCertificateValidationCallback"/>, while the platform's chain is still alive.
/// </summary>
public static class CertificateJudge
{
    public static CertificateReport? Judge(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, X509Certificate2Collection? extraRoots)
    {
        if (certificate is null)
        {
            return null;
        }

        using var presented = new X509Certificate2(certificate);
        bool nameMatches = !errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch);
        CertificateTrust trust;
        string problem = "";
        if (!errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            trust = CertificateTrust.SystemRoots;
        }
        else
        {
            problem = Describe(chain);
            trust = extraRoots is { Count: > 0 } && ChainsTo(presented, chain, extraRoots) ? CertificateTrust.ExtraCa : CertificateTrust.Untrusted;
        }

        return new CertificateReport(
            presented.Subject,
            presented.Issuer,
            NameOf(presented),
            presented.NotBefore.ToUniversalTime(),
            presented.NotAfter.ToUniversalTime(),
            trust,
            nameMatches,
            problem);
    }

    /// <summary>The issuer's common name (or its whole distinguished name when it has none).</summary>
    private static string NameOf(X509Certificate2 certificate)
    {
        string name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: true);
        return name.Length > 0 ? name : certificate.Issuer;
    }

    private static bool ChainsTo(X509Certificate2 presented, X509Chain? platformChain, X509Certificate2Collection roots)
    {
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(roots);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (platformChain is not null)
        {
            // The intermediates the peer sent (the platform chain holds what it could assemble from them).
            custom.ChainPolicy.ExtraStore.AddRange(platformChain.ChainPolicy.ExtraStore);
            foreach (X509ChainElement element in platformChain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        return custom.Build(presented);
    }

    private static string Describe(X509Chain? chain)
    {
        if (chain is null)
        {
            return "no chain";
        }

        string[] statuses = chain.ChainStatus
            .Where(s => s.Status != X509ChainStatusFlags.NoError)
            .Select(s => s.Status.ToString())
            .Distinct()
            .ToArray();
        return statuses.Length == 0 ? "not trusted" : string.Join(", ", statuses);
    }
}
