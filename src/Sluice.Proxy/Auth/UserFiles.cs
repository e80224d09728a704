using Sluice.Proxy.Files;
using Sluice.Policy.Config;

namespace Sluice.Proxy.Auth;

/// <summary>
/// The users and groups files of an <c>auth.basic</c> configuration: loaded when created (so a bad file refuses the
/// configuration), then looked at again at most once a second. A new version that does not load is logged and the
/// previous users stay. Shared by successive authenticators as long as the paths stay the same.
/// </summary>
/// <remarks>
/// The check (a stat, and after a change the read and parse) is a <see cref="BackgroundCheck"/>, never on the
/// request's thread: the request that starts a check is answered with the users known until then.
/// </remarks>
internal sealed class UserFiles
{
    private readonly string _usersFile;
    private readonly string? _groupsFile;
    private readonly Action<string> _warn;
    private readonly BackgroundCheck _checks;
    private volatile UserDirectory _directory;
    private (FileStamp Users, FileStamp Groups) _stamps;

    /// <exception cref="UsersFileException">The files cannot be used.</exception>
    public UserFiles(BasicAuthConfig config, Action<string> warn)
    {
        _usersFile = config.UsersFile;
        _groupsFile = config.GroupsFile;
        _warn = warn;
        _stamps = Stamps();
        _directory = UserDirectory.Load(_usersFile, _groupsFile);
        _checks = new BackgroundCheck(Check);
    }

    public bool AreFor(BasicAuthConfig config) => config.UsersFile == _usersFile && config.GroupsFile == _groupsFile;

    /// <summary>The users as last read (a check of the files starts at most once a second, one at a time).</summary>
    public UserDirectory Current()
    {
        _checks.StartIfDue();
        return _directory;
    }

    private void Check()
    {
        try
        {
            ReloadIfChanged();
        }
        catch (Exception e)
        {
            // On the thread pool nothing else would catch it: a check that fails keeps the users and says why.
            _warn($"users file could not be checked, keeping the previous users: {e.Message}");
        }
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
