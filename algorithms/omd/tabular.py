"""OMD's exact tabular study (paper section 4.2, Figures 2 and 3 right; spec section 3): no sampling.

The 2-state, 2-action MDP of Dadashi et al. 2019 (Appendix A(d)), gamma 0.9, uniform initial states,
soft Bellman operator at temperature 0.01. The model theta = (transition logits [a, s, s'], rewards
[s, a]) with p_hat = softmax(logits / 0.01); x*(theta) is the fixed point of the model's soft Bellman
operator B_theta. Agents (all optimise theta with projected Adam, lr 0.01, up to 10000 steps, stopping
once x* and theta move by less than 1e-10 relative + absolute):

- ``mle``: mean (r_hat - R)^2 + |S| * mean P (log P - log p_hat) (the KL summed over s', averaged).
- ``omd``: maximise the objective of x*(theta) by the implicit function theorem on x* = B_theta(x*):
  the adjoint u solves (I - dB/dx)^T u = g (exact, fax ``two_phase_solve``), then grad = (dB/dtheta)^T u.
- ``omd-identity``: u = g (the notebook's ``two_phase_solve_identity``; no minus sign in fixed-point form).

Objectives (experiment): ``returns`` J(softmax(x*/0.01)) in the true MDP (Figure 2) and ``bellman``
-mean (B_true x* - x*)^2 (Figure 3 right, with the Q* error and the error bounds of Theorem 2).
Projection after each Adam step: see ``project`` (the notebook's per-leaf norm is the default; the
paper's joint norm over (logits / 0.01, r_hat) is ``projection="joint"``).

Deviations: all seeds x norm bounds run as one batch; the fixed point is found by Newton steps on
x - B_theta(x) with a fixed-point-iteration safeguard (same unique fixed point as fax's iteration, to
tighter tolerance); initial values are U(0, 1) from torch generators seeded per seed (JAX PRNG streams
cannot be reproduced in torch), shared by every norm bound of a seed as in the notebook.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import torch

DTYPE = torch.float64
P_TRUE = torch.tensor([[[0.7, 0.3], [0.2, 0.8]], [[0.99, 0.01], [0.99, 0.01]]], dtype=DTYPE)  # [a, s, s']
R_TRUE = torch.tensor([[-0.45, -0.1], [0.5, 0.5]], dtype=DTYPE)  # [s, a]
GAMMA = 0.9
TEMPERATURE = 0.01  # soft-max backup and model softmax
OPTIMAL_VALUE = 1.0272727  # the notebook's "optimal_value"
NORM_BOUNDS = tuple(6.0 * i / 19 for i in range(20))  # linspace(0, 6, 20)
AGENTS = ("mle", "omd", "omd-identity")
OBJECTIVES = ("returns", "bellman")
R_MAX = 0.5  # max |R|, the notebook's r_max in the MLE bound


def soft_bellman(x: torch.Tensor, p: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """B(x)[s, a] = r[s, a] + gamma sum_s' p[a, s, s'] tau logsumexp_a' x[s', a'] / tau, batched over runs."""
    v = TEMPERATURE * torch.logsumexp(x / TEMPERATURE, dim=-1)  # (N, S)
    return r + GAMMA * torch.einsum("nast,nt->nsa", p, v)


def bellman_jacobian(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """dB[s, a] / dx[s', a'] = gamma p[a, s, s'] softmax(x[s'] / tau)[a'], as (N, |S||A|, |S||A|)."""
    pi = torch.softmax(x / TEMPERATURE, dim=-1)
    n, s, a = x.shape
    return (GAMMA * torch.einsum("nast,ntb->nsatb", p, pi)).reshape(n, s * a, s * a)


def solve_fixed_point(p: torch.Tensor, r: torch.Tensor, x0: torch.Tensor, tol: float = 1e-10, max_iter: int = 5000):
    """x* = B_theta(x*) from x0: Newton steps on x - B(x), each kept only if it lowers the residual more than a
    plain fixed-point step (the contraction then guarantees convergence). Stops at max|B(x) - x| <= tol (1 + max|x|)."""
    x = x0.detach()
    eye = torch.eye(x.shape[1] * x.shape[2], dtype=x.dtype)
    for _ in range(max_iter):
        bx = soft_bellman(x, p, r)
        residual = bx - x
        if bool((residual.abs().amax((1, 2)) <= tol * (1 + x.abs().amax((1, 2)))).all()):
            break
        step = torch.linalg.solve(eye - bellman_jacobian(x, p), residual.reshape(len(x), -1, 1)).reshape(x.shape)
        newton = x + step
        newton_res = (soft_bellman(newton, p, r) - newton).abs().amax((1, 2))
        fp_res = (soft_bellman(bx, p, r) - bx).abs().amax((1, 2))
        x = torch.where((newton_res <= fp_res)[:, None, None], newton, bx)
    return x


def expected_return(q: torch.Tensor) -> torch.Tensor:
    """J of pi = softmax(q / tau) in the true MDP: mu^T (I - gamma P_pi)^{-1} r_pi, mu uniform."""
    pi = torch.softmax(q / TEMPERATURE, dim=-1)  # (N, S, A)
    p_pi = torch.einsum("nsa,ast->nst", pi, P_TRUE)
    r_pi = (pi * R_TRUE).sum(-1)
    eye = torch.eye(p_pi.shape[-1], dtype=q.dtype)
    v = torch.linalg.solve(eye - GAMMA * p_pi, r_pi.unsqueeze(-1)).squeeze(-1)
    return v.mean(-1)


def bellman_objective(q: torch.Tensor) -> torch.Tensor:
    """-mean (B_true q - q)^2 (the notebook's objective_bellman)."""
    n = len(q)
    return -(soft_bellman(q, P_TRUE.expand(n, -1, -1, -1), R_TRUE.expand(n, -1, -1)) - q).pow(2).mean((1, 2))


def mle_loss(logits: torch.Tensor, r_hat: torch.Tensor) -> torch.Tensor:
    """Per run: mean (r_hat - R)^2 + |S| mean_{a,s,s'} P (log P - log p_hat)."""
    log_p_hat = torch.log_softmax(logits / TEMPERATURE, dim=-1)
    kl = (P_TRUE * (P_TRUE.log() - log_p_hat)).mean((1, 2, 3)) * P_TRUE.shape[1]
    return (r_hat - R_TRUE).pow(2).mean((1, 2)) + kl


def optimal_q() -> torch.Tensor:
    """Q*_soft of the true MDP (the notebook's pre-computed [[0.1636, 0.0628], [1.8909, 0.6628]])."""
    return solve_fixed_point(P_TRUE[None], R_TRUE[None], torch.zeros(1, 2, 2, dtype=DTYPE))[0]


def implicit_omd_grad(x_star: torch.Tensor, logits: torch.Tensor, r_hat: torch.Tensor, objective: str, exact: bool):
    """Gradient of -objective(x*(theta)) w.r.t. (logits, r_hat) through x* = B_theta(x*)."""
    x = x_star.detach().requires_grad_(True)
    value = expected_return(x) if objective == "returns" else bellman_objective(x)
    g = torch.autograd.grad(-value.sum(), x)[0]  # runs are independent: the sum separates them
    if exact:  # adjoint (I - dB/dx)^T u = g
        eye = torch.eye(g[0].numel(), dtype=g.dtype)
        system = (eye - bellman_jacobian(x_star, torch.softmax(logits / TEMPERATURE, -1))).transpose(1, 2)
        g = torch.linalg.solve(system, g.reshape(len(g), -1, 1)).reshape(g.shape)
    logits, r_hat = logits.detach().requires_grad_(True), r_hat.detach().requires_grad_(True)
    b = soft_bellman(x_star.detach(), torch.softmax(logits / TEMPERATURE, -1), r_hat)
    return torch.autograd.grad(b, (logits, r_hat), grad_outputs=g)


def init_params(seeds: list[int], bounds: list[float]):
    """Per seed x0 ~ U(0,1)^{2x2}, logits ~ U(0,1)^{2x2x2}, r_hat ~ U(0,1)^{2x2}; repeated for every bound."""
    xs, ls, rs = [], [], []
    for seed in seeds:
        gen = torch.Generator().manual_seed(seed)
        xs.append(torch.rand(2, 2, generator=gen, dtype=DTYPE))
        ls.append(torch.rand(2, 2, 2, generator=gen, dtype=DTYPE))
        rs.append(torch.rand(2, 2, generator=gen, dtype=DTYPE))
    rep = len(bounds)
    return (
        torch.stack(xs).repeat_interleave(rep, 0),
        torch.stack(ls).repeat_interleave(rep, 0),
        torch.stack(rs).repeat_interleave(rep, 0),
    )


def project(logits: torch.Tensor, r_hat: torch.Tensor, bound: torch.Tensor, projection: str = "notebook"):
    """Scale parameters back into the norm ball after an Adam step (the notebook's ``padam``).

    ``notebook`` (default, what produced the published numbers): jax's ``@optimizer`` decorator applies
    padam's update to each pytree *leaf*, so ``tree_norm((new_x[0] / temperature, new_x[1]))`` splits each
    array along its first axis: the logits are scaled by their own norm sqrt(||logits[a0] / tau||^2 +
    ||logits[a1]||^2) and the rewards by sqrt(||r_hat[s0] / tau||^2 + ||r_hat[s1]||^2). The published tables
    match this exactly (e.g. MLE r_hat = +-0.0424: 2 * (0.0424 / 0.01)^2 = 36 = 6^2). ``joint``: the paper's
    ||theta|| <= kappa read as one norm over (logits / tau, r_hat), scaled together (spec section 3.2).
    """

    def scale(norm):
        return torch.where(norm > bound, bound / norm.clamp_min(1e-300), torch.ones_like(norm))

    if projection == "joint":
        c = scale(((logits / TEMPERATURE).pow(2).sum((1, 2, 3)) + r_hat.pow(2).sum((1, 2))).sqrt())
        return logits * c[:, None, None, None], r_hat * c[:, None, None]
    if projection != "notebook":
        raise ValueError(f"unknown projection {projection!r}; valid: notebook, joint")

    def leaf_norm(x):  # x[:, 0] / tau and x[:, 1]: the first axis of the per-run array
        return ((x[:, 0] / TEMPERATURE).pow(2).flatten(1).sum(1) + x[:, 1].pow(2).flatten(1).sum(1)).sqrt()

    return logits * scale(leaf_norm(logits))[:, None, None, None], r_hat * scale(leaf_norm(r_hat))[:, None, None]


def train(
    agent: str,
    objective: str,
    bounds: list[float],
    seeds: list[int],
    lr: float = 0.01,
    max_iter: int = 10_000,
    tol: float = 1e-10,
    projection: str = "notebook",
) -> dict[str, torch.Tensor]:
    """Projected Adam on every (seed, bound) pair at once. Returns final x*, p_hat, r_hat, per-run iterations."""
    if agent not in AGENTS or objective not in OBJECTIVES:
        raise ValueError(f"agent {agent!r} / objective {objective!r}; valid: {AGENTS} / {OBJECTIVES}")
    x, logits, r_hat = init_params(seeds, bounds)
    bound = torch.tensor(bounds, dtype=DTYPE).repeat(len(seeds))
    m = [torch.zeros_like(logits), torch.zeros_like(r_hat)]
    v = [torch.zeros_like(logits), torch.zeros_like(r_hat)]
    iterations = torch.zeros(len(x), dtype=torch.long)
    done = torch.zeros(len(x), dtype=torch.bool)
    b1, b2, eps = 0.9, 0.999, 1e-8  # jax.experimental.optimizers.adam defaults
    for t in range(1, max_iter + 1):
        if agent == "mle":  # x* does not enter MLE's update: it is solved once at the end (theta fixed => x* fixed)
            x_new = x
            lg, rg = logits.detach().requires_grad_(True), r_hat.detach().requires_grad_(True)
            grads = torch.autograd.grad(mle_loss(lg, rg).sum(), (lg, rg))
        else:
            x_new = solve_fixed_point(torch.softmax(logits / TEMPERATURE, -1), r_hat, x)
            grads = implicit_omd_grad(x_new, logits, r_hat, objective, exact=agent == "omd")
        new = []
        for i, (param, grad) in enumerate(zip((logits, r_hat), grads)):
            m[i] = b1 * m[i] + (1 - b1) * grad
            v[i] = b2 * v[i] + (1 - b2) * grad * grad
            new.append(param - lr * (m[i] / (1 - b1**t)) / ((v[i] / (1 - b2**t)).sqrt() + eps))
        new_logits, new_r = project(new[0], new[1], bound, projection)

        def moved(a, b):
            return ((a - b).abs() > tol * b.abs() + tol).flatten(1).any(1)

        still = moved(x_new, x) | moved(new_logits, logits) | moved(new_r, r_hat)
        keep = done[:, None, None]
        x = torch.where(keep, x, x_new)
        logits = torch.where(keep[..., None], logits, new_logits)
        r_hat = torch.where(keep, r_hat, new_r)
        iterations += (~done).long()
        done = done | ~still
        if bool(done.all()):
            break
    x = solve_fixed_point(torch.softmax(logits / TEMPERATURE, -1), r_hat, x)
    return {
        "x": x,
        "p_hat": torch.softmax(logits / TEMPERATURE, -1),
        "r_hat": r_hat,
        "iterations": iterations,
        "bound": bound,
        "seed": torch.tensor(seeds).repeat_interleave(len(bounds)),
    }


def evaluate(result: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """J, the true Bellman objective, max |Q* - x*| and both error bounds of Theorem 2 (notebook forms)."""
    x, p_hat, r_hat = result["x"], result["p_hat"], result["r_hat"]
    n = len(x)
    q_error = (optimal_q() - x).abs().amax((1, 2))
    eps_bellman = (
        (soft_bellman(x, P_TRUE.expand(n, -1, -1, -1), R_TRUE.expand(n, -1, -1)) - soft_bellman(x, p_hat, r_hat))
        .abs()
        .amax((1, 2))
    )
    eps_p = (p_hat - P_TRUE).abs().sum(-1).amax((1, 2))
    eps_r = (r_hat - R_TRUE).abs().amax((1, 2))
    return {
        "J": expected_return(x),
        "neg_bellman": bellman_objective(x),
        "q_error": q_error,
        "bound_omd": eps_bellman / (1 - GAMMA),
        "bound_mle": eps_r / (1 - GAMMA) + GAMMA * eps_p * R_MAX / (2 * (1 - GAMMA) ** 2),
    }


FIELDS = (
    "experiment",
    "agent",
    "norm_bound",
    "seed",
    "J",
    "neg_bellman",
    "q_error",
    "bound",
    "bound_gap",
    "iterations",
)


def run_study(
    seeds: list[int],
    bounds: list[float] = NORM_BOUNDS,
    max_iter: int = 10_000,
    agents: tuple[str, ...] = AGENTS,
    objectives: tuple[str, ...] = OBJECTIVES,
) -> list[dict]:
    """Rows for every (objective, agent, bound, seed). MLE's loss ignores the objective: it is trained once
    and reported under both experiments. ``bound`` is the agent's own Theorem-2 bound (MLE or OMD form)."""
    rows, cache = [], {}
    for objective in objectives:
        for agent in agents:
            key = "mle" if agent == "mle" else (agent, objective)
            if key not in cache:
                result = train(agent, objective, list(bounds), list(seeds), max_iter=max_iter)
                cache[key] = (result, evaluate(result))
            result, metrics = cache[key]
            bound = metrics["bound_mle" if agent == "mle" else "bound_omd"]
            for i in range(len(result["x"])):
                rows.append(
                    {
                        "experiment": objective,
                        "agent": agent,
                        "norm_bound": round(float(result["bound"][i]), 6),
                        "seed": int(result["seed"][i]),
                        "J": float(metrics["J"][i]),
                        "neg_bellman": float(metrics["neg_bellman"][i]),
                        "q_error": float(metrics["q_error"][i]),
                        "bound": float(bound[i]),
                        "bound_gap": float(bound[i] - metrics["q_error"][i]),
                        "iterations": int(result["iterations"][i]),
                    }
                )
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Mean over seeds per (experiment, agent, norm bound)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["experiment"], row["agent"], row["norm_bound"]), []).append(row)
    out = []
    for (experiment, agent, bound), group in groups.items():
        mean = {k: sum(r[k] for r in group) / len(group) for k in ("J", "q_error", "bound", "bound_gap")}
        out.append({"experiment": experiment, "agent": agent, "norm_bound": bound, "seeds": len(group), **mean})
    return out


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def main(out: str | Path, seeds: list[int], max_iter: int = 10_000, num_bounds: int = 20) -> tuple[Path, Path]:
    """Run the study and write ``omd_tabular_runs.csv`` (one row per run) and ``omd_tabular_summary.csv``."""
    bounds = [6.0 * i / (num_bounds - 1) for i in range(num_bounds)] if num_bounds > 1 else [6.0]
    rows = run_study(seeds, bounds, max_iter)
    out = Path(out)
    runs_path, summary_path = out / "omd_tabular_runs.csv", out / "omd_tabular_summary.csv"
    write_csv(runs_path, rows)
    write_csv(summary_path, summarize(rows))
    return runs_path, summary_path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="OMD tabular study (paper Figures 2 and 3 right)")
    parser.add_argument("--out", default="results/studies/omd-tabular")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N (notebook: 10)")
    parser.add_argument("--max-iter", type=int, default=10_000)
    args = parser.parse_args()
    for path in main(args.out, list(range(1, args.seeds + 1)), args.max_iter):
        print(path)
