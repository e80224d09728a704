using YamlDotNet.RepresentationModel;

namespace Sluice.Policy.Config;

/// <summary>Reads <c>listeners[].tls</c>; files must exist when the configuration is loaded.</summary>
internal static class TlsReader
{
    public static TlsConfig Read(YamlSection tls, YamlNode node, string where, YamlSection top)
    {
        string baseDir = top.BaseDirectory;
        string certificate = RequiredFile(tls, node, where, "certificate", baseDir);
        string key = RequiredFile(tls, node, where, "key", baseDir);
        string? passphraseEnv = tls.String("keyPassphraseEnv");
        string? passphraseFile = OptionalFile(tls, "keyPassphraseFile", where, baseDir);
        string? clientCa = OptionalFile(tls, "clientCa", where, baseDir);
        string? clientCrl = OptionalFile(tls, "clientCrl", where, baseDir);
        if (clientCrl is not null && clientCa is null)
        {
            throw tls.Error(tls.Get("clientCrl")!, $"{where}.clientCrl needs clientCa: revocation lists are checked for client certificates");
        }

        ClientCertificateMode mode = tls.Parse("clientCertificate", clientCa is null ? ClientCertificateMode.None : ClientCertificateMode.Required,
            TryParseMode, "none, optional or required");
        if (mode != ClientCertificateMode.None && clientCa is null)
        {
            throw tls.Error(tls.Get("clientCertificate")!, $"{where}.clientCertificate: {mode.ToString().ToLowerInvariant()} needs clientCa, the CAs that issue client certificates");
        }

        if (passphraseEnv is not null && passphraseFile is not null)
        {
            throw tls.Error(node, $"{where}: give keyPassphraseEnv or keyPassphraseFile, not both");
        }

        tls.RejectUnknownKeys();
        return new TlsConfig
        {
            Certificate = certificate,
            Key = key,
            KeyPassphraseEnv = passphraseEnv,
            KeyPassphraseFile = passphraseFile,
            ClientCa = clientCa,
            ClientCertificate = mode,
            ClientCrl = clientCrl,
        };
    }

    internal static string RequiredFile(YamlSection tls, YamlNode node, string where, string key, string baseDir) =>
        OptionalFile(tls, key, where, baseDir) ?? throw tls.Error(node, $"{where}: '{key}' is required (a PEM file)");

    internal static string? OptionalFile(YamlSection tls, string key, string where, string baseDir)
    {
        string? path = tls.String(key);
        if (path is null)
        {
            return null;
        }

        string full = Path.GetFullPath(path, baseDir);
        return File.Exists(full) ? full : throw tls.Error(tls.Get(key)!, $"{where}.{key}: no file at {full}");
    }

    private static bool TryParseMode(string text, out ClientCertificateMode mode)
    {
        (bool ok, mode) = text switch
        {
            "none" => (true, ClientCertificateMode.None),
            "optional" => (true, ClientCertificateMode.Optional),
            "required" => (true, ClientCertificateMode.Required),
            _ => (false, ClientCertificateMode.None),
        };
        return ok;
    }
}
