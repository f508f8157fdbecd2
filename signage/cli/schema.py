"""`signage schema`: JSON Schemas of the files people edit, for editors (yaml-language-server)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from signage.config import Config
from signage.playlist.schema import PlaylistFile
from signage.playlist.simulate import Scenario

SCHEMAS = {"playlist.schema.json": PlaylistFile, "scenario.schema.json": Scenario, "config.schema.json": Config}


def schema_text(model) -> str:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = folder / name
        path.write_text(schema_text(model), encoding="utf-8")
        written.append(path)
    return written


def add(commands) -> None:
    parser = commands.add_parser("schema", help="write JSON Schemas for editors (yaml-language-server)")
    parser.add_argument("--out", default="schemas", help="folder to write into (default: schemas/)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for path in write_schemas(Path(args.out)):
        print(f"wrote {path}")
    return 0
