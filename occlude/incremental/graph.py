"""Walk a Keras functional graph into a flat list of nodes the engine can run.

Nested functional models and built Sequential models are flattened into the outer graph
(unless they cast their input); every other operation becomes one node. Each node keeps
the Keras node's call arguments, so running a node in full calls the layer exactly as the
model does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from occlude.errors import UsageError
from occlude.incremental.layers import classify
from occlude.incremental.regions import Opaque, Pointwise, Spec


@dataclass
class Node:
    """A node of the flattened graph: its pure spec and how to call it on tensors."""

    spec: Spec
    op: Any = None
    arguments: Any = None
    keys: tuple[int, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def call(self, values: Mapping[int, Any]) -> Any:
        """Run the Keras operation in full on its inputs' values (inference mode)."""
        table = {key: values[i] for key, i in zip(self.keys, self.spec.inputs, strict=True)}
        args, kwargs = self.arguments.fill_in(table)
        if getattr(self.op, "_call_has_training_arg", False):
            kwargs["training"] = False
        return self.op(*args, **kwargs)


class GraphError(Exception):
    """The model cannot be flattened (several inputs or outputs, a multi-output layer, an
    input that is not float32)."""


def build_graph(model: Any, size: tuple[int, int]) -> list[Node]:
    """Flatten ``model`` for (height, width) inputs; node 0 is the image, the last the output.

    Raises :class:`GraphError` when the graph has a shape the engine does not walk; the
    caller then treats the whole model as one opaque node.
    """
    fn = _functional(model)
    if fn is None:
        raise GraphError(f"{type(model).__name__} is not a built functional model")
    if len(fn.inputs) != 1 or len(fn.outputs) != 1:
        raise GraphError("the model needs one input and one output")
    dtype = str(fn.inputs[0].dtype)
    if dtype != "float32":  # the model casts its input (127.5 -> 127): tiles would not
        raise GraphError(f"it takes {dtype} input; the engine works in float32")
    channels = fn.inputs[0].shape[-1]
    nodes = [Node(Spec("input", Pointwise(), (), size), meta={"channels": channels})]
    shapes: dict[int, tuple[Any, ...]] = {0: (None, *size, channels)}
    out = _walk(fn, [0], nodes, shapes)
    if out[0] != len(nodes) - 1:
        raise GraphError("the model's output is not its last operation")
    return nodes


def whole_model_graph(model: Any, size: tuple[int, int], reason: str) -> list[Node]:
    """The fallback: the whole model as one opaque node after the image."""

    class _Call:
        def fill_in(self, table: dict[int, Any]) -> tuple[list[Any], dict[str, Any]]:
            return [table[0]], {}

    image = Node(Spec("input", Pointwise(), (), size), meta={"channels": 3})
    whole = Node(
        Spec(model.name, Opaque(reason), (0,), None), op=model, arguments=_Call(), keys=(0,)
    )
    return [image, whole]


def _functional(model: Any) -> Any:
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "inputs"):
        return model
    inner = getattr(model, "_functional", None)
    if inner is not None and hasattr(inner, "_nodes_by_depth"):
        return inner
    return None


def _walk(fn: Any, input_ids: list[int], nodes: list[Node], shapes: dict[int, Any]) -> list[int]:
    ids: dict[int, int] = {id(t): i for t, i in zip(fn.inputs, input_ids, strict=True)}
    for depth in sorted(fn._nodes_by_depth, reverse=True):
        for knode in fn._nodes_by_depth[depth]:
            if knode.operation is None or knode.is_input:
                continue
            tensors = list(knode.input_tensors)
            if any(id(t) not in ids for t in tensors):
                continue
            if len(knode.outputs) != 1:
                raise GraphError(f"{knode.operation.name} has {len(knode.outputs)} outputs")
            ins = [ids[id(t)] for t in tensors]
            inner = _functional(knode.operation) if knode.operation is not fn else None
            if inner is not None and _inlined(inner, tensors):
                ids[id(knode.outputs[0])] = _walk(inner, ins, nodes, shapes)[0]
                continue
            ids[id(knode.outputs[0])] = _add_node(knode, ins, nodes, shapes)
    return [ids[id(t)] for t in fn.outputs]


def _inlined(inner: Any, tensors: list[Any]) -> bool:
    """Whether a nested model is flattened into the graph: one input, which it does not
    cast (a model casts its input to its input's dtype; its layers alone would not)."""
    return (
        len(inner.inputs) == 1
        and len(tensors) == 1
        and str(inner.inputs[0].dtype) == str(tensors[0].dtype)
    )


def _add_node(knode: Any, ins: list[int], nodes: list[Node], shapes: dict[int, Any]) -> int:
    op = knode.operation
    in_shapes = [shapes[i] for i in ins]
    out_shape, out_dtype = _output_spec(knode, ins, shapes)
    dtypes = [*(str(t.dtype) for t in knode.input_tensors), out_dtype]
    rule, size, macs = classify(op, in_shapes, out_shape, dtypes)
    keys = tuple(id(t) for t in knode.input_tensors)
    index = len(nodes)
    meta = {"float32": all(d == "float32" for d in dtypes)}
    spec = Spec(op.name, rule, tuple(ins), size, macs)
    nodes.append(Node(spec, op, knode.arguments, keys, meta))
    shapes[index] = out_shape
    return index


def _output_spec(knode: Any, ins: list[int], shapes: dict[int, Any]) -> tuple[tuple[Any, ...], str]:
    """The node's output shape and dtype for the engine's input size (symbolic)."""
    import keras

    table = {
        id(t): keras.KerasTensor(shapes[i], dtype=t.dtype)
        for t, i in zip(knode.input_tensors, ins, strict=True)
    }
    args, kwargs = knode.arguments.fill_in(table)
    op = knode.operation
    if getattr(op, "_call_has_training_arg", False):
        kwargs["training"] = False
    try:
        spec = op.compute_output_spec(*args, **kwargs)
    except Exception as exc:
        raise GraphError(f"{op.name}: cannot infer its output shape ({exc})") from None
    if isinstance(spec, list | tuple):
        raise GraphError(f"{op.name} returns several tensors")
    return tuple(spec.shape), str(spec.dtype)


def check_size(model: Any, input_size: tuple[int, int] | None) -> tuple[int, int]:
    """The (height, width) the engine works at: the model's own, or ``input_size``."""
    try:
        inputs = list(getattr(model, "inputs", None) or [])
    except (AttributeError, ValueError):  # a subclassed model has no symbolic inputs
        inputs = []
    if not inputs and input_size is not None:
        return _positive(input_size)
    if not inputs:
        raise UsageError(
            "model has no symbolic input (a subclassed model?): pass input_size=(height, width)"
        )
    shape = tuple(inputs[0].shape) if len(inputs) == 1 else ()
    if len(shape) != 4:
        raise UsageError(
            f"model must take one (batch, height, width, channels) input; received inputs "
            f"of shapes {[tuple(t.shape) for t in inputs]}"
        )
    fixed = (shape[1], shape[2])
    if input_size is not None:
        size = (int(input_size[0]), int(input_size[1]))
        if min(size) < 1 or any(f is not None and f != s for f, s in zip(fixed, size, strict=True)):
            raise UsageError(
                f"input_size must be positive and match the model's input {fixed}; "
                f"received input_size={input_size}"
            )
        return size
    if fixed[0] is None or fixed[1] is None:
        raise UsageError(
            f"the model's input size is not fixed ({fixed}); pass input_size=(height, width)"
        )
    return int(fixed[0]), int(fixed[1])


def _positive(input_size: tuple[int, int]) -> tuple[int, int]:
    size = (int(input_size[0]), int(input_size[1]))
    if min(size) < 1:
        raise UsageError(f"input_size must be positive; received input_size={input_size}")
    return size
