"""Command-line faces of tumorboard: thin parsers over library functions."""
