using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Auth;

public enum AuthOutcome
{
    /// <summary>No credentials were sent.</summary>
    Anonymous,
    Authenticated,

    /// <summary>Credentials were sent and are wrong (or malformed).</summary>
    Failed,

    /// <summary>Too many failures from this address: refused without checking.</summary>
    Throttled,
}

public readonly record struct AuthResult(AuthOutcome Outcome, string? User, IReadOnlyCollection<string> Groups, TimeSpan RetryAfter = default)
{
    public static readonly AuthResult Anonymous = new(AuthOutcome.Anonymous, null, []);
}

/// <summary>
/// HTTP Basic proxy authentication (RFC 7617) against the users file. Hash verification is slow on purpose, so a
/// successful check is remembered for a few minutes in a bounded cache keyed by an HMAC of the credentials (the
/// password itself is never stored); a changed users file empties it. The files are looked at again at most once
/// a second and a new version that does not load is logged and ignored.
/// </summary>
public sealed class BasicAuthenticator : IDisposable
{
    private const int MaxCached = 10_000;
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RecheckFilesEvery = TimeSpan.FromSeconds(1);

    private readonly BasicAuthConfig _config;
    private readonly Action<string> _warn;
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, long> _verified = new(StringComparer.Ordinal);
    private readonly FailureThrottle _throttle = new();

    // Hash verification is CPU-bound and slow by design: at most this many at once, the rest wait asynchronously.
    private readonly SemaphoreSlim _verifySlots = new(Math.Max(2, Environment.ProcessorCount), Math.Max(2, Environment.ProcessorCount));
    private readonly string _dummyHash;
    private readonly object _reloadLock = new();
    private volatile UserDirectory _directory;
    private (DateTime Users, DateTime Groups) _stamps;
    private long _nextFileCheck;

    /// <exception cref="UsersFileException">The files cannot be used.</exception>
    public BasicAuthenticator(BasicAuthConfig config, Action<string> warn)
    {
        _config = config;
        _warn = warn;
        _stamps = Stamps();
        _directory = UserDirectory.Load(config.UsersFile, config.GroupsFile);
        _dummyHash = PasswordHashes.HashBcrypt(Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)), CostOf(_directory));
    }

    // The dummy hash for unknown users costs what the real ones cost.
    private static int CostOf(UserDirectory directory)
    {
        string? bcrypt = directory.Hashes.Values.FirstOrDefault(h => PasswordHashes.SchemeOf(h) == HashScheme.Bcrypt);
        return bcrypt is not null && int.TryParse(bcrypt.AsSpan(4, 2), out int cost) ? cost : 10;
    }

    public BasicAuthConfig Config => _config;

    /// <summary>The Proxy-Authenticate challenge (RFC 7617, with the UTF-8 charset parameter).</summary>
    public string Challenge => $"Basic realm=\"{_config.Realm}\", charset=\"UTF-8\"";

    public int UserCount => _directory.Hashes.Count;

    public async ValueTask<AuthResult> AuthenticateAsync(string? proxyAuthorization, IPAddress client)
    {
        if (proxyAuthorization is null)
        {
            return AuthResult.Anonymous;
        }

        ReloadIfChanged();
        UserDirectory directory = _directory;
        if (!TryDecode(proxyAuthorization, out string user, out string password))
        {
            user = password = ""; // malformed: counted as a failure of the empty user
        }

        string? hash = directory.Hashes.GetValueOrDefault(user);
        string cacheKey = CacheKey(user, password, hash);
        if (hash is not null && _verified.TryGetValue(cacheKey, out long until) && until > Environment.TickCount64)
        {
            // A remembered success costs nothing, so it is served even while guesses from this address are refused.
            return Authenticated(directory, user);
        }

        if (!_throttle.TryBegin(client, user, out TimeSpan wait))
        {
            return new AuthResult(AuthOutcome.Throttled, null, [], wait);
        }

        bool ok = false;
        try
        {
            await _verifySlots.WaitAsync().ConfigureAwait(false);
            try
            {
                // An unknown user costs as much as a known one, so timing does not tell which names exist.
                ok = PasswordHashes.Verify(password, hash ?? _dummyHash) && hash is not null && user.Length > 0;
            }
            finally
            {
                _verifySlots.Release();
            }
        }
        finally
        {
            _throttle.End(client, user, ok);
        }

        if (!ok)
        {
            return new AuthResult(AuthOutcome.Failed, null, []);
        }

        if (_verified.Count >= MaxCached)
        {
            _verified.Clear(); // crude but bounded; a full cache only costs re-verification
        }

        _verified[cacheKey] = Environment.TickCount64 + (long)CacheFor.TotalMilliseconds;
        return Authenticated(directory, user);
    }

    public void Dispose()
    {
        _throttle.Dispose();
        _verifySlots.Dispose();
    }

    private static AuthResult Authenticated(UserDirectory directory, string user) =>
        new(AuthOutcome.Authenticated, user, directory.GroupsOf.TryGetValue(user, out string[]? groups) ? groups : []);

    // Binds user, password and the stored hash: a changed hash can never match an old entry. The password itself
    // is never stored, only an HMAC under a key that lives as long as the process.
    private string CacheKey(string user, string password, string? hash) =>
        Convert.ToBase64String(HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes($"{user}\0{password}\0{hash}")));

    /// <summary>RFC 7617: base64 of user-id ":" password, UTF-8; the scheme name is case-insensitive.</summary>
    private static bool TryDecode(string header, out string user, out string password)
    {
        user = password = "";
        string value = header.Trim();
        if (!value.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        try
        {
            string decoded = Encoding.UTF8.GetString(Convert.FromBase64String(value[6..].Trim()));
            int colon = decoded.IndexOf(':');
            if (colon <= 0)
            {
                return false;
            }

            user = decoded[..colon];
            password = decoded[(colon + 1)..];
            // NUL and other controls: libcrypt stops at NUL, so "secret\0anything" would verify; refuse instead.
            return !user.Any(char.IsControl) && !password.Any(char.IsControl);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private void ReloadIfChanged()
    {
        long now = Environment.TickCount64;
        if (now < Interlocked.Read(ref _nextFileCheck))
        {
            return;
        }

        lock (_reloadLock)
        {
            Interlocked.Exchange(ref _nextFileCheck, now + (long)RecheckFilesEvery.TotalMilliseconds);
            (DateTime, DateTime) stamps = Stamps();
            if (stamps == _stamps)
            {
                return;
            }

            _stamps = stamps;
            try
            {
                _directory = UserDirectory.Load(_config.UsersFile, _config.GroupsFile);
                _verified.Clear();
            }
            catch (UsersFileException e)
            {
                _warn($"users file changed but was not loaded, keeping the previous users: {e.Message}");
            }
        }
    }

    private (DateTime, DateTime) Stamps() =>
        (File.GetLastWriteTimeUtc(_config.UsersFile), _config.GroupsFile is null ? default : File.GetLastWriteTimeUtc(_config.GroupsFile));
}
