"""Write a model in the Hub's folder layout, and put a finished folder in place atomically.

A reader of ``data/toy-clip`` (a notebook, a test running at the same time)
must see either the old checkpoint or the new one, never half of each. So a
checkpoint is written into a staging folder beside its destination
(:func:`staging_folder`), checked there, and then moved into place by
renames, which are atomic within one file system (:func:`publish`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["save_checkpoint", "staging_folder", "publish", "folder_megabytes"]


def save_checkpoint(model, processor, folder) -> None:
    """Write ``model`` and ``processor`` in the layout of the Hub's ``openai/clip-vit-*`` folders.

    ``config.json`` + ``model.safetensors``; the tokenizer as ``tokenizer.json``
    and ``tokenizer_config.json`` plus the classic ``vocab.json`` + ``merges.txt``
    that OpenAI-style tokenizers ship; ``preprocessor_config.json`` for the
    image processor; ``processor_config.json``. No pickle files.
    """
    folder = Path(folder)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    processor.image_processor.save_pretrained(folder)  # preprocessor_config.json, as on the Hub
    backend = json.loads(processor.tokenizer.backend_tokenizer.to_str())["model"]
    vocab = dict(sorted(backend["vocab"].items(), key=lambda kv: kv[1]))
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges = [" ".join(m) if isinstance(m, list) else m for m in backend["merges"]]
    (folder / "merges.txt").write_text("\n".join(["#version: 0.2", *merges]) + "\n", encoding="utf-8")


@contextlib.contextmanager
def staging_folder(destination):
    """A fresh, empty folder beside ``destination``; removed if the ``with`` block raises.

    Beside, not in the system's temporary folder, so that :func:`publish`
    moves it with a rename on the same file system.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{destination.name}-", dir=destination.parent))
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def publish(folder, destination) -> Path:
    """Replace ``destination`` with ``folder`` so that readers see the whole old or the whole new checkpoint.

    The files are made readable by everyone first (``mkdtemp`` creates a
    private folder). An existing ``destination`` is renamed aside, ``folder``
    renamed into its place, and only then is the old one deleted.
    """
    folder, destination = Path(folder), Path(destination)
    os.chmod(folder, 0o755)
    for f in folder.iterdir():
        os.chmod(f, 0o644)
    aside = None
    if destination.exists():
        aside = Path(tempfile.mkdtemp(prefix=f".{destination.name}-old-", dir=destination.parent))
        os.rename(destination, aside / destination.name)
    os.rename(folder, destination)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return destination


def folder_megabytes(folder) -> float:
    """Total size of the files directly in ``folder``, in MB (10**6 bytes)."""
    return sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file()) / 1e6


def run_facts(model, processor, start: float, cpu_start: float) -> dict:
    """What a model card reports about any CLIP training run: sizes, time, threads, library versions.

    ``start`` and ``cpu_start`` are ``time.perf_counter()`` and ``time.process_time()`` taken when
    training began; CPU time counts every thread of this process.
    """
    import time

    import torch
    import transformers

    return dict(
        parameters=sum(p.numel() for p in model.parameters()),
        vision_parameters=sum(p.numel() for p in model.vision_model.parameters()),
        text_parameters=sum(p.numel() for p in model.text_model.parameters()),
        train_seconds=round(time.perf_counter() - start, 1),
        train_cpu_seconds=round(time.process_time() - cpu_start, 1),
        threads=torch.get_num_threads(),
        vocab_size=len(processor.tokenizer),
        torch_version=torch.__version__,
        transformers_version=transformers.__version__,
    )
