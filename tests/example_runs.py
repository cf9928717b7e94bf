"""The examples, trained once per test session and shared by every test that reads their logs.

The example tests (``test_examples.py``), the route tests (``test_plugin.py``) and the browser
tests (``tests/browser``) all need logdirs written by the real examples. Training them is the
most expensive set-up of the suite, so the ``example_runs`` fixture (``tests/conftest.py``)
trains each example once, every one in its own subprocess and all at the same time: TensorFlow's
start-up and the examples' single-threaded parts overlap, and TensorFlow's warnings stay out of
pytest's warnings-as-errors.

Each example's ``main(argv)`` runs exactly as a user would run it; what it returns is written
as JSON beside its logdir and handed to the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (example module, its arguments but --logdir). Every name gets its own logdir
# ``<root>/<name>``; the CTR and forecaster runs are written one level down (``<root>/ctr/ctr``)
# so that their logdir holds that one run.
CTR_ARGS = ["--quick", "--max-samples", "1000"]  # 1,000 rows per quick test day: whole test sets
EXAMPLES = {
    "ctr": ("ctr_drift", [*CTR_ARGS, "--logdir", "{root}/ctr/ctr"]),
    "ctr2": ("ctr_drift", [*CTR_ARGS, "--seed", "1", "--logdir", "{root}/ctr2/ctr2"]),
    "ts": ("timeseries_conv1d", ["--quick", "--epochs", "3", "--logdir", "{root}/ts/ts"]),
    "digits": ("digits_cnn", ["--quick", "--epochs", "2", "--logdir", "{root}/digits/digits"]),
    "compare": ("compare_runs", ["--quick", "--epochs", "1", "--logdir", "{root}/compare"]),
}
CTR_STEPS = [0, 1, 2]  # the quick CTR example trains 3 epochs

_CODE = (
    "import json, sys; sys.path.insert(0, {repo!r}); from examples import {module}; "
    "result = {module}.main({argv!r}); "
    "open({out!r}, 'w').write(json.dumps(result, default=float))"
)


@dataclass
class ExampleRuns:
    """Where the examples wrote their logs, and what each one's ``main`` returned."""

    root: str
    results: dict[str, object] = field(default_factory=dict)

    def logdir(self, name: str) -> str:
        """The logdir holding example ``name``'s run(s) and nothing else."""
        return os.path.join(self.root, name)


def train_examples(root: str, timeout_s: float = 900) -> ExampleRuns:
    """Trains every example of :data:`EXAMPLES` under ``root`` in parallel subprocesses.

    Raises:
        RuntimeError: naming each example that failed, with the end of its output.
    """
    jobs = []
    for name, (module, argv) in EXAMPLES.items():
        argv = [arg.format(root=root) for arg in argv]
        out = os.path.join(root, f"{name}.result.json")
        code = _CODE.format(repo=REPO, module=module, argv=argv, out=out)
        log = open(os.path.join(root, f"{name}.train.log"), "w")  # closed once the run ends
        process = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
        )
        jobs.append((name, process, log, out))
    runs, failures = ExampleRuns(root), []
    try:
        for name, process, log, out in jobs:
            code = process.wait(timeout=timeout_s)
            log.close()
            if code != 0:
                with open(log.name, errors="replace") as f:
                    failures.append(f"example {name!r} exited with {code}:\n{f.read()[-3000:]}")
                continue
            with open(out) as f:
                runs.results[name] = json.load(f)
    finally:
        for _, process, log, _ in jobs:  # after a timeout: nothing left running
            if process.poll() is None:
                process.kill()
            log.close()
    if failures:
        raise RuntimeError("\n\n".join(failures))
    return runs
