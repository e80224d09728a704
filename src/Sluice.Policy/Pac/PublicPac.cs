namespace Sluice.Policy.Pac;

// PacScript.cs is compiled into Sluice.Client as well, where it stays internal (as HostNames.cs and HostPort.cs do):
// the client library depends on no other Sluice project. Only this project compiles this file, which makes the
// generator public API here, for the proxy's /proxy.pac.
public static partial class PacScript;

public readonly partial record struct PacEntry;
