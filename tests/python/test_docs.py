# docs/python.md runs as written: its python code blocks, in order, in one fresh interpreter, in a folder where
# pyramidion-demo/ holds the tiny test model and a test.jsonl in the demo's layout.
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike".split()


def doc_blocks():
    source = os.environ.get("PYRAMIDION_SOURCE_DIR")
    path = pathlib.Path(source) / "docs/python.md" if source else None
    if path is None or not path.exists():
        pytest.skip("docs/python.md not found (PYRAMIDION_SOURCE_DIR)")
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)


def test_python_md_code_blocks_run(tiny_model, tmp_path):
    blocks = doc_blocks()
    assert len(blocks) >= 4
    demo = tmp_path / "pyramidion-demo"
    demo.mkdir()
    (demo / "model.pt").write_bytes(tiny_model.read_bytes())
    with open(demo / "test.jsonl", "w") as f:
        for i in range(3):
            sentences = [" ".join(WORDS[(i + j + s) % len(WORDS)] for j in range(6)) + " ." for s in range(3)]
            f.write(json.dumps({"article_id": f"doc{i}", "article_text": sentences,
                                "abstract_text": [f"<S> {sentences[0]} </S>"]}) + "\n")
    env = dict(os.environ)  # the module's path made absolute: the blocks run in another folder
    env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)
    result = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=tmp_path, capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    print(out)
    losses = [float(x) for x in re.findall(r"step \d+: loss ([0-9.]+)", out)]
    assert len(losses) == 5 and losses[-1] < losses[0] / 5, losses  # the doc's model learned its task
    assert "most kept sentence:" in out and "rouge2" in out, out
