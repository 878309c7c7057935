"""Model folders for tests and benchmarks of the model registry."""

import json
import shutil

from model.loader import DEFAULT_MODEL_DIR, METADATA_FILE


def copy_of_committed_model(folder, version):
    """The committed model's files under another version id (the same network)."""
    shutil.copytree(DEFAULT_MODEL_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    metadata = json.loads((folder / METADATA_FILE).read_text())
    metadata["version"] = version
    (folder / METADATA_FILE).write_text(json.dumps(metadata))
    return folder
