"""pyramidion from Python: the differentiable successive-halving top-k as a PyTorch operator, the trainable
representation pooler as an ``nn.Module``, and the trained summarizer, its highlight view and ROUGE.

    import torch, pyramidion
    pooled, scores = pyramidion.successive_halving_topk(states, scores, 64)
    pooler = pyramidion.TopKPooler(d_model=512, k=64)
    summarizer = pyramidion.Summarizer("model.pt")
    summarizer.summarize(["a long document ..."], beam=4)

See docs/python.md.
"""
from typing import Optional, Tuple

# LibTorch's Python bindings must be loaded before the extension: it links against them.
import torch

from ._build_info import TORCH_VERSION as _BUILT_FOR_TORCH, VERSION as __version__

if torch.__version__.split(".")[:2] != _BUILT_FOR_TORCH.split(".")[:2]:
    raise ImportError(f"pyramidion was built for torch {_BUILT_FOR_TORCH}, this Python has torch {torch.__version__} "
                      f"({torch.__file__}): rebuild pyramidion against it (see docs/python.md)")

from . import _pyramidion  # noqa: E402
from ._pyramidion import Summarizer, rouge  # noqa: E402

__all__ = ["successive_halving_topk", "pool_documents", "TopKPooler", "Summarizer", "rouge"]


# The operators are the dispatcher's ops themselves (no Python wrapper in between): the same call works in eager
# code, under torch.jit.trace and inside torch.jit.script (which compiles no keyword-only Python defaults), and
# autograd runs the library's backward.
successive_halving_topk = torch.ops.pyramidion.successive_halving_topk
successive_halving_topk.__doc__ = """successive_halving_topk(states, scores, k, *, mask=None, base=20.0,
    flip_right=True, sort_back=True, hard=False) -> (embeddings, scores)

The differentiable successive-halving top-k (Pietruszka et al.): keeps k soft mixtures of the best of n.
states (batch, n, dim), scores (batch, n) in (0, 1], mask (batch, n) bool (True = real) ->
(embeddings (batch, k, dim), scores (batch, k)). k >= n returns the (masked) input. ValueError on bad shapes, k < 1,
NaN scores.
"""

pool_documents = torch.ops.pyramidion.pool_documents
pool_documents.__doc__ = """pool_documents(states, scores, mask, width, *, base=20.0, flip_right=True,
    sort_back=True, hard=False) -> (states, scores, mask)

The top-k per document, independent of batch padding (the models' pooling); mask must be right-padded. Documents no
longer than width pass through; longer ones keep width slots. states (batch, n, dim), scores (batch, n),
mask (batch, n) bool -> (batch, m, dim), (batch, m), (batch, m) with m = min(width, n).
"""


class TopKPooler(torch.nn.Module):
    """Trainable representation pooling, as the paper's pooler sits after an encoder layer.

    A scorer rates every representation, ``sigmoid(Linear(d_model, 1)) + 1e-5`` (computed in float32 at least), and
    the successive-halving top-k keeps k soft mixtures of the best ones, per document (see pool_documents).

    forward(states (batch, n, d_model), mask (batch, n) bool right-padded, optional) ->
    (pooled (batch, min(k, n), d_model), scores (batch, min(k, n)), mask (batch, min(k, n)) bool).
    Same numbers as the C++ ``RepresentationPooler`` with the same weights.
    """

    def __init__(self, d_model: int, k: int, *, base: float = 20.0, flip_right: bool = True,
                 sort_back: bool = True, hard_at_inference: bool = False, score_epsilon: float = 1e-5):
        super().__init__()
        if k < 1:
            raise ValueError(f"TopKPooler: k must be >= 1 (got {k})")
        self.k = k
        self.base = base
        self.flip_right = flip_right
        self.sort_back = sort_back
        self.hard_at_inference = hard_at_inference
        self.score_epsilon = score_epsilon
        self.scorer = torch.nn.Linear(d_model, 1)
        torch.nn.init.xavier_uniform_(self.scorer.weight)  # as the C++ pooler initializes it
        torch.nn.init.zeros_(self.scorer.bias)

    def score(self, states: torch.Tensor) -> torch.Tensor:
        """states (batch, n, d_model) -> scores (batch, n), float32 or float64."""
        logits = self.scorer(states).squeeze(-1)
        # float32 at least: 1e-5 and base^score differences vanish in bf16.
        dtype = torch.float64 if logits.dtype == torch.float64 else torch.float32
        return torch.sigmoid(logits.to(dtype)) + self.score_epsilon

    def forward(self, states: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if mask is None:
            mask = torch.ones(states.shape[:2], dtype=torch.bool, device=states.device)
        hard = self.hard_at_inference and not self.training
        return torch.ops.pyramidion.pool_documents(states, self.score(states), mask, self.k, base=self.base,
                                                   flip_right=self.flip_right, sort_back=self.sort_back, hard=hard)

    def extra_repr(self) -> str:
        return f"k={self.k}, base={self.base}, flip_right={self.flip_right}, sort_back={self.sort_back}"
