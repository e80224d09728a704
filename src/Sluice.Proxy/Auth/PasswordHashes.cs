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

    private static volatile bool _shaCryptAvailable;

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

    /// <summary>Test seam: called on the computing thread before every hash is computed (hashing or verifying).</summary>
    internal static Action? BeforeComputing { get; set; }

    /// <summary>True when the password matches. Never throws: a malformed hash or a missing library verifies nothing.</summary>
    public static bool Verify(string password, string hash)
    {
        BeforeComputing?.Invoke();
        try
        {
            return SchemeOf(hash) switch
            {
                HashScheme.Bcrypt => VerifyBcrypt(password, hash),
                HashScheme.Sha256Crypt or HashScheme.Sha512Crypt => VerifyCrypt(password, hash),
                _ => false,
            };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return false;
        }
    }

    /// <summary>Is the stored hash well formed for its scheme (so that verification can succeed at all)?</summary>
    public static bool IsWellFormed(string hash) => SchemeOf(hash) switch
    {
        HashScheme.Bcrypt => BcryptShape().IsMatch(hash),
        HashScheme.Sha256Crypt or HashScheme.Sha512Crypt => ShaCryptShape().IsMatch(hash),
        _ => false,
    };

    /// <summary>Whether this machine can check SHA-crypt hashes (libcrypt with crypt_rn); throws with the reason if not.</summary>
    /// <remarks>Checked once per process: loading a users file (which a reload does) verifies nothing after that.</remarks>
    public static void EnsureShaCryptAvailable()
    {
        if (_shaCryptAvailable)
        {
            return;
        }

        const string probe = "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5";
        try
        {
            BeforeComputing?.Invoke();
            if (!VerifyCrypt("Hello world!", probe))
            {
                throw new InvalidOperationException("libcrypt did not reproduce the SHA-crypt test vector");
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new InvalidOperationException($"SHA-crypt ($5$/$6$) hashes need libcrypt.so.1 with crypt_rn: {e.Message}", e);
        }

        _shaCryptAvailable = true;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")]
    private static partial System.Text.RegularExpressions.Regex BcryptShape();

    [System.Text.RegularExpressions.GeneratedRegex(@"^\$[56]\$(rounds=[0-9]{1,9}\$)?[^$:\s]{1,16}\$[./A-Za-z0-9]{43,86}$")]
    private static partial System.Text.RegularExpressions.Regex ShaCryptShape();

    /// <summary>A new bcrypt hash in the <c>$2y$</c> form htpasswd writes.</summary>
    public static string HashBcrypt(string password, int workFactor = 12)
    {
        BeforeComputing?.Invoke();
        return BCrypt.Net.BCrypt.HashPassword(password, workFactor).Replace("$2a$", "$2y$", StringComparison.Ordinal);
    }

    private static bool VerifyBcrypt(string password, string hash) => BCrypt.Net.BCrypt.Verify(password, hash);

    private static unsafe bool VerifyCrypt(string password, string hash)
    {
        // crypt_rn writes its result into the work area and returns a pointer into it: the area must not move or
        // be freed until the result is read, so it is native memory, wiped (it held the password) and freed here.
        void* data = NativeMemory.AllocZeroed(CryptDataSize);
        try
        {
            IntPtr result = CryptRn(password, hash, (IntPtr)data, CryptDataSize);
            if (result == IntPtr.Zero)
            {
                return false;
            }

            string? computed = Marshal.PtrToStringUTF8(result);
            return computed is not null && computed.Length == hash.Length
                && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(computed), Encoding.UTF8.GetBytes(hash));
        }
        finally
        {
            NativeMemory.Clear(data, CryptDataSize);
            NativeMemory.Free(data);
        }
    }

    [LibraryImport("libcrypt.so.1", EntryPoint = "crypt_rn", StringMarshalling = StringMarshalling.Utf8)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial IntPtr CryptRn(string phrase, string setting, IntPtr data, int size);
}
