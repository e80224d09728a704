"""GET the URLs before "--" with urllib and those after it with requests, as the environment configures them (one
interpreter start per case for both columns); the listeners record where each request went."""
import sys
import urllib.request

import requests

args = sys.argv[1:]
split = args.index("--")
for mode, urls in (("urllib", args[:split]), ("requests", args[split + 1:])):
    for url in urls:
        try:
            if mode == "urllib":
                urllib.request.build_opener().open(url, timeout=10).read()
            else:
                requests.get(url, timeout=10)
        except Exception as error:  # the outcome is what the listeners saw; say why a request failed
            print(f"{mode} {url}: {type(error).__name__}: {error}", file=sys.stderr)
