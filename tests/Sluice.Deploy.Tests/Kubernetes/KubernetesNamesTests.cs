using Sluice.Deploy.Kubernetes;

namespace Sluice.Deploy.Tests.Kubernetes;

/// <summary>Kubernetes' naming rules, and the object name a configuration's name becomes.</summary>
public sealed class KubernetesNamesTests
{
    [Theory]
    [InlineData("egress-vendor", "egress-vendor")]
    [InlineData("Egress_Vendor.prod", "egress-vendor-prod")]
    [InlineData("sluice", "sluice")]
    [InlineData("9lives", "sluice-9lives")]
    [InlineData("___", "sluice")]
    [InlineData("a-name-that-is-much-longer-than-forty-characters-in-all", "a-name-that-is-much-longer-than-forty-ch")]
    [InlineData("a-name-that-is-much-longer-than-fortyxx--tail", "a-name-that-is-much-longer-than-fortyxx")]
    public void A_configuration_name_becomes_an_object_name(string name, string expected) => Assert.Equal(expected, KubernetesNames.ResourceName(name));

    [Theory]
    [InlineData("egress", true)]
    [InlineData("team-a1", true)]
    [InlineData("Egress", false)]
    [InlineData("-egress", false)]
    [InlineData("egress-", false)]
    [InlineData("", false)]
    [InlineData("a.b", false)]
    public void Namespaces_are_dns_labels(string text, bool valid)
    {
        Assert.Equal(valid, KubernetesNames.IsDnsLabel(text));
        Assert.False(KubernetesNames.IsDnsLabel(new string('a', 64)));
    }

    [Theory]
    [InlineData("egress.sluice.io/client=true", "egress.sluice.io/client=true")]
    [InlineData("app=carto, tier=backend", "app=carto,tier=backend")]
    [InlineData("app=", "app=")]
    [InlineData("app", null)]
    [InlineData("=x", null)]
    [InlineData("app=a b", null)]
    [InlineData("Bad_Prefix/app=x", null)]
    [InlineData("app=x,app=y", null)]
    public void Selectors_are_label_pairs(string text, string? expected)
    {
        bool parsed = KubernetesNames.TryParseSelector(text, out Dictionary<string, string> labels, out string problem);
        Assert.Equal(expected is not null, parsed);
        if (parsed)
        {
            Assert.Equal(expected, string.Join(",", labels.Select(kv => $"{kv.Key}={kv.Value}")));
            Assert.Equal("", problem);
        }
        else
        {
            Assert.NotEqual("", problem);
        }
    }

    [Theory]
    [InlineData("app", "'app' is not a label key=value (e.g. egress.sluice.io/client=true)")]
    [InlineData("app=x,app=y", "the label app is given twice")]
    public void A_bad_selector_says_what_is_wrong(string text, string problem)
    {
        Assert.False(KubernetesNames.TryParseSelector(text, out _, out string actual));
        Assert.Equal(problem, actual);
    }
}
