"""`signage schema`: JSON Schemas of the files people edit, for editors (yaml-language-server)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from signage.cli.options import output_folder
from signage.config import Config
from signage.errors import ConfigError
from signage.playlist.fileformat import PlaylistFile
from signage.playlist.simulate import Scenario

SCHEMAS = {"playlist.schema.json": PlaylistFile, "scenario.schema.json": Scenario, "config.schema.json": Config}


def schema_text(model) -> str:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema()}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(folder: Path) -> list[Path]:
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
    folder = output_folder("--out", Path(args.out))
    try:
        written = write_schemas(folder)
    except OSError as exc:
        raise ConfigError(f"--out {folder}: cannot write {exc.filename} ({exc.strerror}); give a folder with room"
                          " that this user can write") from None
    for path in written:
        print(f"wrote {path}")
    return 0
