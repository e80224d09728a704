"""GET each URL with urllib or requests as the environment configures them; the listeners record where it went."""
import sys

mode, urls = sys.argv[1], sys.argv[2:]
for url in urls:
    try:
        if mode == "urllib":
            import urllib.request
            urllib.request.build_opener().open(url, timeout=10).read()
        else:
            import requests
            requests.get(url, timeout=10)
    except Exception as error:  # the outcome is what the listeners saw; say why a request failed
        print(f"{url}: {type(error).__name__}: {error}", file=sys.stderr)
