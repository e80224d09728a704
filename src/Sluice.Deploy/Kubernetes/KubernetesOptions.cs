namespace Sluice.Deploy.Kubernetes;

/// <summary>How to deploy one configuration: where, how many, which image, and which pods are its clients.</summary>
/// <param name="ClientsSelector">Labels of the client pods whose egress the NetworkPolicy locks to the proxy.</param>
/// <param name="Istio">Also render an Istio ServiceEntry for the proxy's Service.</param>
public sealed record KubernetesOptions(string Namespace, int Replicas, string Image, bool Istio, IReadOnlyDictionary<string, string> ClientsSelector);
