namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>A configuration with a TLS listener (client CA, passphrase from the environment), a port below 1024 and users, in a folder of its own.</summary>
internal sealed class TlsAndUsersConfig : IDisposable
{
    public TlsAndUsersConfig()
    {
        foreach (string name in new[] { "proxy.crt", "proxy.key", "clients-ca.crt", "users.htpasswd", "groups" })
        {
            File.WriteAllText(System.IO.Path.Combine(Dir, name), "SECRET-CONTENT-" + name);
        }

        File.WriteAllText(Path, """
            name: corp-egress
            listeners:
              - address: 0.0.0.0:3129
                tls: { certificate: proxy.crt, key: proxy.key, clientCa: clients-ca.crt, keyPassphraseEnv: KEY_PASS }
              - address: 0.0.0.0:80
            auth:
              basic: { realm: egress, usersFile: users.htpasswd, groupsFile: groups }
            rules:
              - { name: web, action: allow, ports: [443] }
            log: { access: /var/log/egress/access.log }
            """);
    }

    public string Dir { get; } = Directory.CreateTempSubdirectory("sluice-k8s-").FullName;

    public string Path => System.IO.Path.Combine(Dir, "tls.yaml");

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}
