"""Browser tier: pages as a person meets them, in Debian's chromium through the real gateway."""
