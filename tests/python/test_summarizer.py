# The Summarizer, highlight and ROUGE from Python against the CLI on the same tiny model; threads; errors.
import json
import subprocess
import threading
import time

import pytest

import pyramidion

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu one two three four five").split()


def documents(count=5):
    docs = []
    for i in range(count):
        words = [WORDS[(7 * i + 3 * j + j * j) % len(WORDS)] for j in range(12 + 5 * i)]
        docs.append(" ".join(words))
    docs.append(["charlie delta echo .", "four five six seven ."])  # a document as its sentences
    return docs


OPTIONS = {"beam": 3, "nbest": 2, "lenpen": 0.8, "min_len": 2, "max_len_b": 12, "no_repeat_ngram_size": 2}


def run_cli(cli, *args):
    return subprocess.run([str(cli), "--log-level", "error", *map(str, args)], check=True, capture_output=True,
                          text=True).stdout


def test_summarize_equals_the_cli(cli, tiny_model, tmp_path):
    docs = documents()
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "article_text": d}) + "\n" for i, d in enumerate(docs)))
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in OPTIONS.items()]
    output = tmp_path / "out.jsonl"
    run_cli(cli, "summarize", "-m", tiny_model, "-i", source, "-o", output, "--device", "cpu", *flags)
    want = [[{"summary": h["summary"], "score": h["score"]} for h in json.loads(line)["hypotheses"]]
            for line in output.read_text().splitlines()]
    got = pyramidion.Summarizer(str(tiny_model)).summarize(docs, **OPTIONS)
    assert got == want
    assert all(len(hypotheses) == 2 and hypotheses[0]["score"] >= hypotheses[1]["score"] for hypotheses in got)


SAMPLING = {"beam": 2, "nbest": 2, "max_len_b": 12, "sampling": True, "sampling_topk": 8, "temperature": 1.5,
            "seed": 5}


@pytest.mark.parametrize("options", [SAMPLING, {"beam": 4, "nbest": 4, "max_len_b": 10, "diverse_beam_groups": 2,
                                                "diverse_beam_strength": 2.0}])
def test_sampling_and_diverse_beams_equal_the_cli(cli, tiny_model, tmp_path, options):
    # Every option of the generation option table has the same name here as in the HTTP API (the CLI's flag with
    # underscores); a sampled document depends only on the seed and its index, so Python equals the CLI.
    docs = documents()
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "article_text": d}) + "\n" for i, d in enumerate(docs)))
    flags = [f"--{name.replace('_', '-')}" + ("" if value is True else f"={value}") for name, value in options.items()]
    output = tmp_path / "out.jsonl"
    run_cli(cli, "summarize", "-m", tiny_model, "-i", source, "-o", output, "--device", "cpu", *flags)
    want = [[{"summary": h["summary"], "score": h["score"]} for h in json.loads(line)["hypotheses"]]
            for line in output.read_text().splitlines()]
    summarizer = pyramidion.Summarizer(str(tiny_model))
    assert summarizer.summarize(docs, **options) == want
    if options.get("sampling"):
        other = summarizer.summarize(docs, **{**options, "seed": 6})
        assert other != want
        with pytest.raises(ValueError, match="sampling_topp must be in"):
            summarizer.summarize(docs, **{**options, "sampling_topk": -1, "sampling_topp": 1.5})
        with pytest.raises(TypeError, match="sampling must be a bool"):
            summarizer.summarize(docs, sampling=1)


def test_two_threads_share_one_summarizer(tiny_model):
    summarizer = pyramidion.Summarizer(str(tiny_model), threads=1)
    docs = documents(6)
    batches = [docs[:4], docs[2:]]
    alone = [summarizer.summarize(batch, beam=2) for batch in batches]
    together = [None, None]

    def work(i):
        for _ in range(3):
            result = summarizer.summarize(batches[i], beam=2)
            together[i] = result if together[i] is None or together[i] == result else "changed"

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone


def test_the_gil_is_released_while_generating(tiny_model):
    summarizer = pyramidion.Summarizer(str(tiny_model), threads=1)

    def measure(docs):
        span = []

        def work():
            start = time.perf_counter()
            summarizer.summarize(docs, beam=4, nbest=4)
            span.append((start, time.perf_counter()))

        worker = threading.Thread(target=work)
        ticks = []
        worker.start()
        while worker.is_alive():  # this thread runs Python only while the worker's call has let the GIL go
            ticks.append(time.perf_counter())
            time.sleep(0.002)
        worker.join()
        start, end = span[0]
        return end - start, [t for t in ticks if start + 0.02 < t < end - 0.02]

    # One call long enough to tell (>= 0.2 s): the work doubles until it is, whatever the machine's speed.
    docs = documents(6) * 10
    for _ in range(8):
        length, inside = measure(docs)
        if length >= 0.2:
            break
        docs = docs * 2
    assert length >= 0.2, "the call was too short to tell"
    assert len(inside) >= 5, (length, len(inside))


def test_highlight_equals_the_cli_json(cli, tiny_model, tmp_path):
    text = "alpha bravo charlie delta . echo foxtrot golf hotel india . juliet kilo lima mike ."
    source = tmp_path / "doc.txt"
    source.write_text(text)
    numbers = tmp_path / "h.json"
    run_cli(cli, "highlight", "-m", tiny_model, "-i", source, "--input-format", "whole", "--json", numbers,
            "--device", "cpu", "--beam", "2")
    want = json.loads(numbers.read_text())
    got = pyramidion.Summarizer(str(tiny_model)).highlight(text, beam=2, id=str(source))
    assert got == want
    assert set(got) >= {"layers", "words", "sentences", "ranking", "summary"}
    assert len(got["layers"]) == 2  # the tiny model pools twice


def test_rouge_equals_the_cli(cli, tmp_path):
    targets = ["the cat sat on the mat .\nit was happy .", "running dogs ran far", "", "a b c d"]
    predictions = ["the cat was on a mat .", "the dog runs far away", "something", "a b c d"]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"target": t, "prediction": p}) + "\n" for t, p in zip(targets, predictions)))
    for stem in (True, False):
        want = json.loads(run_cli(cli, "rouge", "--pairs", pairs, "--json", *([] if stem else ["--no-stem"])))
        got = pyramidion.rouge(targets, predictions, use_stemmer=stem)
        assert got == want
    reseeded = pyramidion.rouge(targets, predictions, use_stemmer=False, seed=3, bootstrap_samples=50)
    assert reseeded["rouge1"]["fmeasure"]["mean"] == want["rouge1"]["fmeasure"]["mean"]
    assert reseeded["bootstrap_samples"] == 50 and reseeded["seed"] == 3
    with pytest.raises(ValueError):
        pyramidion.rouge(["a"], [])
    with pytest.raises(ValueError):  # the library's check (RougeBootstrapAggregator)
        pyramidion.rouge(targets, predictions, confidence=1.5)


def one_line(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message.strip() and "Exception raised from" not in message, message
    return message


def test_errors_are_python_exceptions(tiny_model, tmp_path):
    with pytest.raises(FileNotFoundError):
        pyramidion.Summarizer(str(tmp_path / "missing.pt"))
    with pytest.raises(IsADirectoryError):
        pyramidion.Summarizer(str(tmp_path))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(tiny_model.read_bytes()[:5000])
    with pytest.raises(RuntimeError) as truncated:
        pyramidion.Summarizer(str(corrupt))
    assert str(corrupt) in one_line(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model file at all\n" * 100)
    with pytest.raises(RuntimeError) as not_a_model:
        pyramidion.Summarizer(str(garbage))
    one_line(not_a_model)
    with pytest.raises(ValueError) as device:
        pyramidion.Summarizer(str(tiny_model), device="tpu")
    one_line(device)
    with pytest.raises(ValueError) as dtype:
        pyramidion.Summarizer(str(tiny_model), compute_type="int3")
    assert one_line(dtype).startswith("compute_type int3")

    summarizer = pyramidion.Summarizer(str(tiny_model))
    with pytest.raises(TypeError) as unknown:
        summarizer.summarize(["alpha bravo"], beams=2)
    assert "beams" in one_line(unknown)
    with pytest.raises(ValueError) as bad_value:
        summarizer.summarize(["alpha bravo"], beam=0)
    assert one_line(bad_value) == "beam must be in [1, 1024] (got 0)"
    with pytest.raises(ValueError) as bad_nbest:
        summarizer.summarize(["alpha bravo"], beam=2, nbest=3)
    assert "nbest" in one_line(bad_nbest)
    with pytest.raises(TypeError):
        summarizer.summarize(["alpha bravo"], beam="2")
    with pytest.raises(TypeError):
        summarizer.summarize("alpha bravo")  # a str is one document, not a list of them
    with pytest.raises(ValueError) as empty:
        summarizer.highlight("   ")
    one_line(empty)
    assert summarizer.summarize(["", "alpha bravo"], beam=1)[0] == []  # an empty document gets no hypothesis


def test_int8_compute_type_equals_the_cli(cli, tiny_model, tmp_path):
    # Summarizer(compute_type="int8") quantizes at load, as `summarize --compute-type int8` does: the same summaries.
    docs = documents()[:3]
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "article_text": d}) + "\n" for i, d in enumerate(docs)))
    output = tmp_path / "out.jsonl"
    run_cli(cli, "summarize", "-m", tiny_model, "-i", source, "-o", output, "--device", "cpu", "--compute-type", "int8",
            "--beam", "2", "--max-len-b", "8")
    want = [json.loads(line)["summary"] for line in output.read_text().splitlines()]
    summarizer = pyramidion.Summarizer(str(tiny_model), compute_type="int8")
    got = [hypotheses[0]["summary"] for hypotheses in summarizer.summarize(docs, beam=2, max_len_b=8)]
    assert got == want
    with pytest.raises(ValueError) as bad:
        pyramidion.Summarizer(str(tiny_model), compute_type="int4")
    assert one_line(bad).startswith("compute_type int4")
