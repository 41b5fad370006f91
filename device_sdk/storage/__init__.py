"""State files: private (0600), written atomically, optionally on a writer thread."""
