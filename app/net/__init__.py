"""Network access shared by the features that fetch: the SSRF-safe image fetcher (`fetch.py`)."""
