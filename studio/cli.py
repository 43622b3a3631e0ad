"""The `studio` command: serve, train, replay, forecast, models, worker, baselines, keys, audit."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from core.errors import StudioError, ValidationFailed
from core.settings import get_settings
from studio.logging import configure_logging


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
                loop="uvloop", http="httptools", log_config=None)  # its lines through our handler and format
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from core.profiles import get_profile
    from models.training import train_profile

    studio = _base()
    names = list(studio.profiles) if args.profile == "all" else [args.profile]
    for name in names:
        profile = get_profile(studio.profiles, name)
        report = train_profile(profile, studio.packs[name], data_dir=studio.settings.data_dir, registry=studio.registry,
                               input_csv=Path(args.input) if args.input else None, actor="cli",
                               activate=not args.no_activate)
        print(json.dumps({"profile": name, "seconds": report.seconds, "rows": report.rows,
                          "versions": report.versions, "quarantined": report.quarantined,
                          "metrics": report.metrics}, indent=2, default=str))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from core.profiles import get_profile
    from studio.csv_replay import replay

    studio = _base()
    profile = get_profile(studio.profiles, args.profile)
    if Path(args.input).is_dir():
        from studio.csv_replay import replay_tree

        report = replay_tree(studio, profile, Path(args.input), Path(args.output), value_col=args.value_column,
                             ts_col=args.timestamp_column, progress=not args.quiet)
        print(json.dumps({k: v for k, v in report.items() if k != "per_file"}))
        return 0
    summary = replay(studio, profile, Path(args.input), Path(args.output), stream=args.stream,
                     value_col=args.value_column, ts_col=args.timestamp_column, progress=not args.quiet)
    print(json.dumps(summary.__dict__))
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    import csv

    import numpy as np
    import pandas as pd

    from core.profiles import get_profile
    from models.bundle import load_bundle
    from models.datasets import read_timestamps
    from models.forecasting import ForecastService
    from studio.forecasts import forecast_points

    studio = _base()
    profile = get_profile(studio.profiles, args.profile)
    df = pd.read_csv(args.input)
    for col in (args.timestamp_column, args.value_column):
        if col not in df.columns:
            raise StudioError(f"{args.input} lacks column {col!r}", details={"columns": list(df.columns)})
    ts_col = df[args.timestamp_column]
    ts = read_timestamps(ts_col, "s" if pd.api.types.is_numeric_dtype(ts_col) else "iso")
    values = df[args.value_column].astype(float).to_numpy()
    bundle = load_bundle(profile, studio.registry)
    out = forecast_points(ForecastService(), profile, bundle, ts, values, args.horizon)  # as the API does
    rows = []
    for name, m in [*out["models"].items(), ("ensemble", out["ensemble"])]:
        for i, t in enumerate(out["timestamps"]):
            rows.append({"timestamp": pd.Timestamp(t, unit="s", tz="UTC").isoformat(), "model": name,
                         **{k: m[k][i] for k in ("mean", "lower_80", "upper_80", "lower_95", "upper_95")}})
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(json.dumps({"rows": len(rows), "models": sorted(out["models"]), "season": out["season"],
                      "periods": out["periods"], "weights": out["ensemble"]["weights"],
                      "step_seconds": out["step_seconds"], "skipped": out["skipped"], "output": args.output,
                      "ensemble_mean_first": float(np.round(out["ensemble"]["mean"][0], 6))}))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    studio = _base()
    if args.action == "list":
        for r in studio.models.listing(args.profile):
            flag = "*" if r["active"] else " "
            print(f"{flag} {r['profile']:7s} {r['model']:16s} {r['version']:5s} {r['created_at']}  "
                  f"{json.dumps({k: v for k, v in r['metrics'].items() if not isinstance(v, dict)})[:90]}")
        return 0
    if not (args.profile and args.model):
        raise StudioError("--profile and --model are required")
    if args.action == "promote":
        if not args.version:
            raise StudioError("--version is required")
        prev = studio.registry.activate(args.profile, args.model, args.version, actor="cli", reason=args.reason)
    else:
        history = studio.registry.history(args.profile, args.model)
        current = history[-1]["version"] if history else None
        earlier = [h["version"] for h in history[:-1] if h["version"] != current]
        if not earlier:
            raise StudioError(f"{args.profile}/{args.model} has nothing to roll back to")
        prev = studio.registry.activate(args.profile, args.model, earlier[-1], actor="cli",
                                        reason=f"rollback: {args.reason}")
    print(json.dumps({"profile": args.profile, "model": args.model, "previous": prev,
                      "active": studio.registry.active(args.profile)[args.model],
                      "note": f"a running server picks this up with POST /v1/models/{args.profile}/reload"}))
    return 0


def cmd_baselines(args: argparse.Namespace) -> int:
    from store.baselines import refresh_from_decisions

    studio = _base()
    n = refresh_from_decisions(studio.engine, window_days=args.days)
    print(json.dumps({"baselines_refreshed": n, "window_days": args.days}))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from studio.workers import run_standalone

    settings = get_settings()
    return run_standalone(settings, workers=args.workers or max(1, settings.explanation_workers),
                          metrics_port=args.metrics_port)


def cmd_keys(args: argparse.Namespace) -> int:
    from store import keys as key_store
    from store.engine import init_db, make_engine
    from studio import keys

    engine = make_engine(get_settings().database_url)
    init_db(engine)
    if args.action == "create":
        if not args.role:
            raise StudioError("--role is required", details={"roles": list(keys.ROLES)})
        secret, row = keys.create_key(engine, role=args.role, name=args.name or "", actor="cli",
                                      rate_per_s=args.rate, burst=args.burst)
        print(json.dumps({**row, "key": secret}))
        print("The key is shown once and only its sha256 is stored: keep it now.", file=sys.stderr)
    elif args.action == "list":
        for r in key_store.listing(engine, include_revoked=args.all):
            state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
            print(f"{r['id']}  {r['role']:8s} {r['prefix']}...  {r['name']!r:24s} {r['created_at']}  {state}")
    else:
        if not args.key_id:
            raise StudioError("give the id of the key to revoke (studio keys list)")
        print(json.dumps(keys.revoke_key(engine, args.key_id, actor="cli", reason=args.reason)))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from alembic import command

    from store import schema
    from store.engine import init_db, make_engine, write_tx

    engine = make_engine(get_settings().database_url)
    try:
        if args.action == "current":
            print(json.dumps(schema.describe(engine)))
        elif args.action == "upgrade":
            print(json.dumps(init_db(engine)))
        elif args.action == "revision":
            if not args.message:
                raise ValidationFailed("give --message: what the revision changes")
            cfg = schema.alembic_config()
            cfg.set_main_option("sqlalchemy.url", str(engine.url.render_as_string(hide_password=False)))
            script = command.revision(cfg, message=args.message, autogenerate=True)
            print(json.dumps({"revision": getattr(script, "revision", None), "path": getattr(script, "path", None)}))
        else:
            if not args.revision:
                raise ValidationFailed("give the revision to go down to (`base` empties the database)")
            if not args.yes:
                raise ValidationFailed(f"downgrading to {args.revision} drops what later revisions added: add --yes")
            with write_tx(engine) as conn:
                command.downgrade(schema.alembic_config(conn), args.revision)
            print(json.dumps(schema.describe(engine)))
    finally:
        engine.dispose()
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from store.engine import init_db, make_engine
    from studio import audit_integrity

    settings = get_settings()
    if args.expect_head and args.action != "verify":
        raise StudioError("--expect-head goes with verify")
    expected = audit_integrity.parse_head(args.expect_head) if args.expect_head else None
    engine = make_engine(settings.database_url)
    try:
        init_db(engine)
        if args.action == "anchor":
            print(audit_integrity.anchor(settings, engine))
            return 0
        if args.action == "checkpoint":
            print(json.dumps(audit_integrity.checkpoint(settings, engine, "cli")))
            return 0
        report = audit_integrity.verify(settings, engine, expect_head=expected)
        print(json.dumps(report, indent=2))
        return 0 if report["ok"] else 1
    finally:
        engine.dispose()


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
    r.add_argument("--input", required=True, help="a CSV, or a directory: every CSV under it, each a new stream")
    r.add_argument("--output", required=True, help="a CSV, or a directory when --input is one")
    r.add_argument("--stream", help="stream name (default: the input file's name)")
    r.add_argument("--value-column", default="value")
    r.add_argument("--timestamp-column", default="timestamp")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_replay)

    f = sub.add_parser("forecast", help="forecast a CSV's stream: per model and ensemble, with intervals")
    f.add_argument("--profile", required=True)
    f.add_argument("--input", required=True)
    f.add_argument("--horizon", type=int, default=24)
    f.add_argument("--output", required=True)
    f.add_argument("--value-column", default="value")
    f.add_argument("--timestamp-column", default="timestamp")
    f.set_defaults(func=cmd_forecast)

    m = sub.add_parser("models", help="list, promote or roll back model versions")
    m.add_argument("action", choices=["list", "promote", "rollback"])
    m.add_argument("--profile")
    m.add_argument("--model")
    m.add_argument("--version")
    m.add_argument("--reason", default="")
    m.set_defaults(func=cmd_models)

    w = sub.add_parser("worker", help="run explanation and webhook workers without the API (any number of them)")
    w.add_argument("--workers", type=int, help="concurrent explanation jobs (default STUDIO_EXPLANATION_WORKERS)")
    w.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    w.set_defaults(func=cmd_worker)

    k = sub.add_parser("keys", help="API keys: create (prints the key once), list, revoke")
    k.add_argument("action", choices=["create", "list", "revoke"])
    k.add_argument("key_id", nargs="?", help="revoke: the key's id (key_...)")
    k.add_argument("--role", choices=["viewer", "analyst", "reviewer", "admin"])
    k.add_argument("--name")
    k.add_argument("--rate", type=float, help="the key's own rate limit, requests per second")
    k.add_argument("--burst", type=int, help="the key's own burst")
    k.add_argument("--all", action="store_true", help="list: include revoked keys")
    k.add_argument("--reason", default="")
    k.set_defaults(func=cmd_keys)

    b = sub.add_parser("baselines", help="recompute per-stream baselines (mean, volatility) from decisions")
    b.add_argument("action", choices=["refresh"])
    b.add_argument("--days", type=float, default=30.0)
    b.set_defaults(func=cmd_baselines)

    d = sub.add_parser("db", help="database schema (Alembic): current revision, upgrade, downgrade, new revision")
    d.add_argument("action", choices=["current", "upgrade", "downgrade", "revision"])
    d.add_argument("revision", nargs="?", help="downgrade: the revision to go down to")
    d.add_argument("--yes", action="store_true", help="downgrade: yes, drop what later revisions added")
    d.add_argument("--message", "-m", help="revision: what it changes (autogenerated from store/tables.py against "
                                             "the configured database, which must be at head)")
    d.set_defaults(func=cmd_db)

    a = sub.add_parser("audit", help="audit chain: verify (exit 1 if not ok), anchor (print SEQ:HASH), checkpoint")
    a.add_argument("action", choices=["verify", "anchor", "checkpoint"])
    a.add_argument("--expect-head", metavar="SEQ:HASH", help="verify: fail unless event SEQ has HASH (from anchor)")
    a.set_defaults(func=cmd_audit)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        return int(args.func(args))
    except StudioError as exc:
        print(json.dumps({"error": {"code": exc.code.value, "message": exc.message, "details": exc.details}},
                         default=str), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
