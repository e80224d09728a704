using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sluice.Proxy.Listening;

/// <summary>
/// A certificate revocation list (RFC 5280 §5) from a file, PEM or DER, for client certificates: the serial
/// numbers its issuer revoked. The list counts only after its signature is verified with the issuing CA's key.
/// </summary>
internal sealed class RevocationList
{
    private readonly HashSet<BigInteger> _revoked;

    private RevocationList(byte[] issuer, HashSet<BigInteger> revoked, DateTimeOffset? nextUpdate)
    {
        Issuer = issuer;
        _revoked = revoked;
        NextUpdate = nextUpdate;
    }

    /// <summary>The DER-encoded issuer name.</summary>
    public byte[] Issuer { get; }

    public DateTimeOffset? NextUpdate { get; }

    public bool IsRevoked(X509Certificate2 certificate) =>
        certificate.IssuerName.RawData.AsSpan().SequenceEqual(Issuer)
        && _revoked.Contains(new BigInteger(certificate.SerialNumberBytes.Span, isUnsigned: true, isBigEndian: true));

    /// <summary>Reads every CRL in the file and keeps those signed by one of <paramref name="cas"/>.</summary>
    /// <exception cref="InvalidOperationException">A CRL is malformed or not signed by a configured CA.</exception>
    public static IReadOnlyList<RevocationList> Load(string path, X509Certificate2Collection cas)
    {
        byte[] content = File.ReadAllBytes(path);
        List<byte[]> ders = [];
        string text = System.Text.Encoding.ASCII.GetString(content);
        if (text.Contains("-----BEGIN X509 CRL-----", StringComparison.Ordinal))
        {
            ReadOnlySpan<char> rest = text;
            while (PemEncoding.TryFind(rest, out PemFields fields))
            {
                if (rest[fields.Label].SequenceEqual("X509 CRL"))
                {
                    ders.Add(Convert.FromBase64String(rest[fields.Base64Data].ToString()));
                }

                rest = rest[fields.Location.End..];
            }
        }
        else
        {
            ders.Add(content);
        }

        if (ders.Count == 0)
        {
            // A truncated or mislabelled file must not quietly mean "nothing is revoked".
            throw new InvalidOperationException($"{path}: no complete certificate revocation list in the file");
        }

        var lists = new List<RevocationList>();
        foreach (byte[] der in ders)
        {
            try
            {
                lists.Add(Parse(der, cas));
            }
            catch (Exception e) when (e is AsnContentException or CryptographicException or FormatException)
            {
                throw new InvalidOperationException($"{path}: not a valid certificate revocation list ({e.Message})", e);
            }
        }

        return lists;
    }

    private static RevocationList Parse(byte[] der, X509Certificate2Collection cas)
    {
        var list = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
        ReadOnlyMemory<byte> tbsBytes = list.PeekEncodedValue();
        AsnReader tbs = list.ReadSequence();
        string algorithm = list.ReadSequence().ReadObjectIdentifier();
        byte[] signature = list.ReadBitString(out _);

        if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
        {
            tbs.ReadInteger(); // version
        }

        tbs.ReadSequence(); // signature algorithm, repeated inside
        byte[] issuer = tbs.ReadEncodedValue().ToArray();
        ReadTime(tbs); // thisUpdate
        DateTimeOffset? nextUpdate = null;
        if (tbs.HasData && (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) || tbs.PeekTag().HasSameClassAndValue(Asn1Tag.GeneralizedTime)))
        {
            nextUpdate = ReadTime(tbs);
        }

        var revoked = new HashSet<BigInteger>();
        if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
        {
            AsnReader entries = tbs.ReadSequence();
            while (entries.HasData)
            {
                AsnReader entry = entries.ReadSequence();
                revoked.Add(new BigInteger(entry.ReadIntegerBytes().Span, isUnsigned: true, isBigEndian: true));
            }
        }

        X509Certificate2[] named = cas.Where(c => c.SubjectName.RawData.AsSpan().SequenceEqual(issuer)).ToArray();
        if (named.Length == 0)
        {
            throw new CryptographicException("its issuer is none of the client CAs");
        }

        // Any CA of that name may have signed it (a re-keyed CA keeps its name).
        if (!named.Any(ca => Verify(ca, algorithm, tbsBytes.Span, signature)))
        {
            throw new CryptographicException("its signature does not verify with the issuing CA's key");
        }

        return new RevocationList(issuer, revoked, nextUpdate);
    }

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();

    private static bool Verify(X509Certificate2 ca, string algorithm, ReadOnlySpan<byte> data, byte[] signature)
    {
        HashAlgorithmName hash = algorithm switch
        {
            "1.2.840.10045.4.3.2" or "1.2.840.113549.1.1.11" => HashAlgorithmName.SHA256,
            "1.2.840.10045.4.3.3" or "1.2.840.113549.1.1.12" => HashAlgorithmName.SHA384,
            "1.2.840.10045.4.3.4" or "1.2.840.113549.1.1.13" => HashAlgorithmName.SHA512,
            _ => throw new CryptographicException($"unsupported signature algorithm {algorithm}"),
        };
        using ECDsa? ecdsa = ca.GetECDsaPublicKey();
        if (ecdsa is not null)
        {
            return ecdsa.VerifyData(data, signature, hash, DSASignatureFormat.Rfc3279DerSequence);
        }

        using RSA rsa = ca.GetRSAPublicKey() ?? throw new CryptographicException("the CA's key is neither ECDSA nor RSA");
        return rsa.VerifyData(data, signature, hash, RSASignaturePadding.Pkcs1);
    }
}
