"""One-to-One activation: the day's audience files for LINE and e-mail tools, and their consent audit."""
