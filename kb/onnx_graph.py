"""A minimal ONNX model writer: enough of the protobuf schema to describe a graph.

Why not ``torch.onnx.export``: in torch 2.13 even the legacy TorchScript
exporter (``dynamo=False``) imports the ``onnx`` package, and the dynamo one
needs ``onnxscript`` too; neither is installed by ``requirements.txt``. The
ONNX file format is a protobuf ``ModelProto`` whose few messages are easy to
write by hand, so the e5 encoder graph is written here directly -- no extra
package, and no torch needed to build it. Field numbers are those of
``onnx/onnx.proto`` (IR version 8).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

# TensorProto.DataType
FLOAT, UINT8, INT32, INT64 = 1, 2, 6, 7
_NP_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8,
             np.dtype(np.int32): INT32, np.dtype(np.int64): INT64}
# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_INTS = 1, 2, 3, 7


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 values are written as 10-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _bytes(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _key(number, 2) + _varint(len(data)) + data


def _float(number: int, value: float) -> bytes:
    return _key(number, 5) + struct.pack("<f", value)


def tensor(name: str, array: np.ndarray) -> bytes:
    """TensorProto with raw little-endian data."""
    array = np.ascontiguousarray(array)
    out = b"".join(_int(1, d) for d in array.shape)
    return out + _int(2, _NP_TYPES[array.dtype]) + _bytes(8, name) + _bytes(9, array.tobytes())


def _attribute(name: str, value) -> bytes:
    if isinstance(value, float):
        return _bytes(1, name) + _float(2, value) + _int(20, _ATTR_FLOAT)
    if isinstance(value, int):
        return _bytes(1, name) + _int(3, value) + _int(20, _ATTR_INT)
    if isinstance(value, str):
        return _bytes(1, name) + _bytes(4, value) + _int(20, _ATTR_STRING)
    if isinstance(value, (list, tuple)):
        return _bytes(1, name) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
    raise TypeError(f"attribute {name}: unsupported type {type(value).__name__}")


def _value_info(name: str, elem_type: int, dims: list[int | str]) -> bytes:
    shape = b"".join(
        _bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in dims
    )
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


@dataclass
class Graph:
    """Nodes and initializers, added in order; :meth:`model` serialises them."""

    name: str
    nodes: list[bytes] = field(default_factory=list)
    initializers: list[bytes] = field(default_factory=list)
    inputs: list[bytes] = field(default_factory=list)
    outputs: list[bytes] = field(default_factory=list)
    _count: int = 0

    def input(self, name: str, elem_type: int, dims: list[int | str]) -> str:
        self.inputs.append(_value_info(name, elem_type, dims))
        return name

    def output(self, name: str, elem_type: int, dims: list[int | str]) -> None:
        self.outputs.append(_value_info(name, elem_type, dims))

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(tensor(name, array))
        return name

    def op(self, op_type: str, inputs: list[str], domain: str = "", out: str | None = None, **attrs) -> str:
        """Add a node with one output; returns the output's name."""
        self._count += 1
        out = out or f"{op_type.lower()}_{self._count}"
        node = b"".join(_bytes(1, i) for i in inputs) + _bytes(2, out) + _bytes(3, f"n{self._count}")
        node += _bytes(4, op_type) + b"".join(_bytes(5, _attribute(k, v)) for k, v in attrs.items())
        if domain:
            node += _bytes(7, domain)
        self.nodes.append(node)
        return out

    def model(self, opsets: dict[str, int], producer: str) -> bytes:
        graph = b"".join(_bytes(1, n) for n in self.nodes) + _bytes(2, self.name)
        graph += b"".join(_bytes(5, t) for t in self.initializers)
        graph += b"".join(_bytes(11, v) for v in self.inputs) + b"".join(_bytes(12, v) for v in self.outputs)
        model = _int(1, 8) + _bytes(2, producer)
        model += b"".join(_bytes(8, (_bytes(1, d) if d else b"") + _int(2, v)) for d, v in opsets.items())
        return model + _bytes(7, graph)
