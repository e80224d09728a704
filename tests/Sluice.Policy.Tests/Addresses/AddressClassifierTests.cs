using System.Net;
using System.Net.Sockets;
using Sluice.Policy.Addresses;

namespace Sluice.Policy.Tests.Addresses;

public sealed class AddressClassifierTests
{
    [Theory]
    [InlineData("0.0.0.0", AddressClass.Unspecified, "0.0.0.0/32", "0.0.0.0 itself is unspecified, not merely reserved")]
    [InlineData("0.255.255.255", AddressClass.Reserved, "0.0.0.0/8", "last of this-network 0.0.0.0/8")]
    [InlineData("0.0.0.1", AddressClass.Reserved, "0.0.0.0/8", "first of 0.0.0.0/8 after the unspecified address")]
    [InlineData("1.0.0.0", AddressClass.Public, "", "just above 0.0.0.0/8")]
    [InlineData("9.255.255.255", AddressClass.Public, "", "just below 10.0.0.0/8")]
    [InlineData("10.0.0.0", AddressClass.Private, "10.0.0.0/8", "first of 10.0.0.0/8")]
    [InlineData("10.255.255.255", AddressClass.Private, "10.0.0.0/8", "last of 10.0.0.0/8")]
    [InlineData("11.0.0.0", AddressClass.Public, "", "just above 10.0.0.0/8")]
    [InlineData("100.63.255.255", AddressClass.Public, "", "just below 100.64.0.0/10")]
    [InlineData("100.64.0.0", AddressClass.CarrierGradeNat, "100.64.0.0/10", "first of 100.64.0.0/10")]
    [InlineData("100.127.255.255", AddressClass.CarrierGradeNat, "100.64.0.0/10", "last of 100.64.0.0/10")]
    [InlineData("100.128.0.0", AddressClass.Public, "", "just above 100.64.0.0/10")]
    [InlineData("126.255.255.255", AddressClass.Public, "", "just below 127.0.0.0/8")]
    [InlineData("127.0.0.0", AddressClass.Loopback, "127.0.0.0/8", "first of 127.0.0.0/8")]
    [InlineData("127.255.255.255", AddressClass.Loopback, "127.0.0.0/8", "last of 127.0.0.0/8")]
    [InlineData("128.0.0.0", AddressClass.Public, "", "just above 127.0.0.0/8")]
    [InlineData("169.253.255.255", AddressClass.Public, "", "just below 169.254.0.0/16")]
    [InlineData("169.254.0.0", AddressClass.LinkLocal, "169.254.0.0/16", "first of 169.254.0.0/16")]
    [InlineData("169.254.255.255", AddressClass.LinkLocal, "169.254.0.0/16", "last of 169.254.0.0/16")]
    [InlineData("169.255.0.0", AddressClass.Public, "", "just above 169.254.0.0/16")]
    [InlineData("172.15.255.255", AddressClass.Public, "", "just below 172.16.0.0/12")]
    [InlineData("172.16.0.0", AddressClass.Private, "172.16.0.0/12", "first of 172.16.0.0/12")]
    [InlineData("172.31.255.255", AddressClass.Private, "172.16.0.0/12", "last of 172.16.0.0/12")]
    [InlineData("172.32.0.0", AddressClass.Public, "", "just above 172.16.0.0/12")]
    [InlineData("191.255.255.255", AddressClass.Public, "", "just below 192.0.0.0/24")]
    [InlineData("192.0.0.0", AddressClass.Reserved, "192.0.0.0/24", "first of 192.0.0.0/24")]
    [InlineData("192.0.0.255", AddressClass.Reserved, "192.0.0.0/24", "last of 192.0.0.0/24")]
    [InlineData("192.0.1.0", AddressClass.Public, "", "just above 192.0.0.0/24")]
    [InlineData("192.0.1.255", AddressClass.Public, "", "just below 192.0.2.0/24")]
    [InlineData("192.0.2.0", AddressClass.Reserved, "192.0.2.0/24", "first of 192.0.2.0/24")]
    [InlineData("192.0.2.255", AddressClass.Reserved, "192.0.2.0/24", "last of 192.0.2.0/24")]
    [InlineData("192.0.3.0", AddressClass.Public, "", "just above 192.0.2.0/24")]
    [InlineData("192.88.98.255", AddressClass.Public, "", "just below 192.88.99.0/24")]
    [InlineData("192.88.99.0", AddressClass.Reserved, "192.88.99.0/24", "first of 192.88.99.0/24")]
    [InlineData("192.88.99.255", AddressClass.Reserved, "192.88.99.0/24", "last of 192.88.99.0/24")]
    [InlineData("192.88.100.0", AddressClass.Public, "", "just above 192.88.99.0/24")]
    [InlineData("192.167.255.255", AddressClass.Public, "", "just below 192.168.0.0/16")]
    [InlineData("192.168.0.0", AddressClass.Private, "192.168.0.0/16", "first of 192.168.0.0/16")]
    [InlineData("192.168.255.255", AddressClass.Private, "192.168.0.0/16", "last of 192.168.0.0/16")]
    [InlineData("192.169.0.0", AddressClass.Public, "", "just above 192.168.0.0/16")]
    [InlineData("198.17.255.255", AddressClass.Public, "", "just below 198.18.0.0/15")]
    [InlineData("198.18.0.0", AddressClass.Reserved, "198.18.0.0/15", "first of 198.18.0.0/15")]
    [InlineData("198.19.255.255", AddressClass.Reserved, "198.18.0.0/15", "last of 198.18.0.0/15")]
    [InlineData("198.20.0.0", AddressClass.Public, "", "just above 198.18.0.0/15")]
    [InlineData("198.51.99.255", AddressClass.Public, "", "just below 198.51.100.0/24")]
    [InlineData("198.51.100.0", AddressClass.Reserved, "198.51.100.0/24", "first of 198.51.100.0/24")]
    [InlineData("198.51.100.255", AddressClass.Reserved, "198.51.100.0/24", "last of 198.51.100.0/24")]
    [InlineData("198.51.101.0", AddressClass.Public, "", "just above 198.51.100.0/24")]
    [InlineData("203.0.112.255", AddressClass.Public, "", "just below 203.0.113.0/24")]
    [InlineData("203.0.113.0", AddressClass.Reserved, "203.0.113.0/24", "first of 203.0.113.0/24")]
    [InlineData("203.0.113.255", AddressClass.Reserved, "203.0.113.0/24", "last of 203.0.113.0/24")]
    [InlineData("203.0.114.0", AddressClass.Public, "", "just above 203.0.113.0/24")]
    [InlineData("223.255.255.255", AddressClass.Public, "", "just below 224.0.0.0/4")]
    [InlineData("224.0.0.0", AddressClass.Multicast, "224.0.0.0/4", "first of 224.0.0.0/4")]
    [InlineData("239.255.255.255", AddressClass.Multicast, "224.0.0.0/4", "last of 224.0.0.0/4")]
    [InlineData("240.0.0.0", AddressClass.Reserved, "240.0.0.0/4", "just above multicast: first of reserved 240.0.0.0/4")]
    [InlineData("255.255.255.254", AddressClass.Reserved, "240.0.0.0/4", "last of 240.0.0.0/4 before broadcast")]
    [InlineData("255.255.255.255", AddressClass.Broadcast, "255.255.255.255/32", "limited broadcast, carved out of 240.0.0.0/4")]
    [InlineData("169.254.169.254", AddressClass.LinkLocal, "169.254.0.0/16", "cloud metadata (AWS, GCP, Azure) is link-local")]
    [InlineData("100.100.100.200", AddressClass.CarrierGradeNat, "100.64.0.0/10", "Alibaba metadata sits in CGNAT space")]
    [InlineData("127.0.0.1", AddressClass.Loopback, "127.0.0.0/8", "the usual loopback")]
    [InlineData("127.1.2.3", AddressClass.Loopback, "127.0.0.0/8", "all of 127/8 is loopback, not just .1")]
    [InlineData("192.168.1.1", AddressClass.Private, "192.168.0.0/16", "a home router")]
    [InlineData("192.0.0.170", AddressClass.Reserved, "192.0.0.0/24", "NAT64 discovery address in IETF protocol assignments")]
    [InlineData("8.8.8.8", AddressClass.Public, "", "a public resolver")]
    [InlineData("1.1.1.1", AddressClass.Public, "", "another public resolver")]
    [InlineData("93.184.215.14", AddressClass.Public, "", "an ordinary web server")]
    public void Classifies_ipv4(string address, AddressClass expected, string range, string why) =>
        AssertClass(address, expected, range, why);

    [Theory]
    [InlineData("::", AddressClass.Unspecified, "::/128", "the unspecified address")]
    [InlineData("::1", AddressClass.Loopback, "::1/128", "IPv6 loopback, not IPv4-compatible 0.0.0.1")]
    [InlineData("fe80::1", AddressClass.LinkLocal, "fe80::/10", "link-local")]
    [InlineData("fe80::1%2", AddressClass.LinkLocal, "fe80::/10", "a scope id does not hide link-local")]
    [InlineData("fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Public, "", "just below fe80::/10")]
    [InlineData("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.LinkLocal, "fe80::/10", "last of fe80::/10")]
    [InlineData("fec0::", AddressClass.Private, "fec0::/10", "first of deprecated site-local fec0::/10")]
    [InlineData("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Private, "fec0::/10", "last of site-local fec0::/10")]
    [InlineData("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Public, "", "just below unique local fc00::/7")]
    [InlineData("fc00::", AddressClass.Private, "fc00::/7", "first of unique local fc00::/7")]
    [InlineData("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Private, "fc00::/7", "last of unique local fc00::/7")]
    [InlineData("fe00::", AddressClass.Public, "", "just above fc00::/7 (unassigned, but not local)")]
    [InlineData("fd00:ec2::254", AddressClass.Private, "fc00::/7", "AWS IPv6 metadata endpoint is unique local")]
    [InlineData("ff00::", AddressClass.Multicast, "ff00::/8", "first of multicast")]
    [InlineData("ff02::1", AddressClass.Multicast, "ff00::/8", "all-nodes link multicast")]
    [InlineData("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Multicast, "ff00::/8", "last address of IPv6")]
    [InlineData("ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Public, "", "just below discard-only 100::/64")]
    [InlineData("100::", AddressClass.Reserved, "100::/64", "first of discard-only 100::/64")]
    [InlineData("100::ffff:ffff:ffff:ffff", AddressClass.Reserved, "100::/64", "last of discard-only 100::/64")]
    [InlineData("100:0:0:1::", AddressClass.Public, "", "just above discard-only 100::/64")]
    [InlineData("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Public, "", "just below documentation 2001:db8::/32")]
    [InlineData("2001:db8::", AddressClass.Reserved, "2001:db8::/32", "first of documentation 2001:db8::/32")]
    [InlineData("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Reserved, "2001:db8::/32", "last of documentation 2001:db8::/32")]
    [InlineData("2001:db9::", AddressClass.Public, "", "just above documentation 2001:db8::/32")]
    [InlineData("2001:1:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Public, "", "just below benchmarking 2001:2::/48")]
    [InlineData("2001:2::", AddressClass.Reserved, "2001:2::/48", "first of benchmarking 2001:2::/48")]
    [InlineData("2001:2:0:ffff:ffff:ffff:ffff:ffff", AddressClass.Reserved, "2001:2::/48", "last of benchmarking 2001:2::/48")]
    [InlineData("2001:2:1::", AddressClass.Public, "", "just above benchmarking 2001:2::/48")]
    [InlineData("64:ff9b:1::", AddressClass.Private, "64:ff9b:1::/48", "first of local-use NAT64 64:ff9b:1::/48")]
    [InlineData("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", AddressClass.Private, "64:ff9b:1::/48", "last of local-use NAT64")]
    [InlineData("64:ff9b:2::", AddressClass.Public, "", "just above local-use NAT64")]
    [InlineData("64:ff9b::1:0:0", AddressClass.Public, "", "just above well-known NAT64 64:ff9b::/96, so nothing embedded")]
    [InlineData("2606:4700:4700::1111", AddressClass.Public, "", "a public resolver")]
    [InlineData("2a00:1450:4001:800::200e", AddressClass.Public, "", "an ordinary web server")]
    [InlineData("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Public, "", "just below Teredo 2001::/32")]
    [InlineData("2001:1::1", AddressClass.Public, "", "just above Teredo 2001::/32")]
    [InlineData("2003::1", AddressClass.Public, "", "just above 6to4 2002::/16")]
    public void Classifies_ipv6(string address, AddressClass expected, string range, string why) =>
        AssertClass(address, expected, range, why);

    [Theory]
    [InlineData("::ffff:10.0.0.1", AddressClass.Private, "10.0.0.0/8", "IPv4-mapped private")]
    [InlineData("::ffff:127.0.0.1", AddressClass.Loopback, "127.0.0.0/8", "IPv4-mapped loopback")]
    [InlineData("::ffff:169.254.169.254", AddressClass.LinkLocal, "169.254.0.0/16", "IPv4-mapped metadata")]
    [InlineData("::ffff:0.0.0.0", AddressClass.Unspecified, "0.0.0.0/32", "IPv4-mapped unspecified")]
    [InlineData("::ffff:100.64.0.1", AddressClass.CarrierGradeNat, "100.64.0.0/10", "IPv4-mapped CGNAT")]
    [InlineData("::ffff:8.8.8.8", AddressClass.Public, "", "IPv4-mapped public")]
    [InlineData("::10.0.0.1", AddressClass.Private, "10.0.0.0/8", "IPv4-compatible private")]
    [InlineData("::127.0.0.1", AddressClass.Loopback, "127.0.0.0/8", "IPv4-compatible loopback")]
    [InlineData("::0.0.0.2", AddressClass.Reserved, "0.0.0.0/8", "IPv4-compatible ::2 leads to this-network 0.0.0.2")]
    [InlineData("::8.8.8.8", AddressClass.Public, "", "IPv4-compatible public")]
    [InlineData("64:ff9b::10.0.0.1", AddressClass.Private, "10.0.0.0/8", "NAT64 private")]
    [InlineData("64:ff9b::127.0.0.1", AddressClass.Loopback, "127.0.0.0/8", "NAT64 loopback")]
    [InlineData("64:ff9b::169.254.169.254", AddressClass.LinkLocal, "169.254.0.0/16", "NAT64 metadata")]
    [InlineData("64:ff9b::", AddressClass.Unspecified, "0.0.0.0/32", "first of NAT64 64:ff9b::/96")]
    [InlineData("64:ff9b::ffff:ffff", AddressClass.Broadcast, "255.255.255.255/32", "last of NAT64 64:ff9b::/96")]
    [InlineData("64:ff9b::8.8.8.8", AddressClass.Public, "", "NAT64 public")]
    [InlineData("2002:a00:1::1", AddressClass.Private, "10.0.0.0/8", "6to4 of 10.0.0.1")]
    [InlineData("2002:c0a8:101::", AddressClass.Private, "192.168.0.0/16", "6to4 of 192.168.1.1")]
    [InlineData("2002:7f00:1::1", AddressClass.Loopback, "127.0.0.0/8", "6to4 of 127.0.0.1")]
    [InlineData("2002:a9fe:a9fe::", AddressClass.LinkLocal, "169.254.0.0/16", "6to4 of metadata 169.254.169.254")]
    [InlineData("2002::", AddressClass.Unspecified, "0.0.0.0/32", "first of 6to4 2002::/16 leads to 0.0.0.0")]
    [InlineData("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Broadcast, "255.255.255.255/32", "last of 6to4 2002::/16 leads to broadcast")]
    [InlineData("2002:808:808::1", AddressClass.Public, "", "6to4 of public 8.8.8.8")]
    [InlineData("2001:0:4136:e378:8000:63bf:f5ff:fffe", AddressClass.Private, "10.0.0.0/8", "Teredo, public server, client 10.0.0.1 stored inverted")]
    [InlineData("2001:0:4136:e378:8000:63bf:80ff:fffe", AddressClass.Loopback, "127.0.0.0/8", "Teredo, public server, client 127.0.0.1 stored inverted")]
    [InlineData("2001:0:4136:e378:8000:63bf:5601:5601", AddressClass.LinkLocal, "169.254.0.0/16", "Teredo, public server, client 169.254.169.254 stored inverted")]
    [InlineData("2001:0:4136:e378:8000:63bf:f7f7:f7f7", AddressClass.Public, "", "Teredo, public server, client 8.8.8.8 stored inverted")]
    [InlineData("2001:0:4136:e378:8000:63bf:7f00:1", AddressClass.Public, "", "Teredo client bits 7f00:0001 invert to public 128.255.255.254, not loopback")]
    [InlineData("2001:0:4136:e378:8000:63bf:a00:1", AddressClass.Reserved, "240.0.0.0/4", "Teredo client bits 0a00:0001 invert to 245.255.255.254, not private 10.0.0.1")]
    [InlineData("2001:0:a00:1:8000:63bf:f7f7:f7f7", AddressClass.Private, "10.0.0.0/8", "Teredo with a private server 10.0.0.1")]
    [InlineData("2001:0:7f00:1::", AddressClass.Loopback, "127.0.0.0/8", "Teredo with a loopback server")]
    [InlineData("2001::", AddressClass.Unspecified, "0.0.0.0/32", "first of Teredo 2001::/32: server 0.0.0.0")]
    [InlineData("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", AddressClass.Broadcast, "255.255.255.255/32", "last of Teredo 2001::/32: server broadcast")]
    public void Classifies_ipv6_forms_by_the_ipv4_address_they_embed(string address, AddressClass expected, string range, string why) =>
        AssertClass(address, expected, range, why);

    [Theory]
    [InlineData("8.8.8.8", "public", "public needs no range")]
    [InlineData("10.1.2.3", "private (10.0.0.0/8)", "class and range")]
    [InlineData("169.254.169.254", "link-local (169.254.0.0/16)", "link-local is spelt for humans")]
    [InlineData("100.64.0.1", "carrier-grade NAT (100.64.0.0/10)", "CGNAT is spelt for humans")]
    [InlineData("fd00:ec2::254", "private (fc00::/7)", "IPv6 range")]
    [InlineData("::ffff:127.0.0.1", "loopback (127.0.0.0/8, IPv4-mapped of 127.0.0.1)", "mapped form named")]
    [InlineData("::10.0.0.1", "private (10.0.0.0/8, IPv4-compatible of 10.0.0.1)", "compatible form named")]
    [InlineData("64:ff9b::a9fe:a9fe", "link-local (169.254.0.0/16, NAT64 64:ff9b::/96 of 169.254.169.254)", "NAT64 form named")]
    [InlineData("2002:a00:1::", "private (10.0.0.0/8, 6to4 2002::/16 of 10.0.0.1)", "6to4 form named")]
    [InlineData("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private (10.0.0.0/8, Teredo 2001::/32 client of 10.0.0.1)", "Teredo client named")]
    [InlineData("2001:0:a00:1::", "private (10.0.0.0/8, Teredo 2001::/32 server of 10.0.0.1)", "Teredo server named")]
    public void Describes_the_range_and_the_form(string address, string expected, string why)
    {
        string actual = AddressClassifier.Classify(IPAddress.Parse(address)).ToString();
        Assert.True(expected == actual, $"{why}: expected '{expected}', got '{actual}'");
    }

    [Fact]
    public void Every_ipv6_form_of_a_random_ipv4_address_classifies_like_the_address_itself()
    {
        var random = new Random(20_251_123);
        int publicSeen = 0;
        for (int i = 0; i < 5000; i++)
        {
            byte[] v4 = new byte[4];
            random.NextBytes(v4);
            IPAddress plain = new(v4);
            AddressClassification expected = AddressClassifier.Classify(plain);
            publicSeen += expected.IsPublic ? 1 : 0;

            foreach ((string form, IPAddress v6) in Ipv6Forms(v4))
            {
                AddressClassification actual = AddressClassifier.Classify(v6);
                Assert.True(
                    expected.Class == actual.Class && expected.Range == actual.Range,
                    $"{form} {v6} of {plain}: expected {expected}, got {actual}");
            }
        }

        // The point is public addresses: make sure the sample really contained thousands of them.
        Assert.True(publicSeen > 4000, $"only {publicSeen} public addresses in the sample");
    }

    [Fact]
    public void Private_addresses_behind_every_ipv6_form_are_never_public()
    {
        var random = new Random(7);
        string[] privateRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10"];
        foreach (string text in privateRanges)
        {
            IPNetwork network = IPNetwork.Parse(text);
            byte[] baseBytes = network.BaseAddress.GetAddressBytes();
            uint hostMask = uint.MaxValue >> network.PrefixLength;
            for (int i = 0; i < 500; i++)
            {
                uint value = (((uint)baseBytes[0] << 24) | ((uint)baseBytes[1] << 16) | ((uint)baseBytes[2] << 8) | baseBytes[3])
                    | ((uint)random.Next() & hostMask);
                byte[] v4 = [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];
                foreach ((string form, IPAddress v6) in Ipv6Forms(v4))
                {
                    AddressClassification actual = AddressClassifier.Classify(v6);
                    Assert.True(actual.Range == text, $"{form} {v6} of {new IPAddress(v4)} should be in {text}, got {actual}");
                }
            }
        }
    }

    [Theory]
    [InlineData("10.0.0.1", "", "plain IPv4 embeds nothing")]
    [InlineData("2a00:1450:4001:800::200e", "", "ordinary IPv6 embeds nothing")]
    [InlineData("::1", "", "loopback is not IPv4-compatible 0.0.0.1")]
    [InlineData("::", "", "unspecified is not IPv4-compatible 0.0.0.0")]
    [InlineData("::ffff:10.0.0.1", "10.0.0.1", "mapped")]
    [InlineData("::10.0.0.1", "10.0.0.1", "compatible")]
    [InlineData("64:ff9b::808:808", "8.8.8.8", "NAT64")]
    [InlineData("2002:808:808::1", "8.8.8.8", "6to4")]
    [InlineData("2001:0:4136:e378:8000:63bf:f5ff:fffe", "65.54.227.120 10.0.0.1", "Teredo server, then inverted client")]
    public void Lists_the_ipv4_addresses_an_address_embeds(string address, string expected, string why)
    {
        string actual = string.Join(' ', AddressClassifier.EmbeddedIPv4(IPAddress.Parse(address)));
        Assert.True(expected == actual, $"{why}: expected '{expected}', got '{actual}'");
    }

    private static IEnumerable<(string Form, IPAddress Address)> Ipv6Forms(byte[] v4)
    {
        IPAddress plain = new(v4);
        yield return ("IPv4-mapped", plain.MapToIPv6());

        byte[] nat64 = [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, v4[0], v4[1], v4[2], v4[3]];
        yield return ("NAT64", new IPAddress(nat64));

        byte[] sixToFour = [0x20, 0x02, v4[0], v4[1], v4[2], v4[3], 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        yield return ("6to4", new IPAddress(sixToFour));

        // Teredo with a public server (65.54.227.120) and the client stored inverted.
        byte[] teredo = [0x20, 0x01, 0, 0, 0x41, 0x36, 0xe3, 0x78, 0x80, 0, 0x63, 0xbf, (byte)~v4[0], (byte)~v4[1], (byte)~v4[2], (byte)~v4[3]];
        yield return ("Teredo client", new IPAddress(teredo));

        // ::0.0.0.0 and ::0.0.0.1 are the IPv6 unspecified and loopback addresses, not compatible forms.
        if (v4[0] != 0 || v4[1] != 0 || v4[2] != 0 || v4[3] > 1)
        {
            byte[] compatible = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, v4[0], v4[1], v4[2], v4[3]];
            yield return ("IPv4-compatible", new IPAddress(compatible));
        }
    }

    private static void AssertClass(string address, AddressClass expected, string range, string why)
    {
        IPAddress parsed = IPAddress.Parse(address);
        Assert.True(parsed.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6);
        AddressClassification actual = AddressClassifier.Classify(parsed);
        Assert.True(
            actual.Class == expected && actual.Range == range,
            $"{why}: {address} expected {expected} ({range}), got {actual.Class} ({actual.Range}) = {actual}");
    }
}
