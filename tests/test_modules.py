"""The network modules: ResNet-32, the small CNN, the MLP and the cosine head."""

import pytest
import torch
from torch import nn

from sklearn_elm.modules import MLP, CosineLinear, ResNet32, SmallCNN, make_head


def _n_params(module):
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------------- ResNet-32
def test_resnet32_has_three_stages_of_five_basic_blocks():
    net = ResNet32(n_classes=10)
    blocks = list(net.blocks)
    assert len(blocks) == 15
    # 16, 32 and 64 channels; each stage but the first starts with a stride-2 block
    assert [block.conv1.out_channels for block in blocks] == [16] * 5 + [32] * 5 + [64] * 5
    assert [block.stride for block in blocks] == [1] * 5 + [2, 1, 1, 1, 1] * 2
    # 1 stem conv + 2 convs per block = 31 convolutions, + the head = 32 weight layers
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 31
    assert all(conv.kernel_size == (3, 3) and conv.bias is None for conv in convs)


def test_resnet32_feature_maps_halve_at_each_stage():
    net = ResNet32(n_classes=10).eval()
    shapes = []
    for index in (4, 9, 14):  # the last block of each stage
        net.blocks[index].register_forward_hook(lambda m, i, out: shapes.append(out.shape[1:]))
    with torch.no_grad():
        net(torch.randn(2, 3, 32, 32))
    assert shapes == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]


def test_resnet32_output_shape_and_cosine_range():
    torch.manual_seed(0)
    net = ResNet32(n_classes=100).eval()
    with torch.no_grad():
        out = net(torch.randn(4, 3, 32, 32) * 10)
    assert out.shape == (4, 100)
    assert torch.all(out.abs() <= 1 + 1e-6)
    assert isinstance(net.head, CosineLinear)


def test_resnet32_parameter_count_matches_the_architecture():
    """Counted from the layer sizes: the shortcuts (option A) have no parameters."""
    conv = 9 * (3 * 16 + 5 * 2 * 16 * 16 + (16 * 32 + 32 * 32 + 4 * 2 * 32 * 32)
                + (32 * 64 + 64 * 64 + 4 * 2 * 64 * 64))
    batch_norm = 2 * (16 + 10 * 16 + 10 * 32 + 10 * 64)
    assert _n_params(ResNet32(n_classes=10)) == conv + batch_norm + 64 * 10 == 464_144
    assert _n_params(ResNet32(n_classes=10, head="linear")) == 464_144 + 10  # + the bias
    # the usual "ResNet-32 has 0.46M parameters"
    assert _n_params(ResNet32(n_classes=100)) == 464_144 + 64 * 90


def test_resnet32_shortcut_pads_channels_with_zeros():
    block = ResNet32(n_classes=10).blocks[5]  # 16 -> 32 channels, stride 2
    x = torch.randn(2, 16, 8, 8)
    shortcut = block.shortcut(x)
    assert shortcut.shape == (2, 32, 4, 4)
    assert torch.equal(shortcut[:, 8:24], x[:, :, ::2, ::2])
    assert torch.all(shortcut[:, :8] == 0) and torch.all(shortcut[:, 24:] == 0)


def test_resnet32_takes_other_channel_counts():
    net = ResNet32(in_channels=1, n_classes=3).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 1, 32, 32)).shape == (2, 3)


# ---------------------------------------------------------------------------------- SmallCNN
@pytest.mark.parametrize("size", [8, 28])
@pytest.mark.parametrize("head", ["cosine", "linear"])
def test_small_cnn_output_shape(size, head):
    net = SmallCNN(in_channels=1, n_classes=10, width=8, head=head).eval()
    with torch.no_grad():
        out = net(torch.randn(3, 1, size, size))
    assert out.shape == (3, 10)
    if head == "cosine":
        assert torch.all(out.abs() <= 1 + 1e-6)


def test_small_cnn_pools_only_large_enough_maps():
    net = SmallCNN(in_channels=3, n_classes=5, width=4).eval()
    sizes = []
    net.stage3.register_forward_hook(lambda m, i, out: sizes.append(tuple(out.shape[-2:])))
    with torch.no_grad():
        for size in (4, 8, 28):
            net(torch.randn(1, 3, size, size))
    # 8x8 pools once (to 4x4), 28x28 twice (to 7x7), 4x4 never
    assert sizes == [(4, 4), (4, 4), (7, 7)]


def test_small_cnn_width_sets_the_channels():
    net = SmallCNN(in_channels=1, n_classes=10, width=16)
    assert [net.stage1[0].out_channels, net.stage2[0].out_channels,
            net.stage3[0].out_channels] == [16, 32, 64]
    assert net.head.in_features == 64


# ---------------------------------------------------------------------------------- MLP
@pytest.mark.parametrize("hidden", [(), (7,), (5, 6)])
def test_mlp_shapes(hidden):
    net = MLP(n_features=4, n_classes=3, hidden_layer_sizes=hidden)
    assert net(torch.randn(2, 4)).shape == (2, 3)
    linears = [m for m in net.features if isinstance(m, nn.Linear)]
    assert [layer.out_features for layer in linears] == list(hidden)
    assert net.head.in_features == (hidden[-1] if hidden else 4)


def test_mlp_dropout_layers():
    net = MLP(n_features=4, n_classes=3, hidden_layer_sizes=(5, 6), dropout=0.3)
    dropouts = [m for m in net.features if isinstance(m, nn.Dropout)]
    assert len(dropouts) == 2 and all(d.p == 0.3 for d in dropouts)
    assert not any(isinstance(m, nn.Dropout) for m in MLP(4, 3, (5,)).modules())


# ---------------------------------------------------------------------------------- heads
def test_cosine_linear_is_invariant_to_the_input_scale():
    torch.manual_seed(0)
    head = CosineLinear(6, 4)
    x = torch.randn(5, 6)
    out = head(x)
    for scale in (1e-3, 0.5, 7.0, 1e4):
        torch.testing.assert_close(head(scale * x), out)
    # and to the scale of each class weight row
    with torch.no_grad():
        head.weight.mul_(torch.tensor([[0.1], [2.0], [5.0], [30.0]]))
    torch.testing.assert_close(head(x), out)


def test_cosine_linear_is_a_cosine_similarity():
    torch.manual_seed(1)
    head = CosineLinear(6, 4)
    x = torch.randn(5, 6)
    expected = nn.functional.cosine_similarity(x[:, None, :], head.weight[None, :, :], dim=2)
    torch.testing.assert_close(head(x), expected)
    # a row equal to a class weight has cosine 1 with it
    assert head(head.weight[2:3].detach() * 3)[0, 2].item() == pytest.approx(1.0)


def test_cosine_linear_matches_normalised_inputs_and_gradients():
    """Dividing the product by |x| is the normalise-then-multiply head, values and gradients."""
    torch.manual_seed(2)
    head = CosineLinear(7, 5).double()
    x = (torch.randn(9, 7, dtype=torch.float64) * torch.logspace(-3, 3, 9)[:, None])
    x.requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    w_ref = head.weight.detach().clone().requires_grad_(True)
    upstream = torch.randn(9, 5, dtype=torch.float64)
    (head(x) * upstream).sum().backward()
    reference = nn.functional.linear(nn.functional.normalize(x_ref, dim=1),
                                     nn.functional.normalize(w_ref, dim=1))
    (reference * upstream).sum().backward()
    torch.testing.assert_close(head(x), reference, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(head.weight.grad, w_ref.grad, rtol=1e-12, atol=1e-15)


def test_cosine_linear_zero_rows_give_zero_logits_and_finite_gradients():
    head = CosineLinear(3, 2)
    x = torch.zeros(2, 3, requires_grad=True)
    out = head(x)
    assert torch.equal(out.detach(), torch.zeros(2, 2))
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(head.weight.grad).all()


def test_cosine_linear_matches_f_normalize_in_float32_at_every_scale():
    """Values and gradients of the F.normalize head, rows of zeros and rows below eps included."""
    torch.manual_seed(3)
    head = CosineLinear(50, 10)
    scales = torch.tensor([0.0, 1e-20, 1e-6, 1.0, 1e6, 1e15]).repeat_interleave(4)
    x = (torch.relu(torch.randn(24, 50)) + 0.01) * scales[:, None]
    x.requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    w_ref = head.weight.detach().clone().requires_grad_(True)
    upstream = torch.randn(24, 10)
    out = head(x)
    reference = nn.functional.linear(nn.functional.normalize(x_ref, dim=1),
                                     nn.functional.normalize(w_ref, dim=1))
    (out * upstream).sum().backward()
    (reference * upstream).sum().backward()
    torch.testing.assert_close(out, reference, rtol=0, atol=1e-6)
    assert torch.equal(out[:4].detach(), torch.zeros(4, 10))
    # each row's gradient scales as 1/|x| (1/eps below eps): compare it to its own size
    error = (x.grad - x_ref.grad).abs().amax(dim=1)
    assert torch.all(error <= 1e-6 * x_ref.grad.abs().amax(dim=1))
    torch.testing.assert_close(head.weight.grad, w_ref.grad, rtol=1e-5, atol=1e-6)


def test_cosine_linear_squares_half_precision_inputs_in_float32():
    """Under float16 autocast, activations past 256 would overflow x², and eps² underflow."""
    torch.manual_seed(4)
    head = CosineLinear(6, 3)
    x = torch.randn(5, 6) * 1000
    x[0] = 0  # still zero logits, not 0/0
    with torch.autocast("cpu", dtype=torch.float16):
        activations = nn.functional.linear(x, torch.eye(6))  # float16, as from a hidden layer
        out = head(activations)
    assert activations.dtype == torch.float16
    expected = nn.functional.cosine_similarity(x[:, None, :], head.weight[None].detach(), dim=2)
    torch.testing.assert_close(out.float(), expected, rtol=0, atol=2e-3)


def test_make_head():
    assert isinstance(make_head(8, 3), CosineLinear)
    assert isinstance(make_head(8, 3, "linear"), nn.Linear)
    with pytest.raises(ValueError, match="head must be one of"):
        make_head(8, 3, "softmax")


# ---------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize(
    "module, x",
    [
        (lambda: MLP(n_features=4, n_classes=3, hidden_layer_sizes=(5,)), (6, 4)),
        (lambda: SmallCNN(in_channels=1, n_classes=3, width=4), (6, 1, 8, 8)),
        (lambda: ResNet32(in_channels=3, n_classes=3), (4, 3, 32, 32)),
    ],
    ids=["mlp", "cnn", "resnet32"],
)
def test_gradients_reach_every_parameter(module, x):
    torch.manual_seed(0)
    net = module()
    logits = 30 * net(torch.randn(*x))
    loss = nn.functional.cross_entropy(logits, torch.arange(x[0]) % 3)
    loss.backward()
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name
