using Sluice.Proxy.Reload;

namespace Sluice.Proxy.Tests.Reload;

/// <summary>When a file counts as written: two reads a settle apart agree, within a bounded number of reads.</summary>
public sealed class StableFileTests
{
    private static FileVersion Version(string text, long modified = 1) =>
        new(text.Length, new DateTime(modified, DateTimeKind.Utc), System.Text.Encoding.UTF8.GetBytes(text), System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    /// <summary>Each read returns the next version in the list (the last one repeats); settling costs nothing.</summary>
    private static async Task<(SettleOutcome Outcome, FileVersion? Version, int Reads)> Run(int attempts, params FileVersion?[] versions)
    {
        int reads = 0;
        (SettleOutcome outcome, FileVersion? version) = await StableFile.ReadAsync(() => versions[Math.Min(reads++, versions.Length - 1)], () => Task.CompletedTask, attempts);
        return (outcome, version, reads);
    }

    [Fact]
    public async Task A_file_that_does_not_change_is_read_twice_and_used()
    {
        (SettleOutcome outcome, FileVersion? version, int reads) = await Run(10, Version("name: a\n"));
        Assert.Equal(SettleOutcome.Stable, outcome);
        Assert.Equal("name: a\n", System.Text.Encoding.UTF8.GetString(version!.Bytes));
        Assert.Equal(2, reads);
    }

    [Fact]
    public async Task A_file_still_being_written_is_used_once_two_reads_agree()
    {
        (SettleOutcome outcome, FileVersion? version, int reads) = await Run(10, Version("name: a\n"), Version("name: a\nrules:\n"), Version("name: a\nrules: []\n"));
        Assert.Equal(SettleOutcome.Stable, outcome);
        Assert.Equal("name: a\nrules: []\n", System.Text.Encoding.UTF8.GetString(version!.Bytes));
        Assert.Equal(4, reads);
    }

    [Theory]
    [InlineData(false, true, "same bytes, another modification time (rewritten with the same content)")]
    [InlineData(true, false, "another length with the same time stamp")]
    public async Task Length_time_and_hash_must_all_agree(bool sameTime, bool sameLength, string why)
    {
        FileVersion first = Version("rules: []\n", modified: 1);
        FileVersion second = first with { Modified = sameTime ? first.Modified : first.Modified.AddTicks(1), Length = sameLength ? first.Length : first.Length + 1 };
        (_, _, int reads) = await Run(10, first, second);
        Assert.True(reads == 3, $"{why}: {reads} reads");
    }

    [Fact]
    public async Task A_file_that_changes_on_every_read_is_given_up_on_after_the_bounded_reads()
    {
        int reads = 0;
        (SettleOutcome outcome, _) = await StableFile.ReadAsync(() => Version($"# line {reads++}\n"), () => Task.CompletedTask, attempts: 5);
        Assert.Equal(SettleOutcome.StillChanging, outcome);
        Assert.Equal(5, reads);
    }

    [Fact]
    public async Task A_file_that_cannot_be_read_twice_is_unreadable_and_one_missing_read_is_a_change()
    {
        Assert.Equal(SettleOutcome.Unreadable, (await Run(10, null, null)).Outcome);

        // Replaced by delete-and-create: missing for a moment, then there.
        (SettleOutcome outcome, FileVersion? version, _) = await Run(10, Version("a: 1\n"), null, Version("name: b\n"));
        Assert.Equal(SettleOutcome.Stable, outcome);
        Assert.Equal("name: b\n", System.Text.Encoding.UTF8.GetString(version!.Bytes));
    }
}
