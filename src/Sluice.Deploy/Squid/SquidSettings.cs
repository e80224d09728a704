using System.Globalization;
using Sluice.Policy.Config;

namespace Sluice.Deploy.Squid;

/// <summary>The directives besides ports, acls and http_access that have a Sluice equivalent; the last line wins.</summary>
internal sealed record SquidSettings
{
    public string? Name { get; init; }

    public TimeSpan? ConnectTimeout { get; init; }

    public TimeSpan? IdleTimeout { get; init; }

    public string? AccessLog { get; init; }

    public string? UsersFile { get; init; }

    /// <summary>The line of the <c>auth_param basic program</c> that named <see cref="UsersFile"/>.</summary>
    public int UsersLine { get; init; }

    public string? Realm { get; init; }

    private static readonly Dictionary<string, string> NoEquivalent = new(StringComparer.Ordinal)
    {
        ["cache_dir"] = "Sluice does not cache",
        ["cache_mem"] = "Sluice does not cache",
        ["cache"] = "Sluice does not cache",
        ["refresh_pattern"] = "Sluice does not cache",
        ["maximum_object_size"] = "Sluice does not cache",
        ["maximum_object_size_in_memory"] = "Sluice does not cache",
        ["minimum_object_size"] = "Sluice does not cache",
        ["cache_replacement_policy"] = "Sluice does not cache",
        ["memory_replacement_policy"] = "Sluice does not cache",
        ["cache_swap_low"] = "Sluice does not cache",
        ["cache_swap_high"] = "Sluice does not cache",
        ["coredump_dir"] = "a process setting of Squid; Sluice writes no core files of its own",
        ["pid_filename"] = "Sluice writes no pid file (run it under systemd or Kubernetes)",
        ["cache_effective_user"] = "run Sluice as an unprivileged user through systemd (DynamicUser) or Kubernetes instead",
        ["cache_effective_group"] = "run Sluice as an unprivileged user through systemd (DynamicUser) or Kubernetes instead",
        ["logfile_rotate"] = "Sluice appends to its access log; rotate with logrotate (copytruncate) or log to stdout",
        ["cache_log"] = "Sluice writes its operational messages to standard error",
        ["cache_store_log"] = "Sluice does not cache",
        ["dns_nameservers"] = "Sluice uses the system resolver",
        ["cache_peer_domain"] = "removed in Squid 4: write cache_peer_access PEER allow DSTDOMAIN-ACL, which translates",
        ["include"] = "the files it names are not read; convert them separately and merge their lines by hand, in order",
    };

    public static SquidSettings Translate(IEnumerable<SquidDirective> directives, SquidNotes notes)
    {
        var settings = new SquidSettings();
        foreach (SquidDirective directive in directives)
        {
            settings = settings.With(directive, notes);
        }

        return settings;
    }

    private SquidSettings With(SquidDirective directive, SquidNotes notes)
    {
        (int line, string name, IReadOnlyList<string> args) = (directive.Line, directive.Name, directive.Arguments);
        switch (name)
        {
            case "auth_param":
                return WithAuthParam(line, args, notes);
            case "connect_timeout" or "read_timeout" when TryDuration(args, out TimeSpan duration):
                if (name == "connect_timeout")
                {
                    return this with { ConnectTimeout = duration };
                }

                notes.Remark(line, name, $"becomes timeouts.idle {Durations.Format(duration)}: Sluice ends a tunnel or exchange after that long without a byte in either direction");
                return this with { IdleTimeout = duration };
            case "connect_timeout" or "read_timeout":
                notes.Untranslated(line, name, $"'{string.Join(' ', args)}' is not a duration Sluice can write (N seconds|minutes|hours|days)");
                return this;
            case "access_log":
                return WithAccessLog(line, args, notes);
            case "visible_hostname" when args.Count == 1 && ConfigLoader.IsValidName(args[0]):
                return this with { Name = args[0] };
            case "visible_hostname":
                notes.Untranslated(line, name, "not a name Sluice accepts (letters, digits, '.', '-', '_')");
                return this;
            default:
                notes.Untranslated(line, name, NoEquivalent.TryGetValue(name, out string? why) ? why : "no Sluice equivalent");
                return this;
        }
    }

    private SquidSettings WithAuthParam(int line, IReadOnlyList<string> args, SquidNotes notes)
    {
        if (args.Count < 2 || args[0] != "basic")
        {
            notes.Untranslated(line, "auth_param", $"scheme '{(args.Count > 0 ? args[0] : "")}': Sluice supports Basic authentication only");
            return this;
        }

        switch (args[1])
        {
            case "program":
                string helper = args.Count > 2 ? Path.GetFileName(args[2]) : "";
                if (helper == "basic_ncsa_auth" && args.Count == 4)
                {
                    notes.Remark(line, "auth_param", $"basic_ncsa_auth's file becomes auth.basic.usersFile {args[3]}: Sluice accepts bcrypt and SHA-crypt hashes only (re-create DES, MD5 or SHA1 entries with `sluice passwd`)");
                    return this with { UsersFile = args[3], UsersLine = line };
                }

                notes.Untranslated(line, "auth_param", $"helper '{helper}': Sluice checks an htpasswd file itself (basic_ncsa_auth FILE is what translates)");
                return this;
            case "realm":
                return this with { Realm = string.Join(' ', args.Skip(2)) };
            default:
                notes.Untranslated(line, "auth_param", $"basic {args[1]}: Sluice has no helper processes to tune; it caches successful checks for 5 minutes itself");
                return this;
        }
    }

    private SquidSettings WithAccessLog(int line, IReadOnlyList<string> args, SquidNotes notes)
    {
        string target = args.Count > 0 ? args[0] : "";
        if (target == "none")
        {
            return this with { AccessLog = "off" };
        }

        string path = target.StartsWith("stdio:", StringComparison.Ordinal) ? target[6..]
            : target.StartsWith("daemon:", StringComparison.Ordinal) ? target[7..]
            : target.StartsWith('/') ? target : "";
        if (path.Length == 0)
        {
            notes.Untranslated(line, "access_log", $"'{target}': only files (stdio:, daemon: or a path) and none translate");
            return this;
        }

        if (args.Count > 1 && !(args.Count == 2 && args[1] == "squid"))
        {
            notes.Untranslated(line, "access_log", "log formats and acls on the log line: Sluice writes Squid's native format (or JSON with log.format)");
        }

        return this with { AccessLog = path };
    }

    /// <summary>
    /// Squid's <c>N [unit]</c> (seconds when no unit is given): whole milliseconds below a second, whole seconds
    /// above. False for what is not positive or does not fit a Sluice duration.
    /// </summary>
    private static bool TryDuration(IReadOnlyList<string> words, out TimeSpan duration)
    {
        duration = default;
        if (words.Count is < 1 or > 2 || !double.TryParse(words[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || n <= 0)
        {
            return false;
        }

        string unit = words.Count == 2 ? words[1].ToLowerInvariant().TrimEnd('s') : "second";
        double seconds = unit switch
        {
            "second" or "sec" => n,
            "minute" or "min" => n * 60,
            "hour" => n * 3600,
            "day" => n * 86400,
            "week" => n * 604800,
            "millisecond" or "msec" => n / 1000,
            _ => -1,
        };
        if (!(seconds > 0) || seconds >= TimeSpan.MaxValue.TotalSeconds)
        {
            return false;
        }

        duration = seconds < 1 ? TimeSpan.FromMilliseconds(Math.Round(seconds * 1000)) : TimeSpan.FromSeconds(Math.Round(seconds));
        return true;
    }
}
