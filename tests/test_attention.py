"""Our from-scratch attention against torch.nn.MultiheadAttention, weight for weight."""
import pytest
import torch
from torch import nn

from audiolab.models.attention import MultiHeadSelfAttention


def copy_into_torch(ours: MultiHeadSelfAttention) -> nn.MultiheadAttention:
    ref = nn.MultiheadAttention(ours.d_model, ours.heads, bias=True, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(torch.cat([ours.query.weight, ours.key.weight, ours.value.weight]))
        ref.in_proj_bias.copy_(torch.cat([ours.query.bias, ours.key.bias, ours.value.bias]))
        ref.out_proj.weight.copy_(ours.out.weight)
        ref.out_proj.bias.copy_(ours.out.bias)
    return ref.eval()


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_matches_torch_multihead_attention(heads):
    torch.manual_seed(heads)
    ours = MultiHeadSelfAttention(d_model=32, heads=heads).eval()
    ref = copy_into_torch(ours)
    x = torch.randn(3, 11, 32)
    out, weights = ours(x, need_weights=True)
    ref_out, ref_weights = ref(x, x, x, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights, atol=1e-5, rtol=1e-5)


def test_weights_are_distributions_and_optional():
    attn = MultiHeadSelfAttention(16, 4).eval()
    out, weights = attn(torch.randn(2, 5, 16), need_weights=True)
    assert out.shape == (2, 5, 16)
    assert weights.shape == (2, 4, 5, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 5))
    assert attn(torch.randn(2, 5, 16))[1] is None


def test_heads_split_the_model_width():
    """With one head per feature group, changing another head's keys cannot change head 0's map."""
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(8, 2).eval()
    x = torch.randn(1, 6, 8)
    _, before = attn(x, need_weights=True)
    with torch.no_grad():
        attn.key.weight[4:] += 1.0  # rows 4..7 belong to head 1
    _, after = attn(x, need_weights=True)
    torch.testing.assert_close(before[:, 0], after[:, 0])
    assert not torch.allclose(before[:, 1], after[:, 1])


def test_bad_head_count_names_both_numbers():
    with pytest.raises(ValueError, match=r"d_model=30.*heads=4"):
        MultiHeadSelfAttention(30, 4)
