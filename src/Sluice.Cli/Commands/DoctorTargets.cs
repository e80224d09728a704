using Sluice.Client.Diagnostics;
using Sluice.Policy.Config;
using Sluice.Policy.Rules;

namespace Sluice.Cli.Commands;

/// <summary>Where doctor's targets come from: arguments, a file with one per line, or the allow rules of a policy.</summary>
internal static class DoctorTargets
{
    public const int DefaultPort = 443;

    /// <summary>Targets from a file: one per line; blank lines and everything after '#' ignored.</summary>
    public static bool TryReadFile(string path, List<ProbeTarget> targets, out string problem)
    {
        problem = "";
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"--targets {path}: {e.Message}";
            return false;
        }

        for (int i = 0; i < lines.Length; i++)
        {
            int hash = lines[i].IndexOf('#', StringComparison.Ordinal);
            string text = (hash < 0 ? lines[i] : lines[i][..hash]).Trim();
            if (text.Length == 0)
            {
                continue;
            }

            if (!ProbeTarget.TryParse(text, out ProbeTarget? target, out problem))
            {
                problem = $"{path}:{i + 1}: {problem}";
                return false;
            }

            targets.Add(target!);
        }

        return true;
    }

    /// <summary>
    /// The exact host names the allow rules let through, each on the ports the entry or its rule names (443 when none,
    /// or when a range includes it). Wildcards, address patterns and port ranges cannot be probed as such: each is
    /// skipped with a note.
    /// </summary>
    public static bool TryFromPolicy(string path, List<ProbeTarget> targets, List<string> notes, out SluiceConfig config, out string problem)
    {
        problem = "";
        config = null!;
        try
        {
            config = ConfigLoader.LoadFile(path);
        }
        catch (ConfigException e)
        {
            problem = e.Message;
            return false;
        }

        foreach (Rule rule in config.Rules.Where(r => r.Action == RuleAction.Allow))
        {
            if (rule.Destinations.IsEmpty)
            {
                notes.Add($"rule {rule.Name} (line {rule.Line}) allows any destination: nothing specific to check");
                continue;
            }

            foreach (DestinationPattern destination in rule.Destinations)
            {
                if (destination.Kind != PatternKind.ExactName)
                {
                    string what = destination.Kind == PatternKind.Address ? "an address pattern" : "a wildcard pattern";
                    notes.Add($"rule {rule.Name}: skipped {destination.Text}, {what}: pass a host it covers as a TARGET to check one");
                    continue;
                }

                foreach (int port in Ports(rule, destination, notes))
                {
                    targets.Add(new ProbeTarget(destination.Name, port, port != 80));
                }
            }
        }

        return true;
    }

    private static IEnumerable<int> Ports(Rule rule, DestinationPattern destination, List<string> notes)
    {
        if (destination.Port is { } port)
        {
            return rule.Ports.IsEmpty || rule.Ports.Any(r => r.Contains(port)) ? [port] : [];
        }

        if (rule.Ports.IsEmpty)
        {
            return [DefaultPort];
        }

        var ports = new List<int>();
        foreach (PortRange range in rule.Ports)
        {
            if (range.First == range.Last)
            {
                ports.Add(range.First);
            }
            else if (range.Contains(DefaultPort))
            {
                ports.Add(DefaultPort);
            }
            else
            {
                notes.Add($"rule {rule.Name}: {destination.Text} ports {range}: a range, not checked (pass {destination.Name}:PORT as a TARGET)");
            }
        }

        return ports;
    }
}
