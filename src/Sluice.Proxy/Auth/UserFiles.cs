using Sluice.Proxy.Files;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Auth;

/// <summary>
/// The users and groups files of an <c>auth.basic</c> configuration: loaded when created (so a bad file refuses the
/// configuration), then looked at again at most once a second. A new version that does not load is logged and the
/// previous users stay. Shared by successive authenticators as long as the paths stay the same.
/// </summary>
internal sealed class UserFiles
{
    private static readonly TimeSpan RecheckEvery = TimeSpan.FromSeconds(1);

    private readonly string _usersFile;
    private readonly string? _groupsFile;
    private readonly Action<string> _warn;
    private readonly object _checking = new();
    private volatile UserDirectory _directory;
    private (FileStamp Users, FileStamp Groups) _stamps;
    private long _nextCheck;

    /// <exception cref="UsersFileException">The files cannot be used.</exception>
    public UserFiles(BasicAuthConfig config, Action<string> warn)
    {
        _usersFile = config.UsersFile;
        _groupsFile = config.GroupsFile;
        _warn = warn;
        _stamps = Stamps();
        _directory = UserDirectory.Load(_usersFile, _groupsFile);
        _nextCheck = Environment.TickCount64 + (long)RecheckEvery.TotalMilliseconds;
    }

    public bool AreFor(BasicAuthConfig config) => config.UsersFile == _usersFile && config.GroupsFile == _groupsFile;

    /// <summary>The users as the files say now (checked at most once a second; a check never waits for another).</summary>
    public UserDirectory Current()
    {
        long now = Environment.TickCount64;
        if (now >= Interlocked.Read(ref _nextCheck) && Monitor.TryEnter(_checking))
        {
            try
            {
                if (now >= Interlocked.Read(ref _nextCheck))
                {
                    Interlocked.Exchange(ref _nextCheck, now + (long)RecheckEvery.TotalMilliseconds);
                    ReloadIfChanged();
                }
            }
            finally
            {
                Monitor.Exit(_checking);
            }
        }

        return _directory;
    }

    private void ReloadIfChanged()
    {
        (FileStamp, FileStamp) stamps = Stamps();
        if (stamps == _stamps)
        {
            return;
        }

        _stamps = stamps;
        try
        {
            _directory = UserDirectory.Load(_usersFile, _groupsFile);
        }
        catch (UsersFileException e)
        {
            _warn($"users file changed but was not loaded, keeping the previous users: {e.Message}");
        }
    }

    private (FileStamp, FileStamp) Stamps() =>
        (FileStamp.Of(_usersFile), FileStamp.Of(_groupsFile));
}
