namespace Sluice.Deploy.Kubernetes;

/// <summary>A configuration that cannot be deployed as it is (a secret that would land in a ConfigMap...).</summary>
public sealed class KubernetesRenderException(string message) : Exception(message);
