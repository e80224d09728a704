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
public sealed class BasicAuthenticator
{
    private const int MaxCached = 10_000;
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan RecheckFilesEvery = TimeSpan.FromSeconds(1);

    private readonly BasicAuthConfig _config;
    private readonly Action<string> _warn;
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, long> _verified = new(StringComparer.Ordinal);
    private readonly FailureThrottle _throttle = new();
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
    }

    public BasicAuthConfig Config => _config;

    /// <summary>The Proxy-Authenticate challenge (RFC 7617, with the UTF-8 charset parameter).</summary>
    public string Challenge => $"Basic realm=\"{_config.Realm}\", charset=\"UTF-8\"";

    public int UserCount => _directory.Hashes.Count;

    public AuthResult Authenticate(string? proxyAuthorization, IPAddress client)
    {
        if (proxyAuthorization is null)
        {
            return AuthResult.Anonymous;
        }

        TimeSpan wait = _throttle.RetryAfter(client);
        if (wait > TimeSpan.Zero)
        {
            return new AuthResult(AuthOutcome.Throttled, null, [], wait);
        }

        ReloadIfChanged();
        UserDirectory directory = _directory;
        if (!TryDecode(proxyAuthorization, out string user, out string password) || !directory.Hashes.TryGetValue(user, out string? hash) || !Check(user, password, hash))
        {
            _throttle.Failed(client);
            return new AuthResult(AuthOutcome.Failed, null, []);
        }

        _throttle.Succeeded(client);
        return new AuthResult(AuthOutcome.Authenticated, user, directory.GroupsOf.TryGetValue(user, out string[]? groups) ? groups : []);
    }

    private bool Check(string user, string password, string hash)
    {
        // The cache key binds user, password and the stored hash: a changed hash can never match an old entry.
        string key = Convert.ToBase64String(HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes($"{user}\0{password}\0{hash}")));
        long now = Environment.TickCount64;
        if (_verified.TryGetValue(key, out long until) && until > now)
        {
            return true;
        }

        if (!PasswordHashes.Verify(password, hash))
        {
            return false;
        }

        if (_verified.Count >= MaxCached)
        {
            _verified.Clear(); // crude but bounded; a full cache only costs re-verification
        }

        _verified[key] = now + (long)CacheFor.TotalMilliseconds;
        return true;
    }

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
            return true;
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
