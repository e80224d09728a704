using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Sluice.Proxy.Auth;

public enum HashScheme
{
    Unsupported,
    Bcrypt,
    Sha256Crypt,
    Sha512Crypt,
}

/// <summary>
/// Verifies htpasswd password hashes with kept libraries: bcrypt with BCrypt.Net-Next, SHA-crypt (<c>$5$</c>,
/// <c>$6$</c>) with the system's libcrypt (libxcrypt), the same code that checks /etc/shadow. Nothing here
/// implements a hash function; results are compared in constant time.
/// </summary>
public static partial class PasswordHashes
{
    // sizeof(struct crypt_data) in libxcrypt.
    private const int CryptDataSize = 32768;

    public static HashScheme SchemeOf(string hash) => hash switch
    {
        _ when hash.StartsWith("$2y$", StringComparison.Ordinal) || hash.StartsWith("$2b$", StringComparison.Ordinal) || hash.StartsWith("$2a$", StringComparison.Ordinal) => HashScheme.Bcrypt,
        _ when hash.StartsWith("$5$", StringComparison.Ordinal) => HashScheme.Sha256Crypt,
        _ when hash.StartsWith("$6$", StringComparison.Ordinal) => HashScheme.Sha512Crypt,
        _ => HashScheme.Unsupported,
    };

    /// <summary>Names an unsupported entry for the error message, without echoing what may be a plain-text password.</summary>
    public static string DescribeUnsupported(string hash) => hash switch
    {
        _ when hash.StartsWith("$apr1$", StringComparison.Ordinal) => "an Apache MD5 ($apr1$) hash, which is too weak",
        _ when hash.StartsWith("$1$", StringComparison.Ordinal) => "an MD5-crypt ($1$) hash, which is too weak",
        _ when hash.StartsWith("{SHA}", StringComparison.Ordinal) => "an unsalted SHA-1 ({SHA}) hash, which is too weak",
        _ when hash.StartsWith('$') => "a hash scheme Sluice does not accept",
        _ when hash.Length == 13 => "a DES-crypt hash or a plain-text password",
        _ => "a plain-text password",
    };

    public static bool Verify(string password, string hash) => SchemeOf(hash) switch
    {
        HashScheme.Bcrypt => VerifyBcrypt(password, hash),
        HashScheme.Sha256Crypt or HashScheme.Sha512Crypt => VerifyCrypt(password, hash),
        _ => false,
    };

    /// <summary>A new bcrypt hash in the <c>$2y$</c> form htpasswd writes.</summary>
    public static string HashBcrypt(string password, int workFactor = 12) =>
        BCrypt.Net.BCrypt.HashPassword(password, workFactor).Replace("$2a$", "$2y$", StringComparison.Ordinal);

    private static bool VerifyBcrypt(string password, string hash)
    {
        try
        {
            return BCrypt.Net.BCrypt.Verify(password, hash);
        }
        catch (Exception e) when (e is BCrypt.Net.SaltParseException or ArgumentException or FormatException)
        {
            return false; // a malformed stored hash verifies nothing
        }
    }

    private static bool VerifyCrypt(string password, string hash)
    {
        byte[] data = new byte[CryptDataSize];
        IntPtr result = CryptRn(password, hash, data, data.Length);
        if (result == IntPtr.Zero)
        {
            return false;
        }

        string? computed = Marshal.PtrToStringUTF8(result);
        return computed is not null && computed.Length == hash.Length
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(computed), Encoding.UTF8.GetBytes(hash));
    }

    [LibraryImport("libcrypt.so.1", EntryPoint = "crypt_rn", StringMarshalling = StringMarshalling.Utf8)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial IntPtr CryptRn(string phrase, string setting, [Out] byte[] data, int size);
}
