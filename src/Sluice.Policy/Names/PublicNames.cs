namespace Sluice.Policy.Names;

// HostNames.cs and HostPort.cs are compiled into Sluice.Client as well, where they stay internal: the client library
// depends on no other Sluice project, and a public copy there would clash with these wherever both are referenced.
// Only this project compiles this file, which makes them public API here.
public static partial class HostNames;

public readonly partial record struct HostPort;

public readonly partial record struct UriTarget;
