# Paths ctest passes (tests/CMakeLists.txt): the build tree (the CLI binary, make_tiny_model) and the shared
# reference data; a test whose input is absent is skipped.
import os
import pathlib
import subprocess

import pytest


def env_path(name):
    value = os.environ.get(name)
    return pathlib.Path(value) if value else None


@pytest.fixture(scope="session")
def shared_dir():
    return env_path("PYRAMIDION_SHARED_DIR")


@pytest.fixture(scope="session")
def cli():
    binary = env_path("PYRAMIDION_BINARY_DIR")
    binary = binary / "pyramidion" if binary else None
    if binary is None or not binary.exists():
        pytest.skip("the pyramidion CLI is not built (PYRAMIDION_BINARY_DIR)")
    return binary


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """The server tests' tiny model (random float64 weights, a word tokenizer), written by make_tiny_model."""
    tool = env_path("PYRAMIDION_MAKE_TINY_MODEL")
    if tool is None or not tool.exists():
        pytest.skip("make_tiny_model is not built (it comes with the server tests)")
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    subprocess.run([str(tool), str(path)], check=True)
    return path
