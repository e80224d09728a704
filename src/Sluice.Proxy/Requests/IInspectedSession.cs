using Sluice.Proxy.Transport;

namespace Sluice.Proxy.Requests;

/// <summary>
/// Runs the requests of an inspected tunnel over the client's TLS connection: the session loop, reached through this
/// interface (the session itself) rather than a delegate, which would be one more object per tunnel for its life.
/// </summary>
internal interface IInspectedSession
{
    Task RunInsideAsync(Connection inside, InspectedTunnel tunnel);
}
