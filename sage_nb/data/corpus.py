"""Text corpora: the offline default built from the Python standard library, or the user's own texts.

The default corpus needs nothing but the running Python: the documentation topics of ``pydoc_data``,
the docstrings of every standard-library module, class and function (read with ``ast``, never by
importing), and the standard-library source code itself. Documents are sorted by a stable id, and the
held-out split is decided by a hash of that id, so the same Python gives the same corpus everywhere.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
import sysconfig
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Fraction of documents (by hash of their id) that form the held-out split.
HELD_OUT_FRACTION = 0.1
_SKIP_DIRS = {"test", "tests", "idlelib", "site-packages", "dist-packages", "lib2to3", "turtledemo", "__pycache__"}


@dataclass(frozen=True)
class Document:
    """One text of a corpus: ``kind`` is ``prose`` or ``code``; ``doc_id`` is stable across machines."""

    doc_id: str
    kind: str
    text: str

    @property
    def held_out(self) -> bool:
        """True when this document belongs to the held-out split."""
        digest = hashlib.sha256(self.doc_id.encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < HELD_OUT_FRACTION


def _stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS or part.startswith("test") for part in rel.parts[:-1]):
            continue
        if rel.name.startswith("test_"):
            continue
        files.append(path)
    return files


def _pydoc_topics() -> Iterator[Document]:
    from pydoc_data.topics import topics

    for name in sorted(topics):
        text = topics[name].strip()
        if text:
            yield Document(f"topic:{name}", "prose", text)


def _docstrings(path: Path, rel: str, tree: ast.Module) -> Iterator[Document]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=True)
            if doc and len(doc) >= 80:
                name = getattr(node, "name", "<module>")
                yield Document(f"doc:{rel}:{name}:{getattr(node, 'lineno', 0)}", "prose", doc)


def _code_chunks(rel: str, source: str, lines_per_chunk: int = 60) -> Iterator[Document]:
    lines = source.splitlines()
    for start in range(0, len(lines), lines_per_chunk):
        chunk = "\n".join(lines[start : start + lines_per_chunk]).strip()
        if len(chunk) >= 200:
            yield Document(f"code:{rel}:{start}", "code", chunk)


def stdlib_documents(kinds: Sequence[str] = ("prose", "code")) -> list[Document]:
    """All documents of the default corpus, in a stable order (prose first, then code)."""
    docs: list[Document] = []
    if "prose" in kinds:
        docs.extend(_pydoc_topics())
    root = Path(sysconfig.get_paths()["stdlib"])
    code: list[Document] = []
    for path in _stdlib_files():
        rel = path.relative_to(root).as_posix()
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        if "prose" in kinds:
            docs.extend(_docstrings(path, rel, tree))
        if "code" in kinds:
            code.extend(_code_chunks(rel, source))
    return docs + code


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass(frozen=True)
class Corpus:
    """A named list of documents. Build one with :func:`default_corpus` or :func:`corpus_from`."""

    name: str
    documents: tuple[Document, ...]

    def split(self, held_out: bool) -> Corpus:
        """The training (``held_out=False``) or held-out (``True``) part of this corpus."""
        part = "heldout" if held_out else "train"
        return Corpus(f"{self.name}-{part}", tuple(d for d in self.documents if d.held_out == held_out))

    def texts(self) -> list[str]:
        return [d.text for d in self.documents]

    def sentences(self, n: int, seed: int = 0, min_words: int = 4, max_words: int = 30) -> list[str]:
        """``n`` random sentences or code lines of ``min_words``–``max_words`` words (seeded; fewer if the corpus
        has fewer). Used as undesigned test texts, e.g. the designer ablation of the SAGE loop."""
        pieces: list[str] = []
        for doc in self.documents:
            for line in doc.text.splitlines():
                for piece in _SENTENCE_END.split(line.strip()):
                    if min_words <= len(piece.split()) <= max_words:
                        pieces.append(piece.strip())
        unique = sorted(set(pieces))
        return random.Random(seed).sample(unique, min(n, len(unique)))

    def __len__(self) -> int:
        return len(self.documents)


def default_corpus(kinds: Sequence[str] = ("prose", "code")) -> Corpus:
    """The offline default corpus: standard-library docs, docstrings and code of the running Python."""
    import sys

    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    return Corpus(f"stdlib-{version}-{'+'.join(kinds)}", tuple(stdlib_documents(kinds)))


def corpus_from(
    source: str | Path | Iterable[str] | object, name: str | None = None, text_field: str = "text"
) -> Corpus:
    """A corpus from the user's data: a list of strings, a text file, a folder of ``.txt`` files,
    or a Hugging Face ``datasets.Dataset`` (its ``text_field`` column)."""
    if isinstance(source, str | Path):
        path = Path(source)
        if path.is_dir():
            files = sorted(path.rglob("*.txt"))
            docs = [Document(f"file:{f.relative_to(path)}", "prose", f.read_text(encoding="utf-8")) for f in files]
        elif path.is_file():
            docs = [Document(f"file:{path.name}", "prose", path.read_text(encoding="utf-8"))]
        else:
            raise FileNotFoundError(f"No such corpus file or folder: {path}")
        label = name or path.name
    elif hasattr(source, "column_names"):
        if text_field not in source.column_names:  # type: ignore[attr-defined]
            raise KeyError(f"Dataset has no column {text_field!r}; columns: {source.column_names}")  # type: ignore[attr-defined]
        docs = [Document(f"row:{i}", "prose", t) for i, t in enumerate(source[text_field])]  # type: ignore[index]
        label = name or "dataset"
    else:
        texts = list(source)  # type: ignore[call-overload]
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("A corpus from an iterable needs strings")
        docs = [Document(f"text:{i}", "prose", t) for i, t in enumerate(texts)]
        label = name or hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:12]
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise ValueError("The corpus is empty: every text was blank")
    return Corpus(label, tuple(docs))
