using Microsoft.Playwright;

namespace Sluice.Proxy.Tests.Admin;

/// <summary>
/// Debian's Chromium (installed by .ci/run, never downloaded by Playwright) driven through Playwright's bundled node
/// driver: headless, a fresh profile per use, no background traffic. Collects console errors and uncaught script
/// errors (a CSP violation shows up as a console error).
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;
    private readonly IBrowserContext _context;
    private readonly string _profile;

    private HeadlessChromium(IPlaywright playwright, IBrowserContext context, IPage page, string profile)
    {
        _playwright = playwright;
        _context = context;
        _profile = profile;
        Page = page;
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (Errors)
                {
                    Errors.Add($"console: {message.Text}");
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (Errors)
            {
                Errors.Add($"page error: {error}");
            }
        };
    }

    public IPage Page { get; }

    public List<string> Errors { get; } = [];

    /// <param name="arguments">Command-line switches beyond the defaults (a PAC URL, host-resolver rules).</param>
    public static async Task<HeadlessChromium> LaunchAsync(params string[] arguments)
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"{ExecutablePath} is missing: install Debian's chromium package (.ci/run does: apt-get install -y chromium)");
        }

        string profile = Path.Combine(Path.GetTempPath(), $"sluice-chromium-{Guid.NewGuid():N}");
        Directory.CreateDirectory(profile);
        IPlaywright playwright = await Playwright.CreateAsync();
        try
        {
            IBrowserContext context = await playwright.Chromium.LaunchPersistentContextAsync(profile, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = ExecutablePath,
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", .. arguments],
                ViewportSize = new ViewportSize { Width = 1280, Height = 860 },
                Locale = "en-GB",
                TimezoneId = "UTC",
                ColorScheme = ColorScheme.Light,
                Timeout = 60_000,
            });
            context.SetDefaultTimeout(15_000);
            IPage page = context.Pages.Count > 0 ? context.Pages[0] : await context.NewPageAsync();
            return new HeadlessChromium(playwright, context, page, profile);
        }
        catch
        {
            playwright.Dispose();
            TryDelete(profile);
            throw;
        }
    }

    /// <summary>The test output directory's artifacts folder: screenshots land here.</summary>
    public static string ArtifactPath(string name)
    {
        string directory = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, name);
    }

    public async ValueTask DisposeAsync()
    {
        await _context.CloseAsync();
        await _context.DisposeAsync();
        _playwright.Dispose();
        TryDelete(_profile);
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
