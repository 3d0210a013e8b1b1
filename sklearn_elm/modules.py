"""Network modules: an MLP for tables, a small CNN and ResNet-32 for images.

Every module here takes ``n_classes`` and a ``head`` argument: ``"cosine"`` ends in
:class:`CosineLinear`, whose outputs are cosine similarities in [-1, 1] (the logits on which the
LDAM and ELM margins are defined, later multiplied by the scale ``s``), ``"linear"`` in a plain
``nn.Linear``. :class:`~sklearn_elm.ELMClassifier` fills in ``n_features`` (tables) or
``in_channels`` (images) and ``n_classes`` at ``fit``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLP", "CosineLinear", "ResNet32", "SmallCNN", "make_head"]

_HEADS = ("cosine", "linear")
_EPS = 1e-12  # F.normalize's default: rows of zeros give zero logits
_HALF = (torch.float16, torch.bfloat16)


def _row_norms(x):
    """``max(|x_i|, eps)`` over the last dimension, shape ``(..., 1)``, at least float32.

    The norms ``F.normalize`` divides by, computed as sqrt(max(Σ x², eps²)): the backward pass
    of ``torch.linalg.vector_norm`` adds a ``masked_fill`` over the whole input (for zero
    norms), which this form does without; at rows of zeros the clamp blocks the norm's gradient
    instead. Half-precision inputs (autocast) are squared in float32: in float16 x² overflows
    past 256.
    """
    if x.dtype in _HALF:
        x = x.float()
    return (x * x).sum(-1, keepdim=True).clamp_min(_EPS * _EPS).sqrt()


class CosineLinear(nn.Module):
    """Linear layer on L2-normalised features and L2-normalised class weights.

    ``out[i, k] = <x_i / |x_i|, w_k / |w_k|>``, the "NormedLinear" head of the LDAM and ELM
    reference code. Rows of zeros map to zero logits instead of NaN.

    Parameters
    ----------
    in_features : int
        Size of each input sample.
    out_features : int
        Number of outputs (classes).

    Attributes
    ----------
    weight : torch.nn.Parameter of shape (out_features, in_features)
        The class weights, normalised on each forward pass.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.modules import CosineLinear
    >>> head = CosineLinear(4, 3)
    >>> out = head(torch.randn(5, 4))
    >>> out.shape, bool(out.abs().max() <= 1 + 1e-6)
    (torch.Size([5, 3]), True)
    """

    def __init__(self, in_features, out_features):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)

    def forward(self, x):
        # <x/|x|, w_k> equals <x, w_k>/|x|: dividing the (N, K) product rather than normalising
        # the (N, D) input first makes the backward pass several D-wide element-wise ops cheaper
        weight = self.weight
        return (weight / _row_norms(weight)).matmul(x.mT).mT / _row_norms(x)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


def make_head(in_features, n_classes, head="cosine"):
    """The classifier head: :class:`CosineLinear` (``"cosine"``) or ``nn.Linear`` (``"linear"``).

    Parameters
    ----------
    in_features : int
        Size of the features the head receives.
    n_classes : int
        Number of outputs.
    head : {"cosine", "linear"}, default="cosine"
        Cosine similarities to normalised class weights (bounded logits, the scale of the ELM
        and LDAM margins) or an ordinary affine layer.

    Returns
    -------
    head : torch.nn.Module
        A new, freshly initialised layer.

    Examples
    --------
    >>> from sklearn_elm.modules import make_head
    >>> make_head(8, 2, "linear")
    Linear(in_features=8, out_features=2, bias=True)
    """
    if head == "cosine":
        return CosineLinear(in_features, n_classes)
    if head == "linear":
        return nn.Linear(in_features, n_classes)
    raise ValueError(f"head must be one of {_HEADS}, got {head!r}")


class MLP(nn.Module):
    """Multi-layer perceptron with ReLU, optional dropout and a cosine or linear head.

    Parameters
    ----------
    n_features : int
        Number of input features (inferred by the estimator).
    n_classes : int
        Number of classes (inferred by the estimator).
    hidden_layer_sizes : tuple of int, default=(100,)
        Widths of the hidden layers, as in scikit-learn's ``MLPClassifier``. ``()`` gives a
        linear model on the raw features.
    dropout : float in [0, 1), default=0.0
        Dropout after every hidden ReLU.
    head : {"cosine", "linear"}, default="cosine"
        Classifier head, see :func:`make_head`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.modules import MLP
    >>> MLP(n_features=4, n_classes=3, hidden_layer_sizes=(8,))(torch.randn(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_features, n_classes, hidden_layer_sizes=(100,), dropout=0.0,
                 head="cosine"):
        super().__init__()
        layers = []
        width = n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(inplace=True)]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        self.features = nn.Sequential(*layers)
        self.head = make_head(width, n_classes, head)

    def forward(self, x):
        return self.head(self.features(x))


def _conv_bn_relu(in_channels, out_channels):
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class SmallCNN(nn.Module):
    """A small convolutional network for 8×8 (digits) to 28×28 (MNIST-sized) images.

    Three 3×3 conv-BN-ReLU stages of ``width``, ``2·width`` and ``4·width`` channels, a 2×2
    max-pool after the first two when the image is large enough, global average pooling and a
    cosine or linear head.

    Parameters
    ----------
    in_channels : int, default=1
        Channels of the input images.
    n_classes : int, default=10
        Number of classes.
    width : int, default=32
        Channels of the first stage; the second and third have twice and four times as many.
    head : {"cosine", "linear"}, default="cosine"
        Classifier head, see :func:`make_head`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.modules import SmallCNN
    >>> SmallCNN(in_channels=1, n_classes=10, width=8)(torch.randn(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels=1, n_classes=10, width=32, head="cosine"):
        super().__init__()
        self.stage1 = nn.Sequential(*_conv_bn_relu(in_channels, width))
        self.stage2 = nn.Sequential(*_conv_bn_relu(width, 2 * width))
        self.stage3 = nn.Sequential(*_conv_bn_relu(2 * width, 4 * width))
        self.head = make_head(4 * width, n_classes, head)

    def forward(self, x):
        x = self.stage1(x)
        if min(x.shape[-2:]) >= 8:
            x = F.max_pool2d(x, 2)
        x = self.stage2(x)
        if min(x.shape[-2:]) >= 8:
            x = F.max_pool2d(x, 2)
        x = self.stage3(x)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class _BasicBlock(nn.Module):
    """CIFAR ResNet basic block with the parameter-free "option A" shortcut (He et al.)."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes - in_planes if (stride != 1 or in_planes != planes) else 0
        self.stride = stride

    def shortcut(self, x):
        if not self.pad:
            return x
        # subsample and zero-pad the channels, as in the LDAM/ELM ResNet-32
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.pad // 2
        return F.pad(x, (0, 0, 0, 0, half, self.pad - half))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet32(nn.Module):
    """ResNet-32 for 32×32 images, as used by the LDAM and ELM papers on CIFAR-LT.

    Three stages of 5 basic blocks with 16, 32 and 64 channels, global average pooling and a
    cosine (default, as in the papers) or linear head.

    Parameters
    ----------
    in_channels : int, default=3
        Channels of the input images.
    n_classes : int, default=10
        Number of classes.
    head : {"cosine", "linear"}, default="cosine"
        Classifier head, see :func:`make_head`.

    Examples
    --------
    >>> import torch
    >>> from sklearn_elm.modules import ResNet32
    >>> net = ResNet32(n_classes=10)
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> sum(p.numel() for p in net.parameters())
    464144
    """

    def __init__(self, in_channels=3, n_classes=10, head="cosine"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(5):
                blocks.append(_BasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
        self.blocks = nn.Sequential(*blocks)
        self.head = make_head(64, n_classes, head)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.blocks(out)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))
