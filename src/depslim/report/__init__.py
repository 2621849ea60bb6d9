"""Report formats. Each is a pure `render(report) -> str`; the CLI writes the result."""
