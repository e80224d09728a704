using System.Net;
using System.Runtime.InteropServices;
using System.Text;

namespace Sluice.Policy.Names;

/// <summary>
/// The registrable domain of a name (example.co.uk for a.b.example.co.uk), by the Public Suffix List as libpsl reads
/// it: the C library curl and wget use, whose list the system's <c>publicsuffix</c> package keeps current
/// (/usr/share/publicsuffix). No .NET package carries the list, and a copy of our own would go stale.
/// </summary>
/// <remarks>
/// Names are expected as <see cref="HostNames.TryNormalize"/> leaves them: lower-case, IDNs as punycode, no trailing
/// dot (libpsl knows the list's IDN entries in both forms). The list is loaded once, the newest libpsl finds
/// (<c>psl_latest</c>), and read-only after that, so any thread may ask.
/// </remarks>
public static partial class RegistrableDomains
{
    private const string Library = "libpsl.so.5";

    // The longest name DNS carries is 253 characters; anything longer has no registrable part worth computing.
    private const int MaxName = 253;

    private static readonly Lazy<nint> Context = new(Load);

    /// <summary>Whether libpsl could be loaded; without it <c>key: domain</c> is refused when the configuration is read.</summary>
    public static bool Available => Context.Value != 0;

    /// <summary>What to say when libpsl is missing.</summary>
    public const string Missing = "needs libpsl (apt-get install libpsl5)";

    /// <summary>
    /// The key a destination is counted under: the address text of an IP literal; else the registrable domain; a
    /// public suffix itself, or a name with no registrable part, is its own key.
    /// </summary>
    public static string KeyFor(string host, IPAddress? literal) => literal is not null ? literal.ToString() : host[Start(host)..];

    /// <summary>
    /// Where the registrable domain starts in <paramref name="host"/> (0 when the host is one, is a public suffix, or
    /// has no registrable part), so a caller can look the key up as a slice of the name it has, without a new string.
    /// Not for IP literals: libpsl reads 127.0.0.1 as a name under the suffix "1".
    /// </summary>
    public static unsafe int Start(string host)
    {
        nint context = Context.Value;
        if (context == 0 || host.Length is 0 or > MaxName)
        {
            return 0;
        }

        Span<byte> name = stackalloc byte[(MaxName * 3) + 1];
        int length = Encoding.UTF8.GetBytes(host, name);
        name[length] = 0;
        fixed (byte* start = name)
        {
            byte* domain = PslRegistrableDomain(context, start);
            if (domain == null || domain == start)
            {
                return 0;
            }

            // The answer points into the buffer given: its offset there is the key's start.
            int offset = (int)(domain - start);
            return length == host.Length ? offset : Encoding.UTF8.GetCharCount(name[..offset]);
        }
    }

    private static unsafe nint Load()
    {
        try
        {
            return PslLatest(null);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return 0;
        }
    }

    // psl_ctx_t *psl_latest(const char *fname): the newest of the distribution's list and the built-in one; never freed
    // (one for the life of the process).
    [LibraryImport(Library, EntryPoint = "psl_latest")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static unsafe partial nint PslLatest(byte* file);

    // const char *psl_registrable_domain(const psl_ctx_t *psl, const char *domain): a pointer into domain, or NULL.
    [LibraryImport(Library, EntryPoint = "psl_registrable_domain")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static unsafe partial byte* PslRegistrableDomain(nint psl, byte* domain);
}
