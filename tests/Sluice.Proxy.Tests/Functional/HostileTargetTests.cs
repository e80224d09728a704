using System.Net;
using Sluice.Policy.Config;
using Sluice.Proxy.Tests.Infrastructure;

namespace Sluice.Proxy.Tests.Functional;

/// <summary>
/// Hostile request-targets and Host fields from a raw socket, where one authority parser reads them all: every one
/// gets a response head (never a dropped connection, a hang or a 500), and none is connected anywhere: the address
/// guard here refuses every address, so what the parser lets through ends at a 403 or a failed lookup.
/// </summary>
public sealed class HostileTargetTests
{
    private static Task<TestProxy> StartDenyingEverythingAsync() => TestProxy.StartAsync(c => c with
    {
        Addresses = new AddressesConfig { Deny = [IPNetwork.Parse("0.0.0.0/0"), IPNetwork.Parse("::/0")] },
    });

    public static TheoryData<string, int> Requests() => new()
    {
        // CONNECT targets.
        { "CONNECT [::1 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT [::1]]:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT []:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT :80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT host.test:80:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT host.test:-1 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT host.test:99999999999999999999 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT host.test:0x50 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT host.test:0 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT %00:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT a..b:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT [v1.x]:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT [::ffff:1.2.3.4.5]:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT [1::2::3]:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT [fe80::1%]:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT [fe80::1%25lo]:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT 127.0.0.1/32:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT 127.0.0.1%lo:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT 999.1.1.1:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT 0x100000000:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT 4294967296:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { $"CONNECT {new string('a', 64)}.test:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { $"CONNECT {string.Join('.', Enumerable.Repeat(new string('a', 60), 5))}:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT h\u00e9.test:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT h\u00c3\u00a9.test:80 HTTP/1.1\r\nHost: x\r\n", 400 }, // UTF-8 bytes of é, raw
        { "CONNECT http://host.test:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT alice:pw@host.test:80 HTTP/1.1\r\nHost: x\r\n", 400 },
        { "CONNECT 2130706433:80 HTTP/1.1\r\nHost: x\r\n", 403 },
        { "CONNECT [::ffff:127.0.0.1]:80 HTTP/1.1\r\nHost: x\r\n", 403 },
        { "CONNECT [64:ff9b::7f00:1]:80 HTTP/1.1\r\nHost: x\r\n", 403 },
        { "connect 127.0.0.1:80 HTTP/1.1\r\nHost: x\r\n", 400 },

        // Absolute-form targets.
        { "GET http:// HTTP/1.1\r\nHost: x\r\n", 400 },
        { "GET http:///path HTTP/1.1\r\nHost: x\r\n", 400 },
        { "GET http://:80/ HTTP/1.1\r\nHost: x\r\n", 400 },
        { "GET http://[::1/ HTTP/1.1\r\nHost: x\r\n", 400 },
        { "GET http://host.test:99999/ HTTP/1.1\r\nHost: x\r\n", 400 },
        { "GET http://host.test:-5/ HTTP/1.1\r\nHost: x\r\n", 400 },
        { "GET http://a@b@host.test/ HTTP/1.1\r\nHost: host.test\r\n", 400 },
        { "GET http://host.test\\@127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n", 400 },
        { "GET http://[v1.x]/ HTTP/1.1\r\nHost: [v1.x]\r\n", 400 },
        { "GET http://%31%32%37.0.0.1/ HTTP/1.1\r\nHost: x\r\n", 400 },
        { "GET http://[fe80::1%25lo]/ HTTP/1.1\r\nHost: x\r\n", 400 },
        { "GET gopher://host.test/ HTTP/1.1\r\nHost: host.test\r\n", 400 },
        { "GET ftp://host.test/ HTTP/1.1\r\nHost: host.test\r\n", 502 }, // the FTP gateway resolves it like any other name: unknown here
        { "GET ftp://host.test/a%0d%0aDELE%20b HTTP/1.1\r\nHost: host.test\r\n", 400 },
        { "GET ws://host.test/ HTTP/1.1\r\nHost: host.test\r\n", 400 },
        { "GET h\u00e9://host.test/ HTTP/1.1\r\nHost: host.test\r\n", 400 },
        { "GET http://127.1/ HTTP/1.1\r\nHost: 127.1\r\n", 403 },
        { "GET HTTP://[::FFFF:127.0.0.1]:8080/ HTTP/1.1\r\nHost: x\r\n", 403 },

        // Host fields beside a valid absolute-form target.
        { "GET http://127.0.0.1/ HTTP/1.1\r\nHost: [::1\r\n", 400 },
        { "GET http://127.0.0.1/ HTTP/1.1\r\nHost: a b\r\n", 400 },
        { "GET http://127.0.0.1/ HTTP/1.1\r\nHost: [fe80::1%25lo]\r\n", 400 },
        { "GET http://127.0.0.1/ HTTP/1.1\r\nHost: x:999999\r\n", 400 },
        { "GET http://127.0.0.1/ HTTP/1.1\r\nHost: u@x\r\n", 400 },
        { "GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\nHost: y\r\n", 400 },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Every_hostile_target_gets_its_documented_status(string head, int expected)
    {
        await using TestProxy proxy = await StartDenyingEverythingAsync();
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync(head + "\r\n");

        string response = await client.ReadHeadAsync();

        int status = int.Parse(response.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(status == expected, $"{head.Split('\r')[0]} -> {response.Split('\r')[0]}, expected {expected}");
    }

    [Theory]
    [InlineData("GET http://alice:s3cret-pw@o.test/ HTTP/1.1\r\nHost: o.test\r\n")]
    [InlineData("GET ftp://alice:s3cret-pw@o.test/a%0d%0aDELE%20b HTTP/1.1\r\nHost: o.test\r\n")]
    [InlineData("GET http://alice:s3cret-pw\\@o.test/ HTTP/1.1\r\nHost: o.test\r\n")]
    [InlineData("CONNECT alice:s3cret-pw@o.test:443 HTTP/1.1\r\nHost: o.test\r\n")]
    public async Task A_password_in_a_refused_target_is_in_neither_the_answer_nor_the_access_log(string head)
    {
        await using TestProxy proxy = await TestProxy.StartAsync();
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync(head + "\r\n");

        string answer = System.Text.Encoding.Latin1.GetString(await client.ReadToEndAsync());
        string line = await proxy.AccessLog.WaitForAsync(l => l.Contains("o.test", StringComparison.Ordinal), "for the refused request");

        Assert.StartsWith("HTTP/1.1 400", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_ipv4_mapped_destination_is_connected_to_as_the_ipv4_address_the_guard_checked()
    {
        // [::ffff:127.0.0.1] was checked as 127.0.0.1 and then dialled on an IPv6 socket, which IPv6-only sockets
        // cannot do: a 502 for a destination the policy and the guard had both allowed.
        await using TestOrigin origin = await TestOrigin.StartAsync();
        await using TestProxy proxy = await TestProxy.StartAsync();
        using RawClient client = await RawClient.ConnectAsync(proxy.Endpoint);
        await client.SendAsync($"CONNECT [::ffff:127.0.0.1]:{origin.Port} HTTP/1.1\r\nHost: [::ffff:127.0.0.1]:{origin.Port}\r\n\r\n");

        string response = await client.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 200", response, StringComparison.Ordinal);
    }
}
