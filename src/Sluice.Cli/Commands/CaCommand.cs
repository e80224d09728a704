using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Sluice.Policy.Config;
using Sluice.Proxy.Inspection;

namespace Sluice.Cli.Commands;

/// <summary>
/// <c>sluice ca init</c> and <c>sluice ca show</c>: make the CA that signs the certificates of inspected tunnels, and
/// show one. The certificate and its checks come from <see cref="InspectionCa"/>; this file writes files and text.
/// </summary>
internal static class CaCommand
{
    /// <summary>Within this many days of notAfter, <c>show</c> warns.</summary>
    internal const int WarnDays = 30;

    private const UnixFileMode KeyMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // 0600
    private const UnixFileMode CertificateMode = KeyMode | UnixFileMode.GroupRead | UnixFileMode.OtherRead; // 0644
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute; // 0700

    public static Command Create() => new("ca", "Make and inspect the CA that signs the certificates the proxy presents inside inspected tunnels (rules with tls: inspect).")
    {
        CreateInit(),
        CreateShow(),
    };

    private static Command CreateInit()
    {
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Folder for ca.crt and ca.key; created (mode 0700) if missing.", Required = true };
        var organization = new Option<string>("--org") { Description = "Organization (O=) of the CA; its name is \"<org> Sluice inspection CA\".", DefaultValueFactory = _ => "Sluice" };
        var days = new Option<int>("--days") { Description = "Days the CA is valid (1 to 7305).", DefaultValueFactory = _ => 730 };
        var rsa = new Option<bool>("--rsa") { Description = "An RSA 3072 key instead of ECDSA P-256, for clients that trust only RSA roots." };
        var force = new Option<bool>("--force") { Description = "Replace ca.crt and ca.key if they exist (clients must then trust the new certificate)." };
        var command = new Command("init", "Make a new inspection CA: DIR/ca.crt (the certificate, 0644: give it to clients) and DIR/ca.key (its private key, 0600: only the proxy reads it). Prints the fingerprint, the expiry and the configuration lines to use them. Exit code 0 when written, 1 when the files cannot be written, 2 on a usage error (including files that exist, without --force).")
        {
            output, organization, days, rsa, force,
        };
        command.SetAction(result => RunInit(new InitRequest(result.GetValue(output)!, result.GetValue(organization)!, result.GetValue(days), result.GetValue(rsa), result.GetValue(force)),
            Console.Out, Console.Error));
        return command;
    }

    private static Command CreateShow()
    {
        var ca = new Option<FileInfo?>("--ca") { Description = "The CA certificate (PEM), as tls.inspection.ca names it." };
        var config = new Option<FileInfo?>("--config", "-c") { Description = "A Sluice configuration: show the CA its tls.inspection names, and check its key matches." };
        var json = new Option<bool>("--json") { Description = "Print the description as one JSON object, for scripts." };
        var command = new Command("show", $"Show an inspection CA certificate: subject, SHA-256 fingerprint, validity, days left, key. Warns on stderr when it expires within {WarnDays} days. Exit code 0 when the proxy can use it, 1 when it has expired, is not valid yet or is not a CA, 2 when the file cannot be read.")
        {
            ca, config, json,
        };
        command.SetAction(result => RunShowFrom(result.GetValue(ca), result.GetValue(config), result.GetValue(json), Console.Out, Console.Error));
        return command;
    }

    internal sealed record InitRequest(DirectoryInfo Out, string Organization = "Sluice", int Days = 730, bool Rsa = false, bool Force = false);

    internal static int RunInit(InitRequest input, TextWriter output, TextWriter errors)
    {
        string dir = input.Out.FullName;
        string certificatePath = Path.Combine(dir, "ca.crt");
        string keyPath = Path.Combine(dir, "ca.key");
        if (File.Exists(dir))
        {
            errors.WriteLine($"sluice ca init: --out {dir} is a file, not a folder");
            return 2;
        }

        if (!input.Force && new[] { certificatePath, keyPath }.FirstOrDefault(File.Exists) is { } existing)
        {
            errors.WriteLine($"sluice ca init: {existing} already exists: nothing written. Pass --force to replace both files (the proxy then signs with the new CA, and clients must trust the new certificate)");
            return 2;
        }

        string certificatePem;
        string keyPem;
        try
        {
            var options = new CaOptions(input.Organization, TimeSpan.FromDays((double)input.Days)) { KeyType = input.Rsa ? CaKeyType.Rsa3072 : CaKeyType.EcdsaP256 };
            (certificatePem, keyPem) = InspectionCa.Create(options);
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            errors.WriteLine($"sluice ca init: {(e is OverflowException ? $"--days {input.Days} is far beyond the 20 years a CA may last" : e.Message)}");
            return 2;
        }

        CaDescription description;
        try
        {
            if (!Directory.Exists(dir))
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(dir);
                }
                else
                {
                    Directory.CreateDirectory(dir, DirectoryMode);
                }
            }

            string keyTemporary = WriteTemporary(dir, "ca.key", keyPem, KeyMode);
            string certificateTemporary;
            try
            {
                certificateTemporary = WriteTemporary(dir, "ca.crt", certificatePem, CertificateMode);
            }
            catch
            {
                File.Delete(keyTemporary);
                throw;
            }

            try
            {
                // The key first: a proxy watching the folder sees the new pair complete once the certificate lands.
                File.Move(keyTemporary, keyPath, overwrite: input.Force);
                File.Move(certificateTemporary, certificatePath, overwrite: input.Force);
            }
            finally
            {
                File.Delete(keyTemporary); // gone already after a successful move
                File.Delete(certificateTemporary);
            }

            using X509Certificate2 written = InspectionCa.Load(certificatePath, keyPath); // read back as the proxy reads it
            description = InspectionCa.Describe(written);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            errors.WriteLine($"sluice ca init: cannot write the CA to {dir}: {e.Message}");
            return 1;
        }

        output.WriteLine($"wrote {certificatePath}  (the CA certificate: clients trust it)");
        output.WriteLine($"wrote {keyPath}  (its private key, mode 0600: only the proxy reads it; never give it to clients)");
        output.WriteLine();
        WriteSummary(output, description);
        output.WriteLine();
        output.WriteLine("next steps:");
        output.WriteLine("  1. point the proxy at both files (it picks up a new pair when they change):");
        output.WriteLine();
        output.WriteLine("       tls:");
        output.WriteLine("         inspection:");
        output.WriteLine($"           ca: {certificatePath}");
        output.WriteLine($"           key: {keyPath}");
        output.WriteLine();
        output.WriteLine("     and add `tls: inspect` to the rules whose HTTPS requests the proxy should see.");
        output.WriteLine("  2. make each client trust the certificate, for instance:");
        output.WriteLine();
        output.WriteLine($"       sluice env --format FORMAT --proxy URL --inspection-ca {certificatePath}");
        return 0;
    }

    /// <summary><c>--ca FILE</c>, or the CA a configuration's tls.inspection names (its key checked against it, as the proxy loads them).</summary>
    internal static int RunShowFrom(FileInfo? ca, FileInfo? config, bool json, TextWriter output, TextWriter errors)
    {
        if ((ca is null) == (config is null))
        {
            errors.WriteLine("sluice ca show: give exactly one of --ca FILE or --config FILE");
            return 2;
        }

        if (config is null)
        {
            return RunShow(ca!, json, output, errors);
        }

        if (!ConfigOption.TryLoad(config, errors, out SluiceConfig loaded))
        {
            return 2;
        }

        if (loaded.Inspection is not { } inspection)
        {
            errors.WriteLine($"sluice ca show: {config.FullName} has no tls.inspection: nothing is inspected");
            return 2;
        }

        int shown = RunShow(new FileInfo(inspection.Ca), json, output, errors);
        try
        {
            using X509Certificate2 pair = InspectionCa.Load(inspection.Ca, inspection.Key);
        }
        catch (InvalidOperationException e)
        {
            errors.WriteLine($"sluice ca show: the proxy would refuse this pair: {e.Message}");
            return Math.Max(shown, 1);
        }

        return shown;
    }

    internal static int RunShow(FileInfo file, bool json, TextWriter output, TextWriter errors)
    {
        CaDescription description;
        try
        {
            using X509Certificate2 certificate = InspectionCa.ReadCertificate(file.FullName);
            description = InspectionCa.Describe(certificate);
        }
        catch (InvalidOperationException e)
        {
            errors.WriteLine($"sluice ca show: {e.Message}");
            return 2;
        }

        string? problem = Problem(description);
        string? warning = problem is null && description.DaysLeft < WarnDays
            ? $"expires in {description.DaysLeft} days ({Utc(description.NotAfter)}): make a new CA (sluice ca init), have clients trust it, then replace the proxy's files"
            : null;
        if (json)
        {
            WriteJson(output, file.FullName, description, problem, warning);
        }
        else
        {
            output.WriteLine(file.FullName);
            WriteSummary(output, description);
            output.WriteLine($"serial:      {description.SerialNumber}");
            output.WriteLine($"valid from:  {Utc(description.NotBefore)}");
            output.WriteLine($"CA:          {(description.IsCa ? "yes" : "no")}{(description.PathLength is { } path ? $", pathlen {path}" : "")}{(description.CanSignCertificates ? ", may sign certificates (keyCertSign)" : ", may not sign certificates (no keyCertSign)")}");
        }

        if (problem is not null)
        {
            errors.WriteLine($"sluice ca show: {file.FullName}: {problem}");
            return 1;
        }

        if (warning is not null)
        {
            errors.WriteLine($"sluice ca show: warning: {file.FullName} {warning}");
        }

        return 0;
    }

    /// <summary>Why the proxy would refuse this certificate as its inspection CA; null when it would not.</summary>
    private static string? Problem(CaDescription ca)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        return !ca.IsCa ? "not a CA (no basicConstraints CA:TRUE): the proxy refuses it"
            : !ca.CanSignCertificates ? "may not sign certificates (its keyUsage lacks keyCertSign): the proxy refuses it"
            : now >= ca.NotAfter ? $"expired on {Utc(ca.NotAfter)}: make a new CA with sluice ca init"
            : now < ca.NotBefore ? $"not valid yet: its notBefore is {Utc(ca.NotBefore)} (is this machine's clock right?)"
            : null;
    }

    private static void WriteSummary(TextWriter output, CaDescription ca)
    {
        output.WriteLine($"subject:     {ca.Subject}");
        if (!ca.SelfSigned)
        {
            output.WriteLine($"issuer:      {ca.Issuer}");
        }

        output.WriteLine($"fingerprint: SHA256 {ca.Sha256Fingerprint}");
        output.WriteLine($"expires:     {Utc(ca.NotAfter)} ({(ca.DaysLeft >= 0 ? $"in {ca.DaysLeft} days" : $"{(int)Math.Floor((DateTimeOffset.UtcNow - ca.NotAfter).TotalDays)} days ago")})");
        output.WriteLine($"key:         {KeyText(ca)}");
    }

    private static string KeyText(CaDescription ca) => ca.KeyAlgorithm.StartsWith("ECDSA", StringComparison.Ordinal) ? ca.KeyAlgorithm : $"{ca.KeyAlgorithm} {ca.KeySize}";

    private static void WriteJson(TextWriter output, string file, CaDescription ca, string? problem, string? warning) => JsonOutput.Write(output, w =>
    {
        w.WriteStartObject();
        w.WriteString("file", file);
        w.WriteString("subject", ca.Subject);
        w.WriteString("issuer", ca.Issuer);
        w.WriteBoolean("selfSigned", ca.SelfSigned);
        w.WriteString("sha256Fingerprint", ca.Sha256Fingerprint);
        w.WriteString("serial", ca.SerialNumber);
        w.WriteString("notBefore", Iso(ca.NotBefore));
        w.WriteString("notAfter", Iso(ca.NotAfter));
        w.WriteNumber("daysLeft", ca.DaysLeft);
        w.WriteString("keyAlgorithm", ca.KeyAlgorithm);
        w.WriteNumber("keyBits", ca.KeySize);
        w.WriteBoolean("ca", ca.IsCa);
        JsonOutput.WriteOptional(w, "pathLength", ca.PathLength);
        w.WriteBoolean("keyCertSign", ca.CanSignCertificates);
        w.WriteBoolean("usable", problem is null);
        JsonOutput.WriteOptional(w, "problem", problem);
        JsonOutput.WriteOptional(w, "warning", warning);
        w.WriteEndObject();
    });

    private static string Utc(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    private static string Iso(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// The text in a new file beside its final name, created exclusively with its mode from the start (a key is
    /// never readable by others, not even empty). A certificate gets exactly 0644 whatever the umask: clients and
    /// other services read it.
    /// </summary>
    private static string WriteTemporary(string dir, string name, string text, UnixFileMode mode)
    {
        string temporary = Path.Combine(dir, $".{name}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = mode;
        }

        try
        {
            using (var writer = new StreamWriter(new FileStream(temporary, options)))
            {
                writer.Write(text);
            }

            if (!OperatingSystem.IsWindows() && mode == CertificateMode && File.GetUnixFileMode(temporary) != mode)
            {
                File.SetUnixFileMode(temporary, mode); // a umask such as 077 took the read bits a certificate needs
            }

            return temporary;
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
