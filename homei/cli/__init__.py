"""The `homei` command: run the daemon, and talk to it.

`homei serve` is how a device starts Homei, so it takes a short path: only the daemon is
imported, not the parsers and clients of the commands that talk to a running daemon.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `homei` command."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        from homei.cli.serve import parser, serve
        from homei.settings_layers import SettingsError, load_settings

        args = parser().parse_args(argv[1:])
        try:
            settings = load_settings(config=args.config, data_dir=args.data_dir, listen=args.listen)
        except SettingsError as err:
            from homei.cli.output import fail

            return fail(str(err), 2)
        return serve(settings)
    from homei.cli.commands import run

    return run(argv)
