"""Generated notebook cells for the IPython oracle tests: IPython escapes where a logical line
starts and where they are not escapes (inside brackets, strings, after a backslash continuation,
in comments), cell magics, help syntax, pasted prompts, indented cells, and cells IPython refuses."""
from __future__ import annotations

import random
from typing import List

# Fragments of one or more lines. Each is complete on its own (or deliberately not Python).
ESCAPES = [
    "%matplotlib inline",
    "%time y = f(x)",
    "%load_ext autoreload",
    "%timeit -n 10 model(x)",
    "!pip install -q tqdm",
    "!!ls -la",
    "!echo a \\\n    b",
    "%time f(a, \\\n        b)",
    "files = !ls",
    "t = %timeit -o f()",
    "x, y = !echo 1 2",
    "cfg['out'] = %env HOME",
    "?torch.nn",
    "??model",
    "model?",
    "torch.*Tensor?",
    "model.fc??",
    "%timeit?",
    "/print a b",
    ",print a b",
    ";print a b",
    "x = 1; y?",
]
PYTHON = [
    "print('epoch %d, loss %.4f'\n      % (epoch, loss))",
    "print('a %s'\n      %\n      'b')",
    "x = (a\n     % b)",
    "total = [1,\n         2] \\\n    % 3",
    "y = a \\\n    % b",
    "z = a \\\n  / b",
    "s = '''\n%time x\n!ls\nmodel?\n'''",
    's = """\n  files = !ls\n"""',
    "s = '%d' % 3",
    "msg = '!not shell'",
    "ok = x != y",
    "# %time in a comment\n# !ls too",
    "x = 1  # files = !ls",
    "f(a,\n  b=1)",
    "d = {\n    'k': 1,\n}",
    "for i in range(3):\n    %time f(i)",
    "if flag:\n    files = !ls\nelse:\n    files = []",
    "def g():\n    !echo inside\n    return 1",
    "with open('f') as h:\n    data = h.read()",
    "q = f'{a!r}'",
    "r = a if b else c",
    "await asyncio.sleep(0)",
]
INVALID = [
    "print 'py2'",
    "def f(:",
    "x = (1,",
    "%time f(a,\n   b)",
    "print(x)?",
    "f(a,\n  !b)",
    "x = 1 ?",
    "a = b ? c",
    "/ a",
    ";if a",
    "if x:\n  y\n z",
    "x = (%time f())",
    "[\n?x\n]",
]
CELL_MAGICS = ["%%time", "%%timeit -n 3", "%%capture out", "%%bash", "%%writefile out.txt", "%%html"]
PROMPTS = [">>> x = 1\n>>> y = x + 1", ">>> for i in range(2):\n...     print(i)", "In [1]: x = 1\n   ...: y = 2"]


def generated_cells(count: int, seed: int = 18) -> List[str]:
    """Cells made of random fragments; about one in four is not Python."""
    chooser = random.Random(seed)
    cells: List[str] = []
    for _ in range(count):
        kind = chooser.random()
        if kind < 0.05:
            cells.append(chooser.choice(PROMPTS) + "\n")
            continue
        parts = [chooser.choice(ESCAPES + PYTHON) for _ in range(chooser.randint(1, 4))]
        if chooser.random() < 0.2:
            parts.insert(chooser.randrange(len(parts) + 1), chooser.choice(INVALID))
        body = "\n".join(parts)
        if chooser.random() < 0.15:
            indent = chooser.choice(["  ", "    ", "\t"])
            body = "\n".join(indent + line if line.strip() else line for line in body.split("\n"))
        if chooser.random() < 0.15:
            body = chooser.choice(CELL_MAGICS) + "\n" + body
        if chooser.random() < 0.1:
            body = "\n" + body
        cells.append(body + ("\n" if chooser.random() < 0.7 else ""))
    return cells
