"""The `studio` command: serve, train, replay (and later forecast, models, worker, keys)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.logging import configure_logging
from studio.settings import get_settings


def _base() -> Any:
    from studio.bootstrap import open_base

    return open_base(get_settings())


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from studio.bootstrap import build_studio

    settings = get_settings()
    host, port = args.host or settings.host, args.port or settings.port
    studio = build_studio(settings, train=not args.no_train)  # trains missing profiles before binding the port
    app = create_app(settings, studio=studio)
    logging.getLogger("studio").info("serving on http://%s:%d (database %s)", host, port, studio.engine.url)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=args.access_log,
                loop="uvloop", http="httptools")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from models.training import train_profile
    from studio.profiles import get_profile

    studio = _base()
    names = list(studio.profiles) if args.profile == "all" else [args.profile]
    for name in names:
        profile = get_profile(studio.profiles, name)
        report = train_profile(profile, studio.packs[name], data_dir=studio.settings.data_dir, registry=studio.registry,
                               input_csv=Path(args.input) if args.input else None, actor="cli",
                               activate=not args.no_activate)
        print(json.dumps({"profile": name, "seconds": report.seconds, "rows": report.rows,
                          "versions": report.versions, "metrics": report.metrics}, indent=2, default=str))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from studio.profiles import get_profile
    from studio.replay import replay

    studio = _base()
    profile = get_profile(studio.profiles, args.profile)
    summary = replay(studio, profile, Path(args.input), Path(args.output), stream=args.stream,
                     value_col=args.value_column, ts_col=args.timestamp_column, progress=not args.quiet)
    print(json.dumps(summary.__dict__))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="studio", description="Gateway ML Studio: an LLM-supervised decision service.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="serve the API (trains missing default models first)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--no-train", action="store_true", help="do not train missing profiles before serving")
    s.add_argument("--access-log", action="store_true")
    s.set_defaults(func=cmd_serve)

    t = sub.add_parser("train", help="train a profile end to end and activate the new versions")
    t.add_argument("--profile", required=True, help="peg, credit, ops, or all")
    t.add_argument("--input", help="train on this CSV instead of the profile's bundled data")
    t.add_argument("--no-activate", action="store_true", help="register the versions without activating them")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("replay", help="run a CSV through the decision graph in-process, causally")
    r.add_argument("--profile", required=True)
    r.add_argument("--input", required=True)
    r.add_argument("--output", required=True)
    r.add_argument("--stream", help="stream name (default: the input file's name)")
    r.add_argument("--value-column", default="value")
    r.add_argument("--timestamp-column", default="timestamp")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_replay)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(get_settings().log_level)
    try:
        return int(args.func(args))
    except StudioError as exc:
        print(json.dumps({"error": {"code": exc.code.value, "message": exc.message, "details": exc.details}},
                         default=str), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
