using System.Security.Cryptography;
using System.Text;

namespace Sluice.Proxy.Tests.Infrastructure;

/// <summary>
/// An htpasswd file for Squid's basic_ncsa_auth, with Apache's "$apr1$" MD5-crypt hashes computed here (no
/// htpasswd or openssl run by the tests).
/// </summary>
public static class Htpasswd
{
    private const string Magic = "$apr1$";
    private const string Alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static void Write(string path, IEnumerable<(string User, string Password)> users) =>
        ParentProcess.WriteReadable(path, string.Concat(users.Select(u => $"{u.User}:{Apr1(u.Password)}\n")));

    /// <summary>The "$apr1$salt$hash" of <paramref name="password"/>, with a random 8-character salt unless given one.</summary>
    public static string Apr1(string password, string? salt = null)
    {
        salt ??= RandomNumberGenerator.GetString(Alphabet, 8);
        byte[] pw = Encoding.UTF8.GetBytes(password);
        byte[] s = Encoding.ASCII.GetBytes(salt.Length > 8 ? salt[..8] : salt);
        byte[] magic = Encoding.ASCII.GetBytes(Magic);

        byte[] alternate = Md5([.. pw, .. s, .. pw]);
        var context = new List<byte>(pw.Length * 3 + 32);
        context.AddRange(pw);
        context.AddRange(magic);
        context.AddRange(s);
        for (int left = pw.Length; left > 0; left -= 16)
        {
            context.AddRange(alternate.AsSpan(0, Math.Min(16, left)));
        }

        for (int i = pw.Length; i != 0; i >>= 1)
        {
            context.Add((i & 1) != 0 ? (byte)0 : (pw.Length > 0 ? pw[0] : (byte)0));
        }

        byte[] final = Md5([.. context]);
        for (int i = 0; i < 1000; i++)
        {
            var round = new List<byte>(pw.Length * 2 + 32);
            round.AddRange((i & 1) != 0 ? pw : final);
            if (i % 3 != 0)
            {
                round.AddRange(s);
            }

            if (i % 7 != 0)
            {
                round.AddRange(pw);
            }

            round.AddRange((i & 1) != 0 ? final : pw);
            final = Md5([.. round]);
        }

        var hash = new StringBuilder(Magic).Append(Encoding.ASCII.GetString(s)).Append('$');
        To64(hash, (final[0] << 16) | (final[6] << 8) | final[12], 4);
        To64(hash, (final[1] << 16) | (final[7] << 8) | final[13], 4);
        To64(hash, (final[2] << 16) | (final[8] << 8) | final[14], 4);
        To64(hash, (final[3] << 16) | (final[9] << 8) | final[15], 4);
        To64(hash, (final[4] << 16) | (final[10] << 8) | final[5], 4);
        To64(hash, final[11], 2);
        return hash.ToString();
    }

#pragma warning disable CA5351 // MD5 is what the $apr1$ format is made of; this hashes test passwords for a test daemon
    private static byte[] Md5(byte[] data) => MD5.HashData(data);
#pragma warning restore CA5351

    private static void To64(StringBuilder into, int value, int count)
    {
        for (; count > 0; count--)
        {
            into.Append(Alphabet[value & 0x3f]);
            value >>= 6;
        }
    }
}
