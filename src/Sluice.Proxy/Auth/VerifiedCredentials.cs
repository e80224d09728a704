using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Sluice.Proxy.Auth;

/// <summary>
/// Successful verifications remembered for a few minutes, and the verifications running now, keyed by an HMAC of
/// user, password and stored hash (the password itself is never stored). Because the key binds the stored hash, an
/// entry is the memo of a pure function: a changed password or a removed user can never match it, so nothing has to
/// be emptied when the users file changes. Requests with the same credentials share one verification.
/// </summary>
internal sealed class VerifiedCredentials
{
    private const int MaxRemembered = 10_000;
    private static readonly TimeSpan RememberFor = TimeSpan.FromMinutes(5);

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly ConcurrentDictionary<string, long> _remembered = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task<Check>> _running = new(StringComparer.Ordinal);

    /// <summary>The outcome of one shared verification.</summary>
    public enum Check
    {
        Matched,
        Wrong,

        /// <summary>The request that started it was throttled (or failed) before verifying: try again.</summary>
        NotChecked,
    }

    // Hash verification is CPU-bound and slow by design: at most this many at once, the rest wait asynchronously.
    // Never disposed: it holds no wait handle, and a request on an old snapshot may still be waiting on it.
    public SemaphoreSlim Slots { get; } = new(Math.Max(2, Environment.ProcessorCount), Math.Max(2, Environment.ProcessorCount));

    /// <summary>Binds user, password and the stored hash (<c>null</c> for an unknown user).</summary>
    public string KeyOf(string user, string password, string? hash) =>
        Convert.ToBase64String(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"{user}\0{password}\0{hash}")));

    public bool IsRemembered(string key) => _remembered.TryGetValue(key, out long until) && until > Environment.TickCount64;

    public void Remember(string key)
    {
        if (_remembered.Count >= MaxRemembered)
        {
            _remembered.Clear(); // crude but bounded; a full cache only costs re-verification
        }

        _remembered[key] = Environment.TickCount64 + (long)RememberFor.TotalMilliseconds;
    }

    /// <summary>
    /// The verification of these credentials that is running, or, when there is none, null and a new one registered
    /// under the key: the caller then runs it and must call <see cref="Finish"/> whatever happens.
    /// </summary>
    public Task<Check>? JoinOrStart(string key, out TaskCompletionSource<Check> started)
    {
        started = new TaskCompletionSource<Check>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<Check> running = _running.GetOrAdd(key, started.Task);
        return running == started.Task ? null : running;
    }

    /// <summary>Ends a verification begun by <see cref="JoinOrStart"/>: remembered first, so a newcomer finds one or the other.</summary>
    public void Finish(string key, TaskCompletionSource<Check> started, Check check)
    {
        if (check == Check.Matched)
        {
            Remember(key);
        }

        _running.TryRemove(new KeyValuePair<string, Task<Check>>(key, started.Task));
        started.SetResult(check);
    }

    /// <summary>Forgets expired successes (called periodically by the authenticator).</summary>
    public void Prune()
    {
        long now = Environment.TickCount64;
        foreach ((string key, long until) in _remembered)
        {
            if (until <= now)
            {
                _remembered.TryRemove(new KeyValuePair<string, long>(key, until));
            }
        }
    }
}
