"""`signage models`: fetch, verify or list the pinned model files; quantize makes the int8 ones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable

from signage import modelfiles


def add(commands) -> None:
    parser = commands.add_parser("models", help="fetch, verify or list the pinned model files; quantize makes the "
                                 "int8 ones")
    parser.add_argument("action", choices=["fetch", "verify", "list", "quantize"])
    parser.add_argument("--samples", action="store_true", help="also the sample media (demo, tests, bench)")
    parser.add_argument("--repin", action="store_true", help="quantize: pin in models/models.yaml what the installed "
                        "versions make (`make lock` does this after refreshing the lock)")
    parser.set_defaults(handler=run)


def make_int8_models(assets: Iterable[modelfiles.Derived], directory: Path, samples: Path,
                     repin: Path | None = None) -> list[str]:
    """Make the pinned int8 models in `directory`, calibrated on the pinned sample media:
    the manifest resolves and verifies the files, vision's recipe is given their paths."""
    from signage.vision.quantize import RECIPE, int8_maker

    calibration = [modelfiles.require(sample, samples) for sample in modelfiles.samples().values()]
    return modelfiles.derive(assets, directory, RECIPE, int8_maker(calibration), repin=repin)


def run(args: argparse.Namespace) -> int:
    manifest = modelfiles.load_manifest()
    if args.action == "quantize":
        modelfiles.fetch(manifest["models"].values(), modelfiles.models_dir())
        modelfiles.fetch(manifest["samples"].values(), modelfiles.samples_dir())
        repin = modelfiles.manifest_path() if args.repin else None
        for line in make_int8_models(manifest["derived"].values(), modelfiles.models_dir(), modelfiles.samples_dir(),
                                     repin):
            print(line)
        return 0
    groups = [("models", modelfiles.models_dir()), ("derived", modelfiles.models_dir())]
    if args.samples:
        groups.append(("samples", modelfiles.samples_dir()))
    failed = False
    for section, directory in groups:
        assets = manifest[section].values()
        if args.action == "fetch" and section == "derived":
            continue  # made, not fetched: `signage models quantize`
        if args.action == "fetch":
            for line in modelfiles.fetch(assets, directory):
                print(line)
        else:
            for asset in assets:
                state = modelfiles.status(asset, directory)
                failed |= state != "ok"
                if args.action == "list":
                    print(f"{state:9}{asset.file:42}{asset.origin:36}{asset.licence}")
                elif state != "ok":
                    print(f"{state:9}{directory / asset.file}")
            if args.action == "verify" and not failed:
                print(f"ok: {len(assets)} {section} verified in {directory}")
    if failed:
        print(f"some files are missing or corrupt: {modelfiles.FETCH_HINT}; int8 models: {modelfiles.DERIVE_HINT}",
              file=sys.stderr)
    return 1 if failed else 0
