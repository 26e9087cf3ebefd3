"""examples/quickstart.ipynb runs top to bottom in its own kernel (nbclient), which is shut
down afterwards with the local Ray the notebook started."""

from __future__ import annotations

import pytest

from conftest import REPO

NOTEBOOK = REPO / "examples" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_runs():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    # execute() starts a kernel of its own and shuts it down when done (or failed)
    NotebookClient(nb, timeout=1200, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "page_turned_90.jpg', angle=90" in text and "map_turned_180.jpg', angle=180" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the tiles' votes, and the image before and after
    frames = [o for o in outputs if "text/html" in o.get("data", {})]
    assert frames and "predicted" in frames[0]["data"]["text/html"]
    assert not [o for o in outputs if o.output_type == "error"]
