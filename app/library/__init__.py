"""Library management: browsing and deleting items, duplicates, sprite atlases, adapters."""
