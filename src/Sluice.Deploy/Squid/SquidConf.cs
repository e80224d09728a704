namespace Sluice.Deploy.Squid;

/// <summary>
/// A squid.conf as <see cref="SquidReader"/> read it: the lines that matter to the translation, each with its line
/// number, in file order within each list. Nothing here is interpreted yet: acl types and values stay words.
/// </summary>
/// <param name="Ports">The <c>http_port</c> and <c>https_port</c> lines.</param>
/// <param name="Acls">The <c>acl</c> lines, values read from the files they name.</param>
/// <param name="Access">The <c>http_access</c> lines.</param>
/// <param name="Directives">Every other directive, as words.</param>
/// <param name="Problems">Lines too malformed to go in the lists above.</param>
public sealed record SquidConf(
    IReadOnlyList<SquidPort> Ports,
    IReadOnlyList<SquidAcl> Acls,
    IReadOnlyList<SquidAccess> Access,
    IReadOnlyList<SquidDirective> Directives,
    IReadOnlyList<SquidNote> Problems);

/// <summary>A directive line: its name and the words after it.</summary>
public sealed record SquidDirective(int Line, string Name, IReadOnlyList<string> Arguments);

/// <summary>
/// <c>http_port SPEC [OPTION...]</c> or <c>https_port ...</c>. <paramref name="Address"/> is the IP:port to listen
/// on (<c>[::]:PORT</c> for a bare port), null when the spec is not one; <paramref name="BarePort"/> is set when the
/// spec was a port alone.
/// </summary>
public sealed record SquidPort(int Line, string Directive, string Spec, string? Address, int? BarePort, IReadOnlyList<SquidOption> Options);

/// <summary>An option of a port line as written, and as <c>key=value</c> (<c>value</c> empty when there is no '=').</summary>
public sealed record SquidOption(string Text, string Key, string Value);

/// <summary>
/// <c>acl NAME TYPE VALUE...</c>: the values without Squid's flags (<c>-i</c>, <c>-n</c>, <c>--client-requested</c>...),
/// with the words of each <c>"file"</c> in their place. <paramref name="UnreadFile"/> names the first file that could
/// not be read; the values after it are not in the list.
/// </summary>
public sealed record SquidAcl(int Line, string Name, string Type, IReadOnlyList<string> Values, string? UnreadFile)
{
    /// <summary>The line has <c>-i</c>: Squid compares its values without regard to case (names always are; paths are not).</summary>
    public bool IgnoreCase { get; init; }
}

/// <summary><c>http_access allow|deny [!]ACL...</c>, with the line as written (words joined by one space).</summary>
public sealed record SquidAccess(int Line, bool Allow, IReadOnlyList<AclTerm> Terms, string Text);

/// <summary>One acl of an http_access line, <c>!name</c> being negated.</summary>
public readonly record struct AclTerm(string Acl, bool Negated);
