"""Browser tests: the web chat in a real headless Chromium."""
