using System.Collections.Immutable;
using Sluice.Policy.Names;

namespace Sluice.Policy.Config;

/// <summary>How an upstream picks which of its proxies a request tries first.</summary>
public enum Balance
{
    /// <summary>In the configured order; the next one only when the one before cannot be reached.</summary>
    Failover,

    /// <summary>Each request starts at the next proxy in turn.</summary>
    RoundRobin,

    /// <summary>A destination always starts at the same proxy (rendezvous hashing of host:port), so its sessions stay together.</summary>
    HashDestination,
}

/// <summary>Whether Sluice resolves and checks a destination itself before sending it to an upstream (see <see cref="UpstreamConfig.CheckDestinations"/>).</summary>
public enum DestinationCheck
{
    /// <summary>Resolved here and every address checked by the address guard; a name that does not resolve here goes up for the parent to resolve.</summary>
    Local,

    /// <summary>Names go up unresolved: the parent's DNS and its own guard are trusted. IP literals are still checked here.</summary>
    Parent,
}

/// <summary>One parent proxy of an upstream: <c>http://host:port</c>, or <c>https://host:port</c> for TLS to the proxy.</summary>
public sealed record ParentProxyAddress(string Scheme, HostPort Address)
{
    public bool Tls => Scheme == "https";

    /// <summary><c>host:port</c>: how logs, metrics and Proxy-Status's next-hop name this proxy.</summary>
    public string Endpoint => Address.ToString();

    public override string ToString() => $"{Scheme}://{Address}";
}

/// <summary><c>upstreams[]</c>: a named group of parent proxies that rules send requests through with <c>via:</c>.</summary>
public sealed record UpstreamConfig
{
    /// <summary>The config-name rule (<see cref="ConfigLoader.IsValidName"/>); never <c>direct</c>, which names the direct route.</summary>
    public required string Name { get; init; }

    public required ImmutableArray<ParentProxyAddress> Proxies { get; init; }

    public Balance Balance { get; init; } = Balance.Failover;

    /// <summary>The credentials Sluice sends to these proxies (Basic); null when they ask for none.</summary>
    public UpstreamCredentials? Credentials { get; init; }

    /// <summary>PEM bundle trusted for <c>https://</c> proxies instead of the system roots; an absolute path.</summary>
    public string? Ca { get; init; }

    /// <summary>The address guard for names sent up: <see cref="DestinationCheck.Local"/> unless the file says otherwise.</summary>
    public DestinationCheck CheckDestinations { get; init; } = DestinationCheck.Local;

    /// <summary>Line in the config file, for messages.</summary>
    public long Line { get; init; }
}

/// <summary>
/// Where the user name and password for an upstream come from. The values are never part of the configuration: a
/// snapshot, its <c>ToString</c>, <c>explain</c>, the status page and <c>sluice k8s</c> only ever see where they live.
/// </summary>
public sealed record UpstreamCredentials(SecretSource User, SecretSource Password)
{
    /// <summary>The user name as <see cref="SecretSource.Read"/> reads it, refused when it holds ':' (RFC 7617 §2: the parent would read another user).</summary>
    /// <exception cref="ConfigException">It cannot be read, or it holds ':'.</exception>
    public string ReadUser()
    {
        string user = User.Read();
        return user.Contains(':') ? throw User.Refuse("a user name for Basic authentication cannot contain ':'") : user;
    }
}

/// <summary>How a secret is given: written in the file (a user name only), an environment variable, or a file.</summary>
public enum SecretKind
{
    Literal,
    Environment,
    File,
}

/// <summary>
/// A value read when the proxy builds a snapshot, not when the file is parsed, so a rotated Secret mount or a changed
/// environment takes effect at the next reload. Remembers its place in the file for the error when it cannot be read.
/// </summary>
public sealed record SecretSource(SecretKind Kind, string Name, string Key, string ConfigSource, long Line, long Column)
{
    /// <summary>Where the value lives, in words, without the value: "the environment variable CORP_PROXY_USER".</summary>
    public string Describe() => Kind switch
    {
        SecretKind.Environment => $"the environment variable {Name}",
        SecretKind.File => $"the file {Name}",
        _ => "the configuration file",
    };

    /// <summary>The longest secret read: a file longer than this on its first line is not a password file.</summary>
    public const int MaxLength = 4096;

    /// <summary>
    /// The value: the file's first line (its line end, LF or CRLF, is not part of a password) or the variable's value.
    /// A value with a control character (CR, LF, NUL, TAB, ESC, DEL...) is refused: RFC 7617 §2 does not allow them in
    /// a user name or password, and a stray one (a variable set with its line end) would be sent as part of it.
    /// </summary>
    /// <exception cref="ConfigException">The variable is unset or empty, or the file cannot be read or is empty; the value has a control character or is too long.</exception>
    public string Read()
    {
        string? value;
        switch (Kind)
        {
            case SecretKind.Literal:
                return Name;
            case SecretKind.Environment:
                value = Environment.GetEnvironmentVariable(Name);
                if (string.IsNullOrEmpty(value))
                {
                    throw Refuse($"the environment variable {Name} is {(value is null ? "not set" : "empty")}");
                }

                return Checked(value, $"the environment variable {Name}");
            default:
                try
                {
                    value = FirstLine(Name);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw Refuse($"cannot read {Name}: {e.Message}");
                }

                return string.IsNullOrEmpty(value) ? throw Refuse($"{Name} is empty") : Checked(value, Name);
        }
    }

    // Up to the first LF (one CR before it is the CRLF line end), reading at most MaxLength characters: a file that
    // is one endless line (/dev/zero, a mistaken path) is refused rather than read into memory.
    private string? FirstLine(string path)
    {
        using var reader = new StreamReader(path); // a UTF-8 byte order mark is skipped
        var buffer = new char[MaxLength + 2];
        int read = 0;
        int n;
        while (read < buffer.Length && (n = reader.Read(buffer, read, buffer.Length - read)) > 0)
        {
            int lf = Array.IndexOf(buffer, '\n', read, n);
            read += n;
            if (lf >= 0)
            {
                read = lf;
                break;
            }
        }

        if (read > 0 && buffer[read - 1] == '\r')
        {
            read--;
        }

        return read > MaxLength ? throw Refuse($"{path}: the first line is longer than {MaxLength} characters; it holds no password") : new string(buffer, 0, read);
    }

    private string Checked(string value, string where)
    {
        if (value.Length > MaxLength)
        {
            throw Refuse($"{where} is longer than {MaxLength} characters");
        }

        int control = value.AsSpan().IndexOfAnyInRange('\0', '\u001f');
        if (control < 0)
        {
            control = value.AsSpan().IndexOfAnyInRange('\u007f', '\u009f');
        }

        // Where, not what: the message never shows the value, only which character is wrong.
        return control < 0 ? value
            : throw Refuse($"{where} holds a control character (U+{(int)value[control]:X4}), which a Basic user name or password cannot carry; remove it (a line end in a variable, a NUL in a file)");
    }

    /// <summary>A problem with this value, at its place in the file: <c>file:line:col: key: problem</c>.</summary>
    internal ConfigException Refuse(string problem) => new(ConfigSource, Line, Column, $"{Key}: {problem}");
}

/// <summary><c>route:</c> where allowed requests go when their rule does not say (<c>via:</c>).</summary>
public sealed record RouteConfig
{
    /// <summary>The name of the direct route.</summary>
    public const string Direct = "direct";

    /// <summary><see cref="Direct"/> or an upstream's name.</summary>
    public string Default { get; init; } = Direct;
}
