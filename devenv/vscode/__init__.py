"""VS Code from the same project model as PyCharm: .vscode/settings.json, launch.json, the env files the
Python extension and debugpy read, a .code-workspace for several repos, and Remote-SSH host names."""
