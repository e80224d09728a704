using Sluice.Policy.Rules;

namespace Sluice.Policy.Tests.Rules;

public sealed class PortRangeTests
{
    [Theory]
    [InlineData("443", 443, 443, "a single port")]
    [InlineData("1", 1, 1, "the lowest port")]
    [InlineData("65535", 65535, 65535, "the highest port")]
    [InlineData("1024-65535", 1024, 65535, "a range")]
    [InlineData("1-65535", 1, 65535, "every port")]
    [InlineData("80-80", 80, 80, "a range of one port")]
    [InlineData(" 8000 - 8999 ", 8000, 8999, "blanks around the numbers")]
    [InlineData("0443", 443, 443, "a leading zero")]
    public void Parses(string text, int first, int last, string why)
    {
        Assert.True(PortRange.TryParse(text, out PortRange range, out string problem), $"{why}: {problem}");
        Assert.Equal(new PortRange(first, last), range);
    }

    [Theory]
    [InlineData("2000-1000", "is an empty range: 2000 is greater than 1000", "a reversed range")]
    [InlineData("444-443", "is an empty range", "a reversed range by one")]
    [InlineData("0", "is not a port (1-65535)", "port 0")]
    [InlineData("65536", "is not a port (1-65535)", "port 65536")]
    [InlineData("70000", "is not a port (1-65535)", "port 70000")]
    [InlineData("0-100", "is not a port (1-65535)", "a range from 0")]
    [InlineData("1-65536", "is not a port (1-65535)", "a range past 65535")]
    [InlineData("-1", "is not a port (1-65535)", "a negative port")]
    [InlineData("1-2-3", "is not a port (1-65535)", "three parts")]
    [InlineData("100-", "is not a port (1-65535)", "an open-ended range")]
    [InlineData("-100", "is not a port (1-65535)", "an open-started range")]
    [InlineData("-", "is not a port (1-65535)", "a lone dash")]
    [InlineData("", "is not a port (1-65535)", "empty")]
    [InlineData("https", "is not a port (1-65535)", "a service name")]
    [InlineData("+443", "is not a port (1-65535)", "a sign")]
    [InlineData("443.0", "is not a port (1-65535)", "a decimal")]
    [InlineData("1e3", "is not a port (1-65535)", "an exponent")]
    [InlineData("80,443", "is not a port (1-65535)", "a comma list in one entry")]
    [InlineData("80..90", "is not a port (1-65535)", "a dotted range")]
    [InlineData("99999999999", "is not a port (1-65535)", "an overflowing number")]
    public void Refuses(string text, string problemFragment, string why)
    {
        Assert.False(PortRange.TryParse(text, out _, out string problem), why);
        Assert.True(problem.Contains(problemFragment, StringComparison.Ordinal), $"{why}: '{problem}' should contain '{problemFragment}'");
        Assert.Contains($"'{text}'", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("443", 443, true, "the port itself")]
    [InlineData("443", 442, false, "one below")]
    [InlineData("443", 444, false, "one above")]
    [InlineData("1024-65535", 1024, true, "the first port of a range")]
    [InlineData("1024-65535", 65535, true, "the last port of a range")]
    [InlineData("1024-65535", 1023, false, "just below a range")]
    [InlineData("1024-65535", 30000, true, "inside a range")]
    [InlineData("8000-8999", 9000, false, "just above a range")]
    [InlineData("8000-8999", 80, false, "far below a range")]
    [InlineData("1-65535", 1, true, "every port: the lowest")]
    [InlineData("1-65535", 65535, true, "every port: the highest")]
    [InlineData("1-65535", 0, false, "every port still excludes 0")]
    public void Contains(string text, int port, bool expected, string why)
    {
        Assert.True(expected == RuleKit.Port(text).Contains(port), why);
    }

    [Theory]
    [InlineData("443", "443")]
    [InlineData("80-80", "80")]
    [InlineData("1024-65535", "1024-65535")]
    [InlineData(" 0080 - 0090 ", "80-90")]
    public void Prints_in_canonical_form(string text, string printed)
    {
        Assert.Equal(printed, RuleKit.Port(text).ToString());
    }
}
