"""The ``gridwatch`` command line: parses arguments, then hands over to the side that does the work.

Imports of ``edge`` and ``central`` happen inside each command, so an edge box without the hub's
packages can still run ``gridwatch edge`` and ``gridwatch analyze``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gridwatch import __version__
from gridwatch.config import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "yongshan"
ROLES = ("dispatcher", "maintainer", "grid_worker", "department", "admin")  # central.roles.USER_ROLES


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridwatch",
        description="Camera alerts to grid work orders: edge workers watch the streams, the hub turns "
                    "alerts into work orders for the town's departments and grid workers.",
    )
    parser.add_argument("--version", action="version", version=f"gridwatch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="hub on SQLite plus edge workers on bundled footage",
                       description="Run the hub on SQLite and an edge worker on bundled footage in which "
                                   "roads get blocked; open http://127.0.0.1:8000 to watch work orders "
                                   "appear. Uses two ports: --port for the hub and console, the next one "
                                   "for the edge worker's live view. Keeps its database in --data-dir "
                                   "between runs (--fresh starts over). Ctrl-C or kill (SIGTERM) stops "
                                   "the hub and the edge worker too.")
    p.add_argument("--host", default="127.0.0.1", help="hub address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000,
                   help="hub and console port (default 8000); the edge's live view takes the next one")
    p.add_argument("--data-dir", type=Path, default=Path("var/demo"),
                   help="where the demo keeps its database, outbox and clips (default var/demo)")
    p.add_argument("--duration", type=float, default=None,
                   help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--fresh", action="store_true",
                   help="forget earlier runs first: delete the demo's database, outbox and media")

    p = sub.add_parser("hub", help="run the central hub",
                       description="Run the FastAPI hub: alert intake, incidents, work orders, feed, "
                                   "Open311, camera health, metrics, console.")
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="town config directory or file")
    p.add_argument("--db", default=None,
                   help="database URL (default sqlite:///var/gridwatch.db; postgresql+psycopg://... for "
                        "PostgreSQL)")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="listen port (default 8000)")
    p.add_argument("--workers", type=int, default=1,
                   help="uvicorn worker processes (on PostgreSQL, or on one SQLite file on this machine)")
    p.add_argument("--media-dir", type=Path, default=None,
                   help="where snapshots and clips are stored (default: next to the SQLite file, or "
                        "var/media)")
    p.add_argument("--access-log", action="store_true",
                   help="log one line per HTTP request (default off: at hundreds of alerts a second "
                        "it costs a tenth of the request path; /metrics counts alerts and heartbeats "
                        "either way)")

    p = sub.add_parser("token", help="manage bearer tokens")
    tsub = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    t = tsub.add_parser("create", help="print a new bearer token (stored hashed)",
                        description="Create a bearer token for a user role or an edge node and print it "
                                    "once; only its hash is stored.")
    t.add_argument("--role", required=True, choices=(*ROLES, "edge"),
                   help="user role, or 'edge' for an edge node's token")
    t.add_argument("--node", default=None, help="edge node id (required with --role edge)")
    t.add_argument("--department", default=None,
                   help="department id the token acts for (required with --role department)")
    t.add_argument("--name", default=None, help="who the token is for (user name), for the record")
    t.add_argument("--db", default=None, help="database URL (as for 'gridwatch hub')")
    t.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="town config (to check --node)")

    p = sub.add_parser("config", help="load the town folder into the hub's registry, or write it out",
                       description="The hub keeps the town's configuration (cameras above all) in its "
                                   "database; the YAML town folder is how it is loaded and saved.")
    csub = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    c = csub.add_parser("import", help="load a town folder into the registry (validated; all or nothing)")
    c.add_argument("dir", type=Path, help="town folder (cameras.yaml, grids.yaml, ...)")
    c.add_argument("--db", default=None, help="database URL (as for 'gridwatch hub')")
    c = csub.add_parser("export", help="write the registry out as a town folder")
    c.add_argument("dir", type=Path, help="folder to write (made if missing; section files overwritten)")
    c.add_argument("--db", default=None, help="database URL (as for 'gridwatch hub')")

    p = sub.add_parser("cameras", help="camera ledger import")
    msub = p.add_subparsers(dest="cameras_command", required=True, metavar="ACTION")
    m = msub.add_parser("import", help="create or update cameras from a camera ledger (.xlsx or .csv)",
                        description="Columns are found by header, Chinese or English (编号/id, 名称/name, "
                                    "村/village, 网格/grid, 经度/lon, 纬度/lat, IP, 品牌/brand, "
                                    "通道/channel, 账号/user, 密码引用/password_ref, 节点/node); stream URLs "
                                    "come from the "
                                    "brand's template. One bad row and nothing is imported.")
    m.add_argument("ledger", type=Path, help="LEDGER.xlsx or LEDGER.csv")
    m.add_argument("--db", default=None, help="database URL (as for 'gridwatch hub')")
    m.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                   help="town folder that seeds an empty registry (default: the sample town)")
    m.add_argument("--main-template", default=None,
                   help="main-stream URL template for other brands, with {user} {password} {ip} {channel}")
    m.add_argument("--sub-template", default=None, help="sub-stream URL template for other brands")
    m.add_argument("--dry-run", action="store_true", help="check every row, import nothing")

    p = sub.add_parser("edge", help="run an edge worker for one node's cameras",
                       description="Read the node's camera streams, check camera health, detect "
                                   "obstructions, and deliver alerts and heartbeats to the hub through an "
                                   "on-disk outbox.")
    p.add_argument("--config", type=Path, required=True, help="town config directory or file")
    p.add_argument("--node", required=True, help="edge node id from the config")
    p.add_argument("--hub", default=None, help="hub base URL (default: edge.hub_url from the config)")
    p.add_argument("--token-file", type=Path, default=None,
                   help="file holding this node's bearer token (default: $GRIDWATCH_TOKEN)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="outbox and clip folder (default: edge.data_dir/NODE from the config)")
    p.add_argument("--live-port", type=int, default=None,
                   help="port for live-view signalling from the hub (default: off)")
    p.add_argument("--secrets", type=Path, default=None,
                   help="YAML file of camera secrets (name: value), filling {password} in stream URLs "
                        "(default: $GRIDWATCH_SECRET_<NAME> only)")

    p = sub.add_parser("analyze", help="analyse one video file offline",
                       description="Run the live pipeline over one video file and print one JSON object "
                                   "per event: kind, start_s, end_s, score, bbox.")
    p.add_argument("video", type=Path, help="video file")
    p.add_argument("--config", type=Path, default=None, help="town config (with --camera)")
    p.add_argument("--camera", default=None, help="camera id whose regions and settings to use")
    p.add_argument("--roi", action="append", default=[], metavar="NAME=x,y x,y ...",
                   help="region of interest in 0..1 coordinates; repeatable (road, slope, mask)")
    p.add_argument("--snapshots", type=Path, default=None, help="write each event's snapshot here")
    p.add_argument("--adaptive", action="store_true",
                   help="decode at the edge's adaptive rate: key frames only while the scene is quiet, "
                        "analysis_fps while anything could become an event (detection.adaptive_rate)")

    p = sub.add_parser("eval", help="evaluate the detectors on a labelled set",
                       description="Run 'analyze' over every clip of a labelled set and print event-level "
                                   "precision, recall, median time-to-detect and false alarms per "
                                   "camera-hour.")
    p.add_argument("dir", type=Path, help="folder of clips with labels (see models/README.md)")
    p.add_argument("--report", type=Path, default=None, help="write an HTML report here")
    p.add_argument("--json", type=Path, default=None, help="write the figures as JSON here")
    p.add_argument("--jobs", type=int, default=None, help="parallel clips (default: CPU count)")
    p.add_argument("--adaptive", action="store_true",
                   help="analyse each clip at the edge's adaptive rate (as 'analyze --adaptive')")
    p.add_argument("--split", choices=["dev", "test"], default=None,
                   help="DIR is a generated split (python -m models.evalset.generate DIR --split S): score "
                        "every seed at sampling phases 0, 0.25, 0.5, 0.75 s and print each cell, the mean "
                        "and the worst cell")
    p.add_argument("--decision", choices=["learned", "rules"], default=None,
                   help="how standing components are judged (detection.decision; default: its default)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from gridwatch.logs import setup_logging

    setup_logging(verbose=args.verbose)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"gridwatch: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from gridwatch.demo import run_demo

        return run_demo(host=args.host, port=args.port, data_dir=args.data_dir, duration=args.duration,
                        fresh=args.fresh)
    if args.command == "hub":
        from central.server import serve

        return serve(config=args.config, db=args.db, host=args.host, port=args.port,
                     workers=args.workers, media_dir=args.media_dir, access_log=args.access_log)
    if args.command == "token":
        from central.tokens import create_token_cli

        return create_token_cli(role=args.role, node=args.node, name=args.name, db=args.db,
                                config=args.config, department=args.department)
    if args.command == "config":
        from central.registry_cli import config_export, config_import

        if args.config_command == "import":
            return config_import(args.dir, args.db)
        return config_export(args.dir, args.db)
    if args.command == "cameras":
        from central.registry_cli import cameras_import

        return cameras_import(args.ledger, args.db, args.config, args.main_template, args.sub_template,
                              args.dry_run)
    if args.command == "edge":
        from edge.worker import run_worker

        return run_worker(config=args.config, node=args.node, hub=args.hub, token_file=args.token_file,
                          data_dir=args.data_dir, live_port=args.live_port, secrets_file=args.secrets)
    if args.command == "analyze":
        from edge.analyze import analyze_cli

        return analyze_cli(video=args.video, config=args.config, camera=args.camera, rois=args.roi,
                           snapshots=args.snapshots, adaptive=args.adaptive)
    if args.command == "eval":
        from edge.evaluate import eval_cli

        return eval_cli(directory=args.dir, report=args.report, json_out=args.json, jobs=args.jobs,
                        split=args.split, adaptive=args.adaptive, decision=args.decision)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
