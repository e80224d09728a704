// GET each URL with a default HttpClient: on Linux its proxy comes from the environment (http_proxy, no_proxy...),
// read by .NET itself, not by Sluice.Client. The matrix's listeners record where each request went.
foreach (string url in args)
{
    try
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using HttpResponseMessage response = await client.GetAsync(new Uri(url));
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or UriFormatException)
    {
        Console.Error.WriteLine($"{url}: {e.Message}");
    }
}
