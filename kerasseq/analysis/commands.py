"""`kerasseq analyze gradients|gates|clusters RUN_DIR`: the analyses of
`kerasseq.analysis` on a finished run of any registered task. The task
gives the examples (`Task.analysis_examples`, `analysis_sequence`,
`analysis_labels`); the plots and a JSON of the numbers go into the run's
`analysis/` folder.

Example:
>>> analyze_run("runs/imdb", "gates", text="not good at all")  # doctest: +SKIP
"""

import json
import math
import warnings

import numpy as np

from kerasseq.validation import ArgumentError
from kerasseq.validation import check_one_of
from kerasseq.validation import check_positive_int

ANALYSES = ("gradients", "gates", "clusters")
# Examples each analysis reads by default: gradients step the layer by
# hand (a Jacobian per step); clusters only run the model forward.
DEFAULT_SAMPLES = {"gradients": 32, "clusters": 2000}


def analyze_run(run_dir, analysis, *, split="test", samples=None, text=None, layer=None, direction=None,
                seed=0):
    """Runs one analysis on a run's model and writes its figures.

    Args:
        run_dir: a run directory written by `kerasseq train`.
        analysis: "gradients" (`gradient_flow` on `samples` examples),
            "gates" (`gate_trace` of `text` or a test example) or
            "clusters" (`cluster_report` of the final hidden states of
            `samples` examples, with the task's classes if it has any).
        split: the split the examples come from ("val" or "test").
        samples: how many examples (default: 32 for gradients, 2000 for
            clusters; fewer if the split is smaller).
        text: for "gates", the text to trace (text tasks only; default:
            an example of `split` drawn from `seed`).
        layer: the recurrent layer's name; default: the first (of an
            ensemble: its first member's).
        direction: of a `Bidirectional` layer, "forward" (default) or
            "backward", for gradients and gates (clusters take both).
        seed: seed of the examples drawn.

    Returns:
        The dict written as `RUN_DIR/analysis/ANALYSIS.json` (the PNG
        beside it has the same name).
    """
    from kerasseq.runs import RunDirectory

    owner = "analyze_run"
    check_one_of("analysis", analysis, list(ANALYSES), owner=owner)
    check_one_of("split", split, ["val", "test"], owner=owner)
    if samples is not None:
        check_positive_int("samples", samples, owner=owner, example="samples=32")
    if direction is not None and analysis == "clusters":
        raise ArgumentError("direction", f"{owner} received direction={direction!r} for 'clusters', which "
                                         "reads the final states of both directions. Leave it out.")
    if text is not None and analysis != "gates":
        raise ArgumentError("text", f"{owner} received text= for {analysis!r}; only 'gates' traces a "
                                    "text. Leave it out, or run the gates analysis.")
    run = RunDirectory(run_dir)
    task = run.load_task()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
        model = task.load_model(run.model_path)
    folder = run.path / "analysis"
    folder.mkdir(exist_ok=True)
    samples = samples or DEFAULT_SAMPLES.get(analysis)
    result = {"run": str(run.path), "task": task.name, "analysis": analysis}
    if analysis == "gradients":
        result.update(_gradients(task, model, folder, split=split, samples=samples, layer=layer,
                                 direction=direction, seed=seed))
    elif analysis == "gates":
        result.update(_gates(task, model, folder, text=text, layer=layer, direction=direction, split=split,
                             seed=seed))
    else:
        result.update(_clusters(task, model, folder, split=split, samples=samples, layer=layer, seed=seed))
    (folder / f"{analysis}.json").write_text(json.dumps(_plain(result), indent=1))
    return result


def _gradients(task, model, folder, *, split, samples, layer, direction, seed):
    from kerasseq.analysis.gradients import gradient_flow
    from kerasseq.analysis.gradients import plot_gradient_flow

    inputs, targets = task.analysis_examples(split, samples, seed=seed)
    flow = gradient_flow(model, inputs, targets, layer=layer, direction=direction)
    read = flow["steps_read"]
    ragged = bool((read < flow["grad_norm"].shape[1]).any())
    named = task.model_name + ("" if direction is None else f" ({direction})")
    plot_gradient_flow({named: flow}, folder / "gradients.png", by="distance" if ragged else "step",
                       title=f"Gradient flow through time: {named}, {split} examples")
    # The summary spans the distances every sequence reaches (texts with
    # no token left out).
    span = int(read[read > 0].min()) if (read > 0).any() else 0
    distance = flow["by_distance"][:span]
    summary = {
        "split": split, "direction": direction or "forward", "samples": int(flow["grad_norm"].shape[0]),
        "steps": int(flow["grad_norm"].shape[1]),
        "shortest": span, "grad_norm_last": float(distance[0]) if span else None,
        "grad_norm_first": float(distance[-1]) if span else None,
        "decay_per_step": _decay_per_step(distance),
        "jacobian_norm_median": float(np.nanmedian(flow["jacobian_norm"]))
        if np.isfinite(flow["jacobian_norm"]).any() else None,
    }
    if span:
        decay = summary["decay_per_step"]
        print(f"||dL/dh|| at the last step {summary['grad_norm_last']:.3g}, {span - 1} steps before it "
              f"{summary['grad_norm_first']:.3g}" + ("" if decay is None else f" (x{decay:.3f} per step back)")
              + f"; median spectral norm of dh_t/dh_t-1 {summary['jacobian_norm_median']}")
    else:
        print("No example has a step to read.")
    return {**summary, "mean": flow["mean"], "by_distance": flow["by_distance"], "jacobian_mean": flow["jacobian_mean"],
            "grad_norm": flow["grad_norm"]}


def _decay_per_step(distance):
    """exp of the slope of log ||dL/dh|| over the distances 1, 2, ... from
    the last step (the last step's own spike left out): the factor one
    more step back multiplies the gradient by; None if it cannot be fitted."""
    steps = np.arange(1, len(distance))
    values = np.asarray(distance[1:], dtype="float64")
    keep = np.isfinite(values) & (values > 0)
    if keep.sum() < 2:
        return None
    return float(np.exp(np.polyfit(steps[keep], np.log(values[keep]), 1)[0]))


def _gates(task, model, folder, *, text, layer, direction, split, seed):
    from kerasseq.analysis.gates import gate_trace
    from kerasseq.analysis.gates import plot_gate_trace

    inputs, labels = task.analysis_sequence(model, text, split=split, seed=seed)
    trace = gate_trace(model, inputs, layer=layer, direction=direction)
    steps = len(next(iter(trace["gates"].values())))
    if labels is not None and trace["go_backwards"]:
        labels = labels[::-1]  # the gates are in reading order
    if labels is not None and len(labels) != steps:
        # A model that truncates the text: number the steps instead.
        labels = None
    plot_gate_trace(trace, folder / "gates.png", labels=labels,
                    title=f"Gates of {trace['layer']} ({trace['cell'].upper()}"
                          + ("" if direction is None else f", {direction}") + ")")
    means = {name: values.mean(axis=1) for name, values in trace["gates"].items()}
    print(f"{trace['cell'].upper()} {trace['layer']}, {steps} steps; mean over units per step:")
    for name, values in means.items():
        print(f"  {name:>7}: " + " ".join(f"{v:.2f}" for v in values[:40]) + (" ..." if steps > 40 else ""))
    return {"layer": trace["layer"], "cell": trace["cell"], "direction": direction or "forward",
            "text": None if text is None else str(text),
            "steps": labels if labels is not None else list(range(1, steps + 1)),
            "mean_over_units": means, "gates": trace["gates"]}


def _clusters(task, model, folder, *, split, samples, layer, seed):
    from kerasseq.analysis.clusters import cluster_report
    from kerasseq.analysis.clusters import plot_cluster_report
    from kerasseq.analysis.states import final_states

    inputs, targets = task.analysis_examples(split, samples, seed=seed)
    states = final_states(model, inputs, layer=layer)
    if len(states) < 4:
        raise ArgumentError("samples", f"analyze_run got {len(states)} {split} examples; clusters need 4 "
                                       "or more. Pass a larger samples= (--samples), or another split.")
    labels = task.analysis_labels(targets)
    report = cluster_report(states, labels, k_range=range(2, min(9, len(states))), seed=seed)
    plot_cluster_report(report, folder / "clusters.png", embeddings=states, labels=labels,
                        title=f"Final hidden states of {task.model_name}, {len(states)} {split} examples")
    line = ", ".join(f"{name} k={k}" for name, k in report["best_k"].items())
    print(f"{len(states)} final states of {states.shape[1]} units; best k by {line}")
    if report.get("labels"):
        scores = report["labels"]
        print(f"the classes as clusters: silhouette {scores['silhouette']:.3f}, Dunn {scores['dunn']:.3f}, "
              f"Davies-Bouldin {scores['davies_bouldin']:.3f}")
    return {"split": split, "samples": len(states), "units": int(states.shape[1]), **report}


def _plain(value):
    """`value` with NumPy arrays and numbers as JSON (NaN and inf as null)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
