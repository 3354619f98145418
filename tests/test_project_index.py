"""The project index: facts of one module reach the analysis of another (flake8_nograd/project)."""
from __future__ import annotations

import ast
import os
import textwrap
from pathlib import Path
from typing import Dict, List, Tuple

from flake8_nograd.checker import check_tree
from flake8_nograd.config import Config
from flake8_nograd.project.index import ProjectIndex, analyse_source

Found = Tuple[str, int, int, str]


def make_project(root: Path, files: Dict[str, str]) -> List[Path]:
    (root / "setup.cfg").write_text("")
    paths = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        paths.append(path)
    return paths


def findings(root: Path, files: Dict[str, str], project: bool = True) -> List[Found]:
    paths = make_project(root, files)
    # Every file checked next, as the command does: their checks start from the index's walks.
    index = ProjectIndex.build(str(root), [str(p) for p in sorted(paths)], Config(), None, [os.path.realpath(root)])
    found: List[Found] = []
    for path in sorted(paths):
        text = path.read_text()
        context = index.context_for(str(path)) if project else None
        for finding in check_tree(ast.parse(text), text, Config(), project=context):
            found.append((path.relative_to(root).as_posix(), finding.line, finding.col + 1, finding.code))
    return found


THREE_FILES = {
    "pkg/__init__.py": "",
    "pkg/utils_eval.py": """
        import torch


        def evaluate(model, loader):
            model.eval()
            correct = 0
            for x, y in loader:
                out = model(x)
                correct += (out.argmax(1) == y).sum().item()
            return correct
        """,
    "pkg/helpers.py": """
        import torch


        def apply_update(loss, optimizer):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


        def scale_weights(layer, factor):
            layer.weight.mul_(factor)
        """,
    "pkg/train.py": """
        import torch
        import torch.nn.functional as F

        from pkg.helpers import apply_update, scale_weights
        from .utils_eval import evaluate


        def main(model, loader, optimizer):
            for x, y in loader:
                with torch.no_grad():
                    loss = F.cross_entropy(model(x), y)
                apply_update(loss, optimizer)
            scale_weights(model.fc, 0.5)
            with torch.no_grad():
                acc = evaluate(model, loader)
            return acc
        """,
}


def test_the_three_file_project_of_the_issue(tmp_path: Path) -> None:
    assert findings(tmp_path, THREE_FILES) == [
        ("pkg/train.py", 12, 9, "NG101"),  # the loss has no graph; apply_update back-propagates it
        ("pkg/train.py", 13, 5, "NG301"),  # scale_weights writes model.fc.weight with grad on
    ]


def test_one_module_at_a_time_it_cries_wolf_and_misses(tmp_path: Path) -> None:
    assert findings(tmp_path, THREE_FILES, project=False) == [("pkg/utils_eval.py", 7, 5, "NG201")]


def test_messages_name_the_helper_and_its_file(tmp_path: Path) -> None:
    paths = make_project(tmp_path, THREE_FILES)
    index = ProjectIndex.build(str(tmp_path), [str(p) for p in paths], Config(), None)
    train = tmp_path / "pkg" / "train.py"
    text = train.read_text()
    messages = [f.message for f in check_tree(ast.parse(text), text, Config(), project=index.context_for(str(train)))]
    assert messages == [
        "'loss' is handed to 'helpers.apply_update()', which calls backward() on it (line 6 of pkg/helpers.py): "
        "'loss' was computed under torch.no_grad() (line 10) and has no graph; compute it outside "
        "'with torch.no_grad():' before calling backward()",
        "'scale_weights(model.fc, 0.5)' updates 'layer.weight', a parameter of 'model.fc', in place "
        "(line 11 of pkg/helpers.py, in helpers.scale_weights) with grad enabled, which raises at run time; "
        "wrap the call in 'with torch.no_grad():'",
    ]


def test_quiet_where_other_modules_guard(tmp_path: Path) -> None:
    files = {
        "lib/__init__.py": "from .torch_utils import evaluation_mode\n",
        "lib/base.py": """
            import torch
            import lightning.pytorch as pl


            class Runner:
                def __init__(self, model):
                    self.model = model

                @torch.no_grad()
                def validate(self, loader):
                    self.model.eval()
                    return [self.eval_step(batch) for batch in loader]

                def eval_step(self, batch):
                    return self.model(batch)


            class BaseModule(pl.LightningModule):
                pass
            """,
        "lib/torch_utils.py": """
            import functools

            import torch


            def evaluation_mode(fn):
                @functools.wraps(fn)
                def wrapper(*args, **kwargs):
                    with torch.no_grad():
                        return fn(*args, **kwargs)
                return wrapper


            frozen = torch.no_grad
            """,
        "lib/tasks.py": """
            import torch

            from lib import evaluation_mode
            from lib.base import BaseModule, Runner
            from lib.torch_utils import frozen


            class MyRunner(Runner):
                def eval_step(self, batch):
                    self.model.eval()
                    for x in batch:
                        out = self.model(x)
                    return out


            @evaluation_mode
            def embed(model, loader):
                model.eval()
                feats = []
                for x in loader:
                    feats.append(model(x))
                return feats


            def embed_frozen(model, loader):
                model.eval()
                with frozen():
                    for x in loader:
                        y = model(x)
                return y


            class Task(BaseModule):
                def validation_step(self, batch, idx):
                    self.eval()
                    for x in batch:
                        out = self(x)
                    return out
            """,
    }
    alone = findings(tmp_path, files, project=False)
    assert [(path, line) for path, line, _, _ in alone] == [
        # (validation_step of a class whose imported base may be a LightningModule: unknown alone)
        ("lib/tasks.py", 11), ("lib/tasks.py", 20), ("lib/tasks.py", 28)
    ]
    assert findings(tmp_path, files) == []


def test_a_helper_with_a_grad_on_caller_elsewhere_stays_reported(tmp_path: Path) -> None:
    files = {
        "utils.py": """
            import torch


            def evaluate(model, loader):
                model.eval()
                for x in loader:
                    out = model(x)
                return out
            """,
        "train.py": """
            import torch

            from utils import evaluate


            def main(model, loader):
                with torch.no_grad():
                    evaluate(model, loader)
                return evaluate(model, loader)
            """,
    }
    assert findings(tmp_path, files) == [("utils.py", 6, 5, "NG201")]


def test_returned_states_cross_modules(tmp_path: Path) -> None:
    files = {
        "helpers.py": """
            import torch


            def features(model, x):
                return model(x).detach()


            @torch.no_grad()
            def scores(model, x):
                return model(x)


            def logits(model, x):
                return model(x)
            """,
        "train.py": """
            import helpers


            def step(model, x):
                helpers.features(model, x).sum().backward()
                helpers.scores(model, x).mean().backward()
                helpers.logits(model, x).mean().backward()
            """,
    }
    assert findings(tmp_path, files) == [("train.py", 5, 5, "NG101"), ("train.py", 6, 5, "NG101")]


def test_a_build_that_does_not_store_leaves_the_cache_to_its_flush(tmp_path: Path) -> None:
    from flake8_nograd.project.cache import ProjectCache

    root = tmp_path / "project"
    root.mkdir()
    paths = [str(p) for p in make_project(root, THREE_FILES)]
    cache = ProjectCache(str(tmp_path / "cache"))
    index = ProjectIndex.build(str(root), paths, Config(), cache, store=False)
    assert cache.load(index._pack_key) is None  # nothing written while building
    train = root / "pkg" / "train.py"
    text = train.read_text()
    context = index.context_for(str(train))
    found = check_tree(ast.parse(text), text, Config(), project=context)
    assert [(f.line, f.code) for f in found] == [(12, "NG101"), (13, "NG301")]
    index.flush()
    entries = cache.load(index._pack_key)["entries"]
    assert len(entries) == len(paths) and "informed" in entries[index._by_path[str(train)].key]
    # The next build reads every module from the flushed pack and analyses none.
    again = ProjectIndex.build(str(root), paths, Config(), ProjectCache(str(tmp_path / "cache")))
    assert not again._dirty
    codes = {"NG101", "NG201", "NG301"}
    assert [(f.line, f.code) for f in again.context_for(str(train)).final_findings(text, codes)] == [(12, "NG101"), (13, "NG301")]


def test_unchanged_modules_reuse_the_index_analysis(tmp_path: Path) -> None:
    paths = make_project(tmp_path, THREE_FILES)
    index = ProjectIndex.build(str(tmp_path), [str(p) for p in paths], Config(), None)
    codes = {"NG101", "NG201", "NG301"}
    helpers = tmp_path / "pkg" / "helpers.py"
    train = tmp_path / "pkg" / "train.py"
    evaluate = tmp_path / "pkg" / "utils_eval.py"
    assert index.context_for(str(helpers)).final_findings(helpers.read_text(), codes) == []
    # train.py calls helpers with facts, and evaluate()'s base comes from train.py: both re-analysed.
    assert index.context_for(str(train)).final_findings(train.read_text(), codes) is None
    assert index.context_for(str(evaluate)).final_findings(evaluate.read_text(), codes) is None
    # Edited since the index read it: analysed again.
    assert index.context_for(str(helpers)).final_findings(helpers.read_text() + "\n# edited\n", codes) is None


def test_a_module_its_callees_inform_skips_the_rules_alone_and_its_findings_stay(tmp_path: Path) -> None:
    # Listed with train.py first: the index still analyses helpers.py before it (train.py imports
    # it), sees that apply_update back-propagates its argument, and keeps no findings of train.py
    # alone (the check analyses it with the project's answers); helpers.py keeps its own.
    paths = make_project(tmp_path, THREE_FILES)
    train = tmp_path / "pkg" / "train.py"
    helpers = tmp_path / "pkg" / "helpers.py"
    listed = [str(train)] + [str(p) for p in paths if p != train]
    index = ProjectIndex.build(str(tmp_path), listed, Config(), None)
    entries = {facts.path: facts.entry for facts in index._by_path.values()}
    assert "findings" not in entries[str(train)] and entries[str(helpers)]["findings"] == []
    assert list(index._by_path) == listed  # the index keeps the order given
    assert findings(tmp_path, THREE_FILES) == [("pkg/train.py", 12, 9, "NG101"), ("pkg/train.py", 13, 5, "NG301")]


GUARDED_PROBE = dict(
    THREE_FILES,
    **{
        "pkg/guards.py": """
            import contextlib

            import torch


            @contextlib.contextmanager
            def frozen():
                with torch.no_grad():
                    yield
            """,
        "pkg/probe.py": """
            import torch

            from pkg.guards import frozen
            from pkg.helpers import apply_update


            def probe(model, x, optimizer):
                with frozen():
                    loss = model(x).sum()
                apply_update(loss, optimizer)
            """,
    },
)


def test_the_check_starts_from_the_index_walk_only_where_it_holds(tmp_path: Path) -> None:
    paths = make_project(tmp_path, GUARDED_PROBE)
    train = tmp_path / "pkg" / "train.py"
    # Only the walks of what the caller will check are kept.
    index = ProjectIndex.build(str(tmp_path), [str(p) for p in paths], Config(), None, [str(tmp_path / "pkg" / "probe.py")])
    assert index.context_for(str(train)).walked_module(train.read_text()) is None
    index = ProjectIndex.build(str(tmp_path), [str(p) for p in paths], Config(), None, [os.path.realpath(tmp_path)])
    probe = tmp_path / "pkg" / "probe.py"
    text = train.read_text()
    # train.py asked nothing while walking that the project answers: the check starts from the
    # index's walk (no parse, no walk), of this text only, and once (the index lets it go).
    assert index.context_for(str(train)).walked_module(text + "\n# edited\n") is None
    assert index.context_for(str(train)).walked_module(text) is not None
    assert index.context_for(str(train)).walked_module(text) is None
    # probe.py asked whether `frozen` is a guard; the project says it is: walked again with it.
    assert index.context_for(str(probe)).walked_module(probe.read_text()) is None
    expected = [("pkg/probe.py", 10, 5, "NG101"), ("pkg/train.py", 12, 9, "NG101"), ("pkg/train.py", 13, 5, "NG301")]
    assert findings(tmp_path, GUARDED_PROBE) == expected


def test_past_the_walk_budget_modules_are_walked_again_when_checked(tmp_path: Path, monkeypatch) -> None:
    expected = findings(tmp_path, GUARDED_PROBE)
    monkeypatch.setattr("flake8_nograd.project.index._WALKED_SOURCE_BUDGET", 0)
    paths = [tmp_path / name for name in GUARDED_PROBE]
    index = ProjectIndex.build(str(tmp_path), [str(p) for p in paths], Config(), None, [os.path.realpath(tmp_path)])
    train = tmp_path / "pkg" / "train.py"
    assert index.context_for(str(train)).walked_module(train.read_text()) is None
    assert findings(tmp_path, GUARDED_PROBE) == expected


def test_a_helper_edit_reaches_callers_checked_from_the_index_walk(tmp_path: Path) -> None:
    # Each build walks anew: the walk kept for train.py is never that of an earlier build.
    before = findings(tmp_path, GUARDED_PROBE)
    assert ("pkg/train.py", 12, 9, "NG101") in before and ("pkg/probe.py", 10, 5, "NG101") in before
    edited = dict(GUARDED_PROBE)
    edited["pkg/helpers.py"] = edited["pkg/helpers.py"].replace("loss.backward()", "print(float(loss))")
    assert findings(tmp_path, edited) == [("pkg/train.py", 13, 5, "NG301")]
    assert findings(tmp_path, GUARDED_PROBE) == before


def test_a_module_that_does_not_parse_is_left_out(tmp_path: Path) -> None:
    assert analyse_source(b"def broken(:\n", Config()) is None
    files = dict(THREE_FILES)
    files["pkg/broken.py"] = "def broken(:\n"
    paths = make_project(tmp_path, files)
    index = ProjectIndex.build(str(tmp_path), [str(p) for p in paths], Config(), None)
    assert str(tmp_path / "pkg" / "broken.py") not in index._by_path
    assert index.context_for(str(tmp_path / "pkg" / "train.py")) is not None


def test_a_file_outside_the_index_still_sees_project_helpers(tmp_path: Path) -> None:
    paths = make_project(tmp_path, THREE_FILES)
    index = ProjectIndex.build(str(tmp_path), [str(p) for p in paths], Config(), None)
    cell = "import torch\nfrom pkg.helpers import apply_update\nwith torch.no_grad():\n    loss = model(x).sum()\napply_update(loss, opt)\n"
    context = index.context_for(str(tmp_path / "explore.ipynb"))
    assert context is not None and context.final_findings(cell, {"NG101"}) is None
    found = check_tree(ast.parse(cell), cell, Config(), project=context)
    assert [(f.line, f.col, f.code) for f in found] == [(5, 0, "NG101")]
    assert index.context_for(str(tmp_path.parent / "elsewhere.py")) is None


def test_methods_of_imported_classes_are_call_sites(tmp_path: Path) -> None:
    files = {
        "lib/__init__.py": "",
        "lib/runner.py": """
            import torch


            class Runner:
                def __init__(self, model):
                    self.model = model

                def validate(self, loader):
                    self.model.eval()
                    for x in loader:
                        out = self.model(x)
                    return out
            """,
        "main.py": """
            import torch

            from lib.runner import Runner


            class Verbose(Runner):
                def report(self, loader):
                    with torch.no_grad():
                        return self.validate(loader)


            def main(model, loader):
                runner = Runner(model)
                with torch.no_grad():
                    runner.validate(loader)
            """,
    }
    assert findings(tmp_path, files, project=False) == [("lib/runner.py", 10, 9, "NG201")]
    assert findings(tmp_path, files) == []


def test_a_helper_elsewhere_that_leaves_grad_off(tmp_path: Path) -> None:
    files = {
        "setup_eval.py": """
            import torch


            def freeze_for_eval(model):
                model.eval()
                torch.set_grad_enabled(False)
            """,
        "train.py": """
            import torch
            import torch.nn.functional as F

            from setup_eval import freeze_for_eval


            def main(model, x, y):
                freeze_for_eval(model)
                loss = F.mse_loss(model(x), y)
                loss.backward()
            """,
    }
    assert findings(tmp_path, files, project=False) == []
    assert findings(tmp_path, files) == [("train.py", 10, 5, "NG101")]


def _check_command(root: Path, *options: str) -> List[Tuple[str, int, str]]:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "flake8_nograd", "check", "--select", "NG", "--format", "json", "--exit-zero", "-q",
         "--jobs", "1", *options, str(root)],
        capture_output=True, text=True, check=True,
    )
    return sorted((Path(r["path"]).relative_to(root).as_posix(), r["line"], r["code"]) for r in json.loads(done.stdout))


def test_the_cache_is_never_stale_after_an_edit(tmp_path: Path) -> None:
    make_project(tmp_path, THREE_FILES)
    first = _check_command(tmp_path)
    assert first == [("pkg/train.py", 12, "NG101"), ("pkg/train.py", 13, "NG301")]
    assert (tmp_path / ".nograd_cache").is_dir()
    assert _check_command(tmp_path) == first  # warm: the same answer from kept findings
    # The helper stops back-propagating: the caller's NG101 goes, though train.py is unchanged.
    helpers = tmp_path / "pkg" / "helpers.py"
    helpers.write_text(helpers.read_text().replace("    loss.backward()\n", "    print(float(loss))\n"))
    assert _check_command(tmp_path) == [("pkg/train.py", 13, "NG301")]
    # And back: the finding returns.
    helpers.write_text(helpers.read_text().replace("    print(float(loss))\n", "    loss.backward()\n"))
    assert _check_command(tmp_path) == first
    assert _check_command(tmp_path, "--no-cache") == first
    assert _check_command(tmp_path, "--no-project") == [("pkg/utils_eval.py", 7, "NG201")]


TASK_CHAIN = {
    "kit/__init__.py": "",
    "kit/heads.py": """
        import torch


        class SlotTagger:
            def __init__(self, encoder):
                self.encoder = encoder

            def tag(self, batch):
                return self._tag_windows(batch)

            def _tag_windows(self, batch):
                self.encoder.eval()
                tags = []
                for window in batch.split(8):
                    tags.append(self.encoder(window).argmax(-1))
                return torch.cat(tags)
        """,
    "kit/tasks.py": """
        import torch


        class TaggingTask:
            def score_split(self, model, loader):
                return [self.score_batch(model, batch) for batch in loader]

            def score_batch(self, model, batch):
                return (model.tag(batch) == 0).float().mean().item()
        """,
    "kit/loop.py": """
        import torch


        class Loop:
            def __init__(self, task, model, loaders):
                self.task, self.model, self.loaders = task, model, loaders

            @torch.no_grad()
            def run_validation(self, split):
                return self.task.score_split(self.model, self.loaders[split])
        """,
}


def test_a_guard_several_calls_up_through_objects_of_unknown_class(tmp_path: Path) -> None:
    # `self.task.score_split` and `model.tag` name methods of classes no module here ties to
    # those objects; the only calls by those names run under run_validation's no_grad, so the
    # loop in _tag_windows may run guarded: unknown, quiet. One module at a time, nothing says so.
    assert findings(tmp_path, TASK_CHAIN, project=False) == [("kit/heads.py", 14, 9, "NG201")]
    assert findings(tmp_path, TASK_CHAIN) == []


def test_the_same_chain_unguarded_is_still_reported(tmp_path: Path) -> None:
    files = dict(TASK_CHAIN)
    files["kit/loop.py"] = TASK_CHAIN["kit/loop.py"].replace("            @torch.no_grad()\n", "")
    assert findings(tmp_path, files) == [("kit/heads.py", 14, 9, "NG201")]


def test_a_creation_helper_elsewhere_that_forwards_its_keywords(tmp_path: Path) -> None:
    files = {
        "rl/__init__.py": "",
        "rl/tensors.py": """
            import torch


            def zeros(*sizes, **kwargs):
                return torch.zeros(*sizes, **kwargs)


            def fresh(*sizes):
                return torch.zeros(*sizes)
            """,
        "rl/tune.py": """
            import torch

            from rl import tensors


            def tune(log_pi, target):
                log_alpha = tensors.zeros(1, requires_grad=True)
                loss = -(log_alpha * (log_pi + target).detach()).mean()
                loss.backward()
                frozen = tensors.fresh(1)
                (frozen * 2).sum().backward()
            """,
    }
    # zeros() may return a leaf that requires grad (the caller asks); fresh() never does.
    assert findings(tmp_path, files) == [("rl/tune.py", 11, 5, "NG101")]
