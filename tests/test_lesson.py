"""docs/lesson.ipynb, the classroom notebook: it runs top to bottom without an error, executed headless by nbclient
in a fresh kernel started in docs/ as `jupyter execute --inplace docs/lesson.ipynb` does, in its quick mode
(LESSON_QUICK=1: a smaller search, fewer documents); and the committed copy holds the outputs of one full run."""

import os
import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSON = os.path.join(ROOT, "docs", "lesson.ipynb")


def code_cells(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def images(notebook):
    return [o for c in code_cells(notebook) for o in c.outputs if "image/png" in o.get("data", {})]


def figures_drawn(notebook):
    """How many figures the code displays: each goes through the notebook's show(fig)."""
    return sum(len(re.findall(r"^\s*show\(fig\)", c.source, re.MULTILINE)) for c in code_cells(notebook))


def text_of(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.fixture
def quick(monkeypatch, tmp_path):
    """The kernel inherits this environment: quick mode, and the live search writes under tmp_path."""
    monkeypatch.setenv("LESSON_QUICK", "1")
    monkeypatch.setenv("LESSON_OUT", str(tmp_path))


def execute(notebook):
    """Every cell in order, the committed outputs cleared first; the first cell that raises ends the run with
    CellExecutionError."""
    for cell in code_cells(notebook):
        cell.execution_count, cell.outputs = None, []
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": os.path.dirname(LESSON)}})
    client.execute()
    return notebook


def test_lesson_runs_without_error(quick):
    notebook = execute(nbformat.read(LESSON, as_version=4))
    cells = code_cells(notebook)
    assert "mode: quick" in text_of(cells[0])  # the environment reached the kernel: this was the short run
    assert all(c.execution_count is not None for c in cells)
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert len(images(notebook)) == figures_drawn(notebook) >= 7


def test_a_cell_that_raises_fails_the_run(quick):
    notebook = nbformat.read(LESSON, as_version=4)
    first = notebook.cells.index(code_cells(notebook)[0])
    notebook.cells.insert(first + 1, nbformat.v4.new_code_cell("raise RuntimeError('a deliberately broken cell')"))
    with pytest.raises(CellExecutionError, match="a deliberately broken cell"):
        execute(notebook)
    later = code_cells(notebook)[2:]
    assert all(c.execution_count is None for c in later)  # the run stopped there


def test_committed_lesson_holds_a_full_run():
    notebook = nbformat.read(LESSON, as_version=4)
    cells = code_cells(notebook)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))  # top to bottom, one kernel
    assert "mode: full" in text_of(cells[0])
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert len(images(notebook)) == figures_drawn(notebook) >= 7
    assert os.path.getsize(LESSON) < 1.5e6
