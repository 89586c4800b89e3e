"""The inbox as an MCP server: ``inbox mcp`` (stdio) and ``/mcp`` on ``inbox serve --listen`` (docs/mcp.md)."""
