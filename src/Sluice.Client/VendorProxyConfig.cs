using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sluice.Client;

/// <summary>
/// The <c>externalProxy</c> block vendors document for "connect through your existing proxy":
/// <code>
/// externalProxy:
///   enabled: true
///   host: proxy.internal
///   port: 3129
///   type: https            # http | https
///   excludedDomains: ["localhost,.svc.cluster.local", "10.0.0.0/8"]
///   sslRejectUnauthorized: true
///   sslCA: |
///     -----BEGIN CERTIFICATE-----
///   sslInspectionCA: /etc/sluice/inspect-ca.crt   # Sluice's addition: a TLS-inspecting proxy's CA, trusted for origins
/// </code>
/// The vendor documents <c>sslCA</c> as the path of the CA file and shows it as inline PEM: both are read. A value
/// that starts with <c>-----BEGIN</c> is PEM; anything else is a path, read (and checked to hold a certificate) when
/// the block is loaded. <c>sslInspectionCA</c> is read the same way and checked by <see cref="InspectionCa"/>.
/// </summary>
public static class VendorProxyConfig
{
    /// <summary>Reads the block from a file; a relative <c>sslCA</c> path is relative to the file's folder.</summary>
    /// <inheritdoc cref="Parse"/>
    public static ProxySettings? LoadFile(string path)
    {
        string full = Path.GetFullPath(path);
        return Parse(File.ReadAllText(full), Path.GetDirectoryName(full));
    }

    /// <param name="yaml">The YAML text holding the <c>externalProxy</c> mapping.</param>
    /// <param name="baseDirectory">What a relative <c>sslCA</c> path is relative to; the current directory when null.</param>
    /// <returns>The settings, or null when <c>enabled</c> is false.</returns>
    /// <exception cref="FormatException">
    /// The block is missing or malformed, or <c>sslCA</c> names a file that cannot be read or holds no certificate;
    /// the message names the key (and the file).
    /// </exception>
    public static ProxySettings? Parse(string yaml, string? baseDirectory = null)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            throw new FormatException($"line {e.Start.Line}: not valid YAML: {e.Message}", e);
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new FormatException("expected a mapping with an externalProxy key");
        }

        YamlMappingNode block = root.Children.TryGetValue(new YamlScalarNode("externalProxy"), out YamlNode? node) && node is YamlMappingNode map
            ? map
            : throw new FormatException("no externalProxy: mapping found");

        string? Scalar(string key) => block.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? n) ? (n as YamlScalarNode)?.Value : null;
        foreach (YamlNode key in block.Children.Keys)
        {
            string name = (key as YamlScalarNode)?.Value ?? "";
            if (name is not ("enabled" or "host" or "port" or "type" or "excludedDomains" or "sslRejectUnauthorized" or "sslCA" or "sslInspectionCA"))
            {
                throw new FormatException($"line {key.Start.Line}: unknown key externalProxy.{name}");
            }
        }

        if (Scalar("enabled") is { } enabled && !Bool(enabled, "enabled"))
        {
            return null;
        }

        string host = Scalar("host") is { Length: > 0 } h ? h : throw new FormatException("externalProxy.host is required");
        string portText = Scalar("port") ?? throw new FormatException("externalProxy.port is required");
        if (!int.TryParse(portText, out int port) || port is < 1 or > 65535)
        {
            throw new FormatException($"externalProxy.port '{portText}' is not a port");
        }

        ProxyType type = (Scalar("type") ?? "http") switch
        {
            "http" => ProxyType.Http,
            "https" => ProxyType.Https,
            string other => throw new FormatException($"externalProxy.type '{other}' must be http or https"),
        };

        var excluded = new List<string?>();
        if (block.Children.TryGetValue(new YamlScalarNode("excludedDomains"), out YamlNode? list))
        {
            switch (list)
            {
                case YamlSequenceNode sequence:
                    excluded.AddRange(sequence.Children.Select(c => (c as YamlScalarNode)?.Value));
                    break;
                case YamlScalarNode scalar:
                    excluded.Add(scalar.Value);
                    break;
            }
        }

        (string? caPem, string? caFile) = Scalar("sslCA") is { Length: > 0 } ca ? ReadCa(ca, baseDirectory) : (null, null);
        (string? inspectionPem, string? inspectionFile) = Scalar("sslInspectionCA") is { Length: > 0 } inspection
            ? InspectionCa.Read(inspection, baseDirectory, "externalProxy.sslInspectionCA")
            : (null, null);
        return new ProxySettings
        {
            Host = host,
            Port = port,
            Type = type,
            Excluded = NoProxyList.Parse(excluded),
            RejectUnauthorized = Scalar("sslRejectUnauthorized") is not { } reject || Bool(reject, "sslRejectUnauthorized"),
            CaPem = caPem,
            CaFile = caFile,
            InspectionCaPem = inspectionPem,
            InspectionCaFile = inspectionFile,
        };
    }

    /// <summary>Inline PEM as it is; a path read, and refused unless it holds at least one certificate.</summary>
    private static (string Pem, string? File) ReadCa(string value, string? baseDirectory)
    {
        (string pem, string? path) = CaText.Read(value, baseDirectory, "externalProxy.sslCA");
        if (path is null)
        {
            return (pem, null);
        }

        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new FormatException($"externalProxy.sslCA: {path}: a certificate in it cannot be read: {e.Message}", e);
        }

        if (certificates.Count == 0)
        {
            throw new FormatException($"externalProxy.sslCA: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        foreach (X509Certificate2 certificate in certificates)
        {
            certificate.Dispose();
        }

        return (pem, path);
    }

    private static bool Bool(string text, string key) => text.ToLowerInvariant() switch
    {
        "true" or "yes" or "on" => true,
        "false" or "no" or "off" => false,
        _ => throw new FormatException($"externalProxy.{key} '{text}' must be true or false"),
    };
}
