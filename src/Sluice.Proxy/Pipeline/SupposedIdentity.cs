using System.Net;
using System.Text;
using Sluice.Policy.Config;
using Sluice.Proxy.Auth;

namespace Sluice.Proxy.Pipeline;

/// <summary>
/// What the proxy's Basic authentication would find for a user named outside a request (<c>sluice explain --user</c>,
/// <c>sluice doctor --from-policy</c>), to hand to <see cref="RequestPipeline.Decide"/>: the user's groups from the
/// users files, or the verdict of the proxy's own authenticator on a password when one is given.
/// </summary>
public static class SupposedIdentity
{
    /// <returns>Null when <c>auth.basic</c> is not configured (then a user name is a client certificate's, with no groups).</returns>
    /// <param name="password">Checked when given; when null, the user is taken to have sent the right one.</param>
    /// <param name="note">Told when the users file cannot be read here (a config written for another machine).</param>
    public static async Task<AuthResult?> FindAsync(SluiceConfig config, string? user, string? password, IPAddress client, Action<string> note)
    {
        if (config.Auth is not { } auth)
        {
            return null;
        }

        if (user is null)
        {
            return AuthResult.Anonymous;
        }

        BasicAuthenticator authenticator;
        try
        {
            authenticator = new BasicAuthenticator(auth.Basic, note);
        }
        catch (Exception e) when (e is UsersFileException or IOException or UnauthorizedAccessException)
        {
            note($"note: {e.Message}; taking {user} as authenticated, with no groups");
            return new AuthResult(AuthOutcome.Authenticated, user, []);
        }

        using (authenticator)
        {
            if (password is null)
            {
                return authenticator.Assume(user);
            }

            string credentials = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));
            return await authenticator.AuthenticateAsync($"Basic {credentials}", client).ConfigureAwait(false);
        }
    }
}
