"""``python -m llmcache_cli`` runs the ``llmcache`` command."""

from llmcache_cli.cli.app import run

if __name__ == "__main__":
    run()
