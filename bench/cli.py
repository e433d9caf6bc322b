"""The ``bench`` command line.

    bench run  [--suite smoke] [--algos td3] [--tasks ...] [--seeds 0-2] [--steps 100k] [--out results]
               [--workers 1] [--device auto]
    bench list [algos|suites|tasks] [--suite NAME]
    bench show-config [--suite smoke] [--algo td3@paper2018] [--tasks ...] [--set FIELD=VALUE ...]
    bench report [--runs DIR ...] [--reference DIR|SOURCE ...] [--out results/report]
    bench check  [--runs DIR ...] [--reference DIR|SOURCE ...] [--claims FILE ...] [--allow-protocol-mismatch]
    bench reference fetch SOURCE | bench reference list
    bench study omd-tabular [--out DIR] [--seeds 10] [--max-iter 10000] [--bounds 20]
    bench study omd-cartpole-sweep [--runs DIR ...] [--out DIR]

Bad input gets one line naming what was wrong and what is valid, and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import warnings
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")  # before anything imports mujoco / dm_control
os.environ.setdefault("PYOPENGL_PLATFORM", os.environ["MUJOCO_GL"])
# Idle OpenMP threads sleep instead of spin-waiting (issue 14: with 2 torch threads on a loaded 2-core
# machine, spinning made TD3's update 10x slower). Read once when torch loads libgomp: set it first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from core.errors import UserError  # noqa: E402
from core.vocabulary import RenamedFieldWarning  # noqa: E402

DEFAULT_SUITE = "smoke"
DEFAULT_ALGOS = "td3"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage + message by default)
        raise UserError(f"{self.prog}: {message}")


def parse_steps(text: str) -> int:
    """'100k' -> 100000, '1M' -> 1000000, '2500' -> 2500."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise UserError(f"bad --steps value {text!r}; valid: a positive number of agent steps such as 5000, 100k or 1M")
    value = float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    if value < 1 or value != int(value):
        raise UserError(
            f"bad --steps value {text!r}; valid: a positive whole number of agent steps such as 5000, 100k or 1M"
        )
    return int(value)


MANY_SEEDS = 100  # more seeds per cell than any paper runs: ask for --yes (10 is a large study)
MAX_SEEDS = 1_000_000


def parse_seeds(text: str, yes: bool = True) -> list[int]:
    """'0,1,2' or '0-4' (inclusive) or '3'; more than MANY_SEEDS seeds only with ``yes``."""
    seeds: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if re.fullmatch(r"\d+", part):
            seeds.add(int(part))
        elif re.fullmatch(r"\d+-\d+", part):
            lo, hi = map(int, part.split("-"))
            if hi < lo:
                raise UserError(f"bad --seeds range {part!r}; valid: LOW-HIGH with LOW <= HIGH")
            if hi - lo + 1 + len(seeds) > MAX_SEEDS:
                raise UserError(f"--seeds {text} asks for more than {MAX_SEEDS:,} seeds; valid: at most {MAX_SEEDS:,}")
            seeds.update(range(lo, hi + 1))
        else:
            raise UserError(f"bad --seeds value {text!r}; valid: non-negative integers like 0,1,2 or a range 0-4")
    if len(seeds) > MAX_SEEDS:
        raise UserError(f"--seeds {text} asks for more than {MAX_SEEDS:,} seeds; valid: at most {MAX_SEEDS:,}")
    if len(seeds) > MANY_SEEDS and not yes:
        raise UserError(
            f"--seeds {text} starts {len(seeds):,} seeds per cell (more than {MANY_SEEDS}); add --yes if you mean it"
        )
    return sorted(seeds)


def check_device_name(text: str) -> None:
    """The --device spelling, checked before planning and without importing torch."""
    if text not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", text):
        raise UserError(f"bad --device value {text!r}; valid: auto, cpu, cuda, cuda:N")


def parse_device(text: str) -> str:
    check_device_name(text)
    import torch

    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if text == "cpu":
        return "cpu"
    if re.fullmatch(r"cuda(:\d+)?", text):
        if not torch.cuda.is_available():
            raise UserError(f"--device {text}: CUDA is not available on this machine; valid: auto, cpu")
        return text
    raise UserError(f"bad --device value {text!r}; valid: auto, cpu, cuda, cuda:N")


def parse_overrides(items: list[str] | None) -> dict:
    """['batch_size=64', 'hidden=(64, 64)'] -> {'batch_size': 64, 'hidden': (64, 64)}
    (Python literals, else strings)."""
    import ast

    overrides = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"bad --set value {item!r}; valid: FIELD=VALUE, e.g. --set batch_size=128")
        try:
            overrides[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            overrides[key.strip()] = value.strip()
    return overrides


def _split(text: str | None) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()] if text else []


def cmd_run(args: argparse.Namespace) -> int:
    from results.store import Cell, Store
    from runners.grid import make_plan

    if args.workers < 1:
        raise UserError(f"bad --workers value {args.workers}; valid: an integer >= 1")
    if args.seed_batch < 1:
        raise UserError(
            f"bad --seed-batch value {args.seed_batch}; valid: an integer >= 1 (seeds trained in one process)"
        )
    if args.seed_batch > 1 and args.compile:
        raise UserError("--seed-batch with --compile is not built yet; valid: either one")
    if args.seed_batch > 1 and args.wandb:
        raise UserError("--seed-batch with --wandb is not built yet (one W&B run per process); valid: either one")
    if args.max_failures < 0 or (args.max_concurrent is not None and args.max_concurrent < 1):
        raise UserError("bad --max-failures / --max-concurrent; valid: --max-failures >= 0, --max-concurrent >= 1")
    steps = parse_steps(args.steps) if args.steps else None
    seeds = parse_seeds(args.seeds, yes=args.yes)
    check_device_name(args.device)
    algos = _split(args.algos)
    if not algos:
        raise UserError("--algos is empty; valid: see 'bench list algos'")
    store = Store(args.out)
    overrides = parse_overrides(args.set)
    plan = make_plan(
        args.suite, algos, _split(args.tasks) or None, seeds, store, agent_steps=steps, config_overrides=overrides
    )  # names, fields and values checked without importing torch
    device = parse_device(args.device)

    from results.names import make_output_dir
    from runners.grid import resolve_task

    notes = []
    for algo, task_name in sorted({(c.algo, c.task) for c in plan.todo}):
        task = resolve_task(Cell(args.suite, task_name, algo, 0), steps)
        resolved = plan.configs[algo, task_name]
        for key, layer, value, variant_value in resolved.replaced:
            print(
                f"note   {algo} on {task_name}: the {layer} sets {key}={value!r}, replacing the variant's "
                f"{variant_value!r} (see 'bench show-config --suite {args.suite} --algo {algo} --task {task_name}')",
                file=sys.stderr,
            )
        warmup = resolved.warmup_steps
        if warmup >= task.agent_steps:
            notes.append(
                f"note   {algo} on {task_name}: the {warmup} random warm-up steps cover the whole "
                f"{task.agent_steps}-step budget, so it will not learn; lower it with --set start_steps=N"
            )
    make_output_dir(store.root)  # every input is checked: only now may the store's folder be created
    if args.seed_batch > 1:
        from algorithms.registry import info

        for algo in sorted({c.algo for c in plan.todo if info(c.algo.partition("@")[0]).seed_batch is None}):
            notes.append(
                f"note   {algo}: no seed batch yet ('bench list' says which agents have one); one cell per seed"
            )
    if args.compile:
        from algorithms.registry import info

        for algo in sorted({c.algo for c in plan.todo if not info(c.algo.partition("@")[0]).compile}):
            notes.append(f"note   {algo}: no compiled update yet ('bench list' says which agents have one); runs eager")
    for note in notes:
        print(note, file=sys.stderr)
    for cell, why in plan.skipped:
        print(f"skip   {cell.label}: {why}", file=sys.stderr)
    for cell in plan.done:
        print(f"have   {cell.label}: complete in {store.cell_dir(cell)}", file=sys.stderr)
    budget = f"{steps} agent steps (reduced budget, recorded in the protocol)" if steps else "the suite's budgets"
    where = (
        f"Ray ({args.address or 'local instance'}, {args.cpus_per_trial:g} CPU / {args.gpus_per_trial:g} GPU per cell)"
        if args.runner == "ray"
        else f"{args.workers} local worker(s)"
    )
    print(
        f"run    {len(plan.todo)} cell(s) of suite {args.suite} at {budget} on {device}, {where}; "
        f"results in {store.root / 'runs'}",
        file=sys.stderr,
    )

    wandb = None
    if args.wandb:
        from runners.sinks import WandbSettings

        wandb = WandbSettings(project=args.wandb_project, entity=args.wandb_entity, group=args.wandb_group)
    if args.runner == "ray":
        from runners.ray_runner import run_ray

        summary = run_ray(
            plan.specs(device, wandb=wandb, wait=args.wait, compile=args.compile),
            store,
            address=args.address,
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            max_concurrent=args.max_concurrent,
            max_failures=args.max_failures,
            progress=not args.quiet,
            seed_batch=args.seed_batch,
        )
    else:
        from runners.local import run_local

        summary = run_local(
            plan.specs(device, progress=not args.quiet, wandb=wandb, wait=args.wait, compile=args.compile),
            store,
            workers=args.workers,
            seed_batch=args.seed_batch,
        )
    busy = f", {len(summary.busy)} busy (being written by another process)" if summary.busy else ""
    print(
        f"summary: {len(summary.completed)} completed, {len(plan.done)} already complete, "
        f"{len(plan.skipped)} skipped (unsupported), {len(summary.failed)} failed{busy}",
        file=sys.stderr,
    )
    return 1 if summary.failed or summary.busy else 0


def _human(n: int) -> str:
    """1000000 -> '1M', 15000 -> '15k'."""
    for div, unit in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % (div // 10) == 0:
            return f"{n / div:g}{unit}"
    return str(n)


def cmd_list(args: argparse.Namespace) -> int:
    from algorithms import infos, variants  # torch-free
    from suites import get_suite, suites

    what = args.what
    if what in ("algos", "all"):
        print("algorithms (run as NAME or NAME@VARIANT):")
        for name, cls in sorted(infos().items()):
            kinds = f"actions: {'/'.join(cls.action_kinds)}; observations: {'/'.join(cls.observation_kinds)}"
            batch = "; --seed-batch: yes" if cls.seed_batch else "; --seed-batch: no (one cell per seed)"
            batch += "; --compile: yes" if cls.compile else "; --compile: no"
            print(f"  {name:<24} {kinds}{batch}")
            for vname, variant in sorted(variants(name).items()):
                print(f"    {name + '@' + vname:<22} {variant.description}")
    if what in ("suites", "all"):
        width = max(14, *(len(n) + 1 for n in suites()))
        print(
            f"suites:\n  {'name':<{width}}{'tasks':>5}  {'budget (agent steps / env frames)':<36}{'eval':<17}"
            f"{'normalization':<14}description"
        )
        for name, suite in sorted(suites().items()):

            def same(attr, fmt=str, tasks=suite.tasks):
                values = {getattr(t, attr) for t in tasks}
                return fmt(values.pop()) if len(values) == 1 else "varies"

            budget = f"{same('agent_steps', _human)} / {same('env_frames', _human)}"
            evals = f"{same('eval_every', _human)} x {same('eval_episodes')}"
            norm = str(same("normalization"))
            print(f"  {name:<{width}}{len(suite.tasks):>5}  {budget:<36}{evals:<17}{norm:<14}{suite.description}")
    if what == "tasks" or (what == "all" and args.suite):
        for suite in [get_suite(args.suite)] if args.suite else sorted(suites().values(), key=lambda s: s.name):
            print(f"tasks of {suite.name}:")
            for t in suite.tasks:
                print(
                    f"  {t.name:<24} {t.library:<10} {t.observation}/{t.action:<10} repeat {t.action_repeat}  "
                    f"{t.agent_steps} agent steps ({t.env_frames} env frames), "
                    f"eval every {t.eval_every} x {t.eval_episodes}"
                )
    return 0


def cmd_show_config(args: argparse.Namespace) -> int:
    """The resolved config of one algo@variant on a suite's tasks, each value with its source."""
    from runners.config import jsonable, overrides_label, resolve_run_config
    from suites import get_suite, get_task

    suite = get_suite(args.suite)
    tasks = [get_task(suite, t) for t in _split(args.tasks)] if args.tasks else list(suite.tasks)
    overrides = parse_overrides(args.set)
    for task in tasks:
        resolved = resolve_run_config(suite.name, args.algo, task.name, overrides)
        ident = (
            f"config id {resolved.config_id} ({overrides_label(resolved.overrides)})"
            if resolved.config_id
            else "the suite's config"
        )
        print(f"{args.algo} on {suite.name}/{task.name}: {ident}")
        width = max(len(k) for k in resolved.sources)
        for key, value in jsonable(dataclasses.asdict(resolved.config)).items():
            print(f"  {key:<{width}}  {json.dumps(value):<24} {resolved.sources[key]}")
        print(
            f"  {'(warm-up)':<{width}}  {resolved.warmup_steps:<24} {resolved.warmup_source}: "
            "uniform random agent steps before acting"
        )
        for key, layer, value, variant_value in resolved.replaced:
            print(f"  note: the {layer} sets {key}={value!r}, replacing the variant's {variant_value!r}")
    return 0


def _references(items: list[str] | None) -> list[str]:
    """--reference values: a folder, or the name of a fetched source (``bench reference fetch NAME``)."""
    from analysis import fetch

    out = []
    for item in items or []:
        if os.path.exists(item):
            out.append(item)
        elif item in fetch.SOURCES:
            path = fetch.source_dir(item)
            if not (path / "SOURCE.json").exists():
                raise UserError(f"reference source {item!r} is not fetched yet; run 'bench reference fetch {item}'")
            out.append(str(path))
        else:
            raise UserError(
                f"--reference {item}: no such folder, and not a source name (valid: {', '.join(fetch.SOURCES)})"
            )
    return out


def _gather(runs, references):
    """``analysis.report.gather`` with its notes on stderr (cells read once, from which store)."""
    from analysis import report

    inputs = report.gather(runs, references)
    for note in inputs.notes:
        print(f"note: {note}", file=sys.stderr)
    return inputs


def _check_analysis_args(args: argparse.Namespace) -> None:
    if args.reps < 1:
        raise UserError(f"bad --reps value {args.reps}; valid: a number of bootstrap resamples >= 1 (default 2000)")
    if args.seed < 0:
        raise UserError(f"bad --seed value {args.seed}; valid: a bootstrap seed >= 0")
    if getattr(args, "min_seeds", 1) < 1:
        raise UserError(f"bad --min-seeds value {args.min_seeds}; valid: a number of seeds >= 1 (default 3)")
    if args.out is not None and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out}: exists and is not a folder; valid: a folder (new or existing)")


def cmd_report(args: argparse.Namespace) -> int:
    from analysis import report

    _check_analysis_args(args)

    inputs = _gather(args.runs, _references(args.reference))
    written = report.build(
        inputs, args.out, claims_files=args.claims, seed=args.seed, reps=args.reps, progress=not args.quiet
    )
    print(f"report: {len(written)} files in {args.out}; open {os.path.join(args.out, 'index.html')}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from analysis import claims as cl

    args.out = None
    _check_analysis_args(args)
    if args.against:
        return _check_curves(args)

    inputs = _gather(args.runs, _references(args.reference))
    verdicts = cl.check(
        cl.load_claims(args.claims),
        inputs.data,
        inputs.protocols,
        allow_protocol_mismatch=args.allow_protocol_mismatch,
        min_seeds=args.min_seeds,
        seed=args.seed,
        reps=args.reps,
    )
    shown = [v for v in verdicts if args.all or v.evidence != "-"]
    for v in shown:
        print(f"{v.verdict:<18} {v.claim.claim_id}  [{v.evidence}]  {v.detail}")
    kinds = (cl.REPRODUCES, cl.NOT_REPRODUCED, cl.CONSISTENT, cl.INCONSISTENT, cl.INCONCLUSIVE, cl.REFUSED)
    counts = {k: sum(v.verdict == k for v in verdicts) for k in kinds}
    hidden = len(verdicts) - len(shown)
    print(
        ", ".join(f"{n} {k}" for k, n in counts.items() if n or k in (cl.CONSISTENT, cl.INCONSISTENT))
        + (f" ({hidden} claims without any matching data not shown; --all shows them)" if hidden else "")
    )
    return 1 if any(counts[k] for k in cl.FAILING) else 0


def _check_curves(args: argparse.Namespace) -> int:
    from analysis import curves

    inputs = _gather(args.runs, _references((args.reference or []) + args.against))
    verdicts = curves.check_curves(
        inputs.data,
        inputs.protocols,
        curves.declarations(inputs.manifests),
        allow_protocol_mismatch=args.allow_protocol_mismatch,
        min_seeds=args.min_seeds,
    )
    if not verdicts:
        raise UserError(
            "no cell to compare: the store has no runs of an algorithm and task that the published data holds"
        )
    for v in verdicts:
        print(f"{v.verdict:<13} {v.suite}/{v.task} {v.algo} vs {v.published}: {v.detail}")
    counts = {
        k: sum(v.verdict == k for v in verdicts)
        for k in (curves.MATCHES, curves.DIFFERS, curves.INCONCLUSIVE, curves.REFUSED)
    }
    print(", ".join(f"{n} {k}" for k, n in counts.items()))
    return 1 if counts[curves.DIFFERS] else 0


def cmd_reference(args: argparse.Namespace) -> int:
    from analysis import fetch

    if args.action == "list":
        for name, src in fetch.SOURCES.items():
            state = "fetched" if (fetch.source_dir(name) / "SOURCE.json").exists() else "not fetched"
            print(
                f"{name:<6} {src.repo}@{src.commit[:7]}:{src.folder}  "
                f"({state}; {src.description}; license: {src.license})"
            )
        return 0
    if not args.source:
        raise UserError(f"bench reference fetch: name a source; valid: {', '.join(fetch.SOURCES)}")
    for name in args.source:
        path = fetch.fetch(name, force=args.force, progress=not args.quiet)
        print(f"{name}: {path}  (use: bench report --reference {name})")
    return 0


def _concat_tables(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def cmd_study(args: argparse.Namespace) -> int:
    """Studies beyond one (algo x task x seed) grid: OMD's exact tabular study, and OMD's Figure 4 from the runs of
    the omd-cartpole-sweep suite (selection rule, table, figure)."""
    if args.name == "omd-cartpole-sweep":
        from analysis.load import load_runs
        from analysis.omd_sweep import write_study

        out = args.out or os.path.join("results", "studies", args.name)
        runs = _concat_tables([load_runs(root) for root in (args.runs or ["results"])])
        print("wrote " + ", ".join(str(p) for p in write_study(runs, out)), file=sys.stderr)
        return 0
    from algorithms.omd import tabular

    if args.seeds < 1 or args.max_iter < 1 or args.bounds < 1:
        raise UserError("bad --seeds / --max-iter / --bounds; valid: positive integers")
    out = args.out or os.path.join("results", "studies", args.name)
    runs, summary = tabular.main(out, list(range(1, args.seeds + 1)), args.max_iter, args.bounds)
    print(f"wrote {runs} and {summary}", file=sys.stderr)
    return 0


STATUS_BEGIN, STATUS_END = (
    "<!-- reproduction-status:begin (bench status --readme) -->",
    "<!-- reproduction-status:end -->",
)


def cmd_status(args: argparse.Namespace) -> int:
    """The reproduction status table (Markdown) from our runs, published data and claims; ``--readme``
    replaces the block between the status markers of that file instead of printing."""
    from analysis import report
    from analysis.claims import load_claims
    from analysis.tables import markdown_table
    from results.store import atomic_write_text

    args.out = None
    _check_analysis_args(args)
    # the README's table is the committed evidence's: scratch runs in results/ never leak into it
    runs = args.runs or ([str(report.EVIDENCE_STORE)] if args.readme else None)
    inputs = _gather(runs, _references(args.reference))
    status = report.reproduction_status(inputs.data, inputs, load_claims(args.claims))
    refs = ", ".join(os.path.basename(os.path.normpath(r)) for r in (args.reference or [])) or "none"
    block = "\n".join(
        [
            STATUS_BEGIN,
            f"Generated by `bench status --readme README.md` (published data read: {refs}); never edited by hand.",
            "",
            *markdown_table(status),
            STATUS_END,
        ]
    )
    if not args.readme:
        print(block)
        return 0
    try:
        text = Path(args.readme).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(
            f"--readme {args.readme}: unreadable ({exc.strerror}); valid: a text file with the status markers"
        ) from None
    if text.count(STATUS_BEGIN) != 1 or text.count(STATUS_END) != 1:
        raise UserError(f"{args.readme}: needs exactly one '{STATUS_BEGIN}' and one '{STATUS_END}' line")
    head, rest = text.split(STATUS_BEGIN)
    atomic_write_text(Path(args.readme), head + block + rest.split(STATUS_END, 1)[1])
    print(f"status: {len(status)} row(s) written to {args.readme}", file=sys.stderr)
    return 0


def _analysis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--runs",
        action="append",
        metavar="DIR",
        help="results store root(s) (repeatable; default: results and the committed evidence results/evidence)",
    )
    p.add_argument(
        "--reference",
        action="append",
        metavar="DIR|SOURCE",
        help="published data: a folder, or a source fetched with 'bench reference fetch' (repeatable)",
    )
    p.add_argument(
        "--claims", action="append", metavar="FILE", help="claims CSV file(s) (default: results/reference/claims/*.csv)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="bootstrap seed (default: 0); the same seed gives identical output"
    )
    p.add_argument("--reps", type=int, default=2000, help="bootstrap resamples (default: 2000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bench", description="latentbench: run and compare representation-learning RL agents.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="train a grid of cells (algos x tasks x seeds); complete cells are skipped")
    run.add_argument(
        "--suite", default=DEFAULT_SUITE, help=f"suite name (default: {DEFAULT_SUITE}); see 'bench list suites'"
    )
    run.add_argument(
        "--algos", default=DEFAULT_ALGOS, help="comma-separated algorithms, NAME or NAME@VARIANT (default: td3)"
    )
    run.add_argument("--tasks", default=None, help="comma-separated task names (default: all tasks of the suite)")
    run.add_argument("--seeds", default="0", help="seeds: 0,1,2 or 0-4 (default: 0)")
    run.add_argument(
        "--steps",
        default=None,
        help="reduced budget in agent steps for every task, e.g. 100k (recorded in the protocol)",
    )
    run.add_argument("--out", default="results", help="results store root (default: results); runs go to OUT/runs/")
    run.add_argument("--workers", type=int, default=1, help="cells in parallel, in spawned processes (default: 1)")
    run.add_argument(
        "--seed-batch",
        type=int,
        default=1,
        metavar="S",
        help="train up to S seeds of one algorithm and task in one process, updated as one batched computation, "
        "each seed still its own cell (agents that have a seed batch: bench list; default: 1)",
    )
    run.add_argument(
        "--compile",
        action="store_true",
        help="run the update through torch.compile (CUDA graphs on a GPU; on CPU a C++ compiler is needed and "
        "the first updates wait about a minute for it); results equal eager ones up to float rounding; agents "
        "that have it: bench list",
    )
    run.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N (default: auto)")
    run.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="override a config field of every algorithm in the run (repeatable), e.g. --set batch_size=128; "
        "recorded in the manifest",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--yes", action="store_true", help=f"confirm a sweep of more than {MANY_SEEDS} seeds")
    run.add_argument(
        "--wait",
        action="store_true",
        help="a cell another process is writing: wait for it (default: say who holds it and skip it)",
    )
    ray = run.add_argument_group("Ray Tune runner (--runner ray)")
    run.add_argument("--runner", default="local", choices=["local", "ray"], help="where cells run (default: local)")
    ray.add_argument(
        "--address", default=None, help="Ray cluster: auto, HOST:PORT or ray://HOST:PORT (default: a local instance)"
    )
    ray.add_argument("--cpus-per-trial", type=float, default=1, help="CPUs per cell (default: 1)")
    ray.add_argument(
        "--gpus-per-trial", type=float, default=0, help="GPUs per cell, fractions share a GPU (default: 0)"
    )
    ray.add_argument("--max-concurrent", type=int, default=None, help="cells at once (default: as resources allow)")
    ray.add_argument(
        "--max-failures", type=int, default=2, help="retries of a failed cell from its checkpoint (default: 2)"
    )
    wb = run.add_argument_group("Weights & Biases (optional; honours WANDB_MODE, offline needs no login)")
    wb.add_argument("--wandb", action="store_true", help="log each cell's training and evaluation metrics to W&B")
    wb.add_argument("--wandb-project", default="latentbench")
    wb.add_argument("--wandb-entity", default=None)
    wb.add_argument("--wandb-group", default=None, help="default: the suite name")
    run.set_defaults(func=cmd_run)

    study = sub.add_parser(
        "study", help="run an exact study and write its CSV data (omd-tabular: OMD paper Fig. 2, 3 right)"
    )
    study.add_argument(
        "name",
        choices=["omd-tabular", "omd-cartpole-sweep"],
        help="the study (omd-cartpole-sweep: Fig. 4 from 'bench run --suite omd-cartpole-sweep' runs)",
    )
    study.add_argument(
        "--runs", action="append", metavar="DIR", help="omd-cartpole-sweep: results store root(s) (default: results)"
    )
    study.add_argument("--out", default=None, help="output folder (default: results/studies/NAME)")
    study.add_argument("--seeds", type=int, default=10, help="seeds 1..N (default: 10, as the notebook)")
    study.add_argument("--max-iter", type=int, default=10_000, help="outer Adam steps per run (default: 10000)")
    study.add_argument("--bounds", type=int, default=20, help="norm bounds linspace(0, 6, N) (default: 20)")
    study.set_defaults(func=cmd_study)

    lst = sub.add_parser("list", help="list algorithms with their variants, suites, or tasks")
    lst.add_argument("what", nargs="?", default="all", choices=["all", "algos", "suites", "tasks"])
    lst.add_argument("--suite", default=None, help="with 'tasks': only this suite")
    lst.set_defaults(func=cmd_list)

    cfg = sub.add_parser(
        "show-config", help="the resolved config of NAME[@VARIANT] on a suite's tasks, each value with its source"
    )
    cfg.add_argument("--suite", default=DEFAULT_SUITE, help=f"suite name (default: {DEFAULT_SUITE})")
    cfg.add_argument("--algo", default=DEFAULT_ALGOS, help="NAME or NAME@VARIANT (default: td3)")
    cfg.add_argument("--tasks", default=None, help="comma-separated task names (default: all tasks of the suite)")
    cfg.add_argument("--set", action="append", metavar="FIELD=VALUE", help="as in 'bench run'")
    cfg.set_defaults(func=cmd_show_config)

    rep = sub.add_parser("report", help="regenerate every figure, table and the HTML leaderboard into results/report/")
    _analysis_args(rep)
    rep.add_argument("--out", default=os.path.join("results", "report"), help="output folder (default: results/report)")
    rep.set_defaults(func=cmd_report)

    chk = sub.add_parser(
        "check",
        help="check published claims against runs and imported data "
        "(exit 1 if any is inconsistent or does not reproduce)",
    )
    _analysis_args(chk)
    chk.add_argument("--allow-protocol-mismatch", action="store_true", help="compare even when protocol fields differ")
    chk.add_argument(
        "--min-seeds", type=int, default=3, help="fewer seeds at the claim's step is inconclusive (default: 3)"
    )
    chk.add_argument("--all", action="store_true", help="also list claims that no data matches")
    chk.add_argument(
        "--against",
        action="append",
        metavar="DIR|SOURCE",
        help="instead of claims: compare our runs' learning curves with these published runs, step by step",
    )
    chk.set_defaults(func=cmd_check)

    st = sub.add_parser(
        "status", help="the reproduction status table (our runs against published curves and claims), as Markdown"
    )
    _analysis_args(st)
    st.add_argument(
        "--readme", metavar="FILE", help="replace the status block of FILE (e.g. README.md) instead of printing"
    )
    st.set_defaults(func=cmd_status)

    ref = sub.add_parser("reference", help="download published result files at pinned commits into a local cache")
    ref.add_argument("action", choices=["fetch", "list"])
    ref.add_argument("source", nargs="*", help="with fetch: mrq, td3, iqrl and/or alm")
    ref.add_argument("--force", action="store_true", help="download again even when cached")
    ref.add_argument("--quiet", action="store_true", help="no progress bar")
    ref.set_defaults(func=cmd_reference)
    return parser


def _show_notes(previous):
    """warnings.showwarning that prints an old config field name's note on the CLI's note channel (one line)."""

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, RenamedFieldWarning):
            print(f"note   {message}", file=sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    return show


def main(argv: list[str] | None = None) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("always", RenamedFieldWarning)  # core.vocabulary notes each old name once itself
        warnings.showwarning = _show_notes(warnings.showwarning)
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return args.func(args)
    except UserError as exc:
        print(f"bench: error: {exc}" if not str(exc).startswith("bench") else f"{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; re-run the same command to resume from the last checkpoints", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `bench list | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
