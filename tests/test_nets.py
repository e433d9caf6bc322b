"""The shared network kit (algorithms/common/nets.py, schedules.py, actions.py) and the proof that moving every
agent onto it changed no initial weight, no parameter count and no draw of the torch RNG."""

import json
import re

import numpy as np
import pytest
import torch
from torch import nn

from algorithms.common.actions import ActionScaler
from algorithms.common.nets import (
    EnsembleLinear,
    EnsembleMLP,
    EnsembleQ,
    Temperature,
    _fused,
    adam,
    adamw,
    mlp,
    orthogonal,
    xavier_uniform,
)
from algorithms.common.schedules import linear_schedule
from tests.init_fingerprints import FIXTURE, case_id, cases, fingerprint

# State_dict keys the kit renamed (new -> recorded at c9f341e), per algorithm and module. Checkpoints written
# before the kit hold the old names for these modules and are refused on resume as not matching the agent.
_ALM_CRITIC = [
    (r"^heads\.layers\.(\d)\.", lambda m: f"l{int(m[1]) + 1}."),
    (r"^heads\.norms\.0\.(weight|bias)$", r"ln_\1"),
]
_IQRL_CRITIC = [(r"^heads\.layers\.", "linears."), (r"^heads\.norms\.(\d)\.(weight|bias)$", r"norm_\2.\1")]
LEGACY_KEYS = {
    "alm": {"critic": _ALM_CRITIC, "critic_target": _ALM_CRITIC},
    "iqrl": {"critic": _IQRL_CRITIC, "critic_target": _IQRL_CRITIC},
    "omd": {"temperature": [(r"^log_alpha$", "log_value")]},
}


def _renamer(algo_id: str):
    rules = LEGACY_KEYS.get(algo_id.split("@")[0], {})

    def rename(module: str, key: str) -> str:
        for pattern, repl in rules.get(module, []):
            key = re.sub(pattern, repl, key)
        return key

    return rename


RECORD = json.loads(FIXTURE.read_text())


@pytest.mark.skipif(RECORD["torch"] != torch.__version__, reason=f"fingerprints recorded with torch {RECORD['torch']}")
@pytest.mark.parametrize("algo_id,space,small", cases(), ids=[case_id(*c) for c in cases()])
def test_initial_networks_are_those_recorded_before_the_kit(algo_id, space, small):
    """Same weights under the same (or legacy-mapped) names, same parameter count, same torch RNG state after."""
    recorded = RECORD["fingerprints"][case_id(algo_id, space, small)]
    assert fingerprint(algo_id, space, small, rename=_renamer(algo_id)) == recorded


def test_paper_parameter_counts():
    counts = {k: v["num_parameters"] for k, v in RECORD["fingerprints"].items() if k.endswith("/paper")}
    assert counts["mrq/halfcheetah/paper"] == 3_857_226 and counts["iqrl/walker/paper"] == 6_345_995
    assert counts["alm/halfcheetah/paper"] == 3_025_107


def test_ensemble_members_equal_separate_mlps_with_layernorm_and_per_layer_activations():
    torch.manual_seed(0)
    net = EnsembleMLP(3, 5, (8, 8), 2, activation=(nn.Tanh, nn.ELU), layer_norm=(True, False))
    with torch.no_grad():
        net.norms["0"].weight.uniform_(0.5, 1.5), net.norms["0"].bias.uniform_(-0.5, 0.5)
    x = torch.randn(4, 5)
    out = net(x)
    for i in range(3):
        l0, l1, l2 = (nn.Linear(a, b) for a, b in ((5, 8), (8, 8), (8, 2)))
        for lin, layer in zip((l0, l1, l2), net.layers):
            lin.weight.data, lin.bias.data = layer.weight[i].T, layer.bias[i, 0]
        ln = nn.LayerNorm(8)
        ln.weight.data, ln.bias.data = net.norms["0"].weight[i, 0], net.norms["0"].bias[i, 0]
        ref = l2(torch.nn.functional.elu(l1(torch.tanh(ln(l0(x))))))
        torch.testing.assert_close(out[i], ref)
        torch.testing.assert_close(net.member(x, i), ref)
    pick = torch.tensor([2, 0])
    torch.testing.assert_close(net(x, pick), out[pick])


def test_ensemble_q_keeps_leading_dims_and_unpacks_like_twin_critics():
    q = EnsembleQ(2, 3, 1, (4,))
    obs, act = torch.randn(5, 7, 3), torch.randn(5, 7, 1)
    out = q(obs, act)
    assert out.shape == (2, 5, 7, 1)
    q1, q2 = q(obs[0], act[0])
    torch.testing.assert_close(q1, out[0, 0]) and torch.testing.assert_close(q2, out[1, 0])
    torch.testing.assert_close(q.member(obs[0], act[0], 1), out[1, 0])


@pytest.mark.parametrize("layout", ["out_in", "in_out"])
def test_orthogonal_init_gains_member_layout_and_zero_biases(layout):
    net = EnsembleMLP(2, 6, (4,), 3, init=orthogonal(2.0, output_gain=0.5, member_layout=layout))
    w0, w1 = net.layers[0].weight[0], net.layers[1].weight[1]  # (6, 4), (4, 3) stored (in, out)
    torch.testing.assert_close(w0.T @ w0, 4.0 * torch.eye(4))  # 4 orthonormal columns, gain 2
    torch.testing.assert_close(w1 @ w1.T if w1.shape[0] < w1.shape[1] else w1.T @ w1, 0.25 * torch.eye(3))
    assert all((layer.bias == 0).all() for layer in net.layers)
    torch.manual_seed(1)
    a = EnsembleMLP(2, 6, (4,), 3, init=orthogonal(member_layout=layout)).layers[0].weight[1]
    torch.manual_seed(1)
    EnsembleLinear(2, 6, 4), EnsembleLinear(2, 4, 3)  # the same default-init draws, then member 0
    nn.init.orthogonal_(torch.empty(4, 6) if layout == "out_in" else torch.empty(6, 4))
    b = nn.init.orthogonal_(torch.empty(4, 6) if layout == "out_in" else torch.empty(6, 4))
    torch.testing.assert_close(a, b.T if layout == "out_in" else b)


def test_mlp_layout_and_xavier_init():
    net = mlp(3, (4, 5), 2, (nn.Tanh, nn.Mish), layer_norm=(True, False), init=xavier_uniform(1.0))
    assert [type(m).__name__ for m in net] == ["Linear", "LayerNorm", "Tanh", "Linear", "Mish", "Linear"]
    assert all((m.bias == 0).all() for m in net if isinstance(m, nn.Linear))
    assert [type(m).__name__ for m in mlp(3, (4,), None)] == ["Linear", "ReLU"]
    with pytest.raises(ValueError, match="2 values for 1 hidden"):
        mlp(3, (4,), 2, layer_norm=(True, False))


def test_temperature_starts_at_init():
    assert Temperature(0.1)().item() == pytest.approx(0.1)


def test_optimizers_use_the_fused_kernel_where_torch_has_one():
    p = [nn.Parameter(torch.zeros(3))]
    assert adam(p, 1e-3).defaults["fused"] and adamw(p, 1e-3, 0.01).defaults["fused"]  # CPU fused since torch 2.4
    assert adamw(p, 1e-3, 0.01).defaults["weight_decay"] == 0.01

    class NoFusedKernel(torch.optim.Adam):  # as torch answers for a device without the kernel
        def __init__(self, params, fused=None, **options):
            if fused:
                raise RuntimeError(
                    "`fused=True` requires all the params to be floating point Tensors of supported devices"
                )
            super().__init__(params, **options)

    assert not _fused(NoFusedKernel, (q for q in p), lr=1e-3).defaults["fused"]  # a generator is read once


def test_linear_schedule_is_linspace():
    for start, end, n in ((1.0, 0.1, 50), (1.0, 0.1, 10), (0.5, 0.5, 3), (1.0, 0.1, 1)):
        grid = np.linspace(start, end, n)
        for k in range(n + 3):
            assert linear_schedule(start, end, n - 1, k) == pytest.approx(grid[min(k, n - 1)], abs=1e-15)
    assert linear_schedule(1.0, 0.1, 100_000, 50_000) == pytest.approx(0.55)


def test_action_scaler_round_trip():
    scaler = ActionScaler(np.array([-2.0, 0.0], np.float32), np.array([2.0, 1.0], np.float32))
    assert (
        scaler.to_env(np.array([1.0, -1.0])).tolist() == [2.0, 0.0] and scaler.to_env(np.zeros(2)).dtype == np.float32
    )
    np.testing.assert_allclose(scaler.from_env(scaler.to_env(np.array([0.3, -0.7]))), [0.3, -0.7], rtol=1e-6)
    assert ActionScaler.identity(2).to_env(np.array([0.25, -0.5])).tolist() == [0.25, -0.5]
