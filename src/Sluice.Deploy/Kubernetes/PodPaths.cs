namespace Sluice.Deploy.Kubernetes;

/// <summary>Where the pod finds its files, and who it runs as.</summary>
public static class PodPaths
{
    public const string ConfigDir = "/etc/sluice/config";
    public const string ConfigFile = "sluice.yaml";
    public const string AuthDir = "/etc/sluice/auth";
    public const string InspectionDir = "/etc/sluice/inspection";
    public const string LogDir = "/var/log/sluice";

    /// <summary>The "app" user of the .NET runtime images (deploy/Dockerfile).</summary>
    public const int RunAsUser = 1654;
}
