#!/usr/bin/python3
"""Execute notebooks headless with Deno's Jupyter kernel and report errors.

Usage: /usr/bin/python3 tools/run_notebooks.py [--deno PATH] [--timeout S] NOTEBOOK...

Each notebook runs in its own folder (relative imports resolve from notebooks/).
With --deno, a temporary kernelspec named "deno" (NO_COLOR=1) is used, so
nothing needs to be installed with `deno jupyter --install`.

Prints one JSON object per notebook on stdout:
  {"file": ..., "ok": bool, "seconds": float, "problems": [{"cell": n, "kind": ..., "text": ...}],
   "outputs": [[output_type, ...] for each code cell]}
A problem is an error output, or any output on the stderr stream.
Exit status: 0 when every notebook ran clean, 1 otherwise, 3 when nbclient is missing.
"""

import json
import os
import sys
import tempfile
import time

try:
    import nbformat
    from queue import Empty
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionComplete, CellExecutionError
    from nbclient.util import ensure_async
except ImportError as error:  # pragma: no cover
    print(json.dumps({"missing": str(error)}))
    sys.exit(3)


class DenoNotebookClient(NotebookClient):
    """NotebookClient that keeps listening briefly after a cell's "idle" status.

    Deno's kernel sometimes publishes `status: idle` before the cell's
    `execute_result` (measured here: 3 cells in 40). nbclient stops collecting
    outputs at "idle", so such a result, or an error, would be lost: a false
    pass. This client drains the cell's late messages for a short grace period.
    """

    grace_seconds = 0.3

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        complete = False
        while True:
            try:
                msg = await ensure_async(
                    self.kc.iopub_channel.get_msg(timeout=self.grace_seconds if complete else None)
                )
            except Empty:
                return
            if msg["parent_header"].get("msg_id") != parent_msg_id:
                continue
            try:
                self.process_message(msg, cell, cell_index)
            except CellExecutionComplete:
                complete = True


def install_kernelspec(deno):
    root = tempfile.mkdtemp(prefix="virtio-lab-kernels-")
    kernel_dir = os.path.join(root, "kernels", "deno")
    os.makedirs(kernel_dir)
    spec = {
        "argv": [deno, "jupyter", "--kernel", "--conn", "{connection_file}"],
        "display_name": "Deno",
        "language": "typescript",
        "env": {"NO_COLOR": "1"},
    }
    with open(os.path.join(kernel_dir, "kernel.json"), "w") as f:
        json.dump(spec, f)
    os.environ["JUPYTER_PATH"] = root + os.pathsep + os.environ.get("JUPYTER_PATH", "")


def run(path, timeout):
    started = time.time()
    nb = nbformat.read(path, as_version=4)
    client_class = DenoNotebookClient if hasattr(NotebookClient, "_async_poll_output_msg") else NotebookClient
    client = client_class(
        nb,
        timeout=timeout,
        kernel_name="deno",
        allow_errors=True,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    problems = []
    outputs = []
    try:
        client.execute()
    except CellExecutionError as error:  # pragma: no cover (allow_errors=True)
        problems.append({"cell": -1, "kind": "execution", "text": str(error)[:2000]})
    except Exception as error:  # kernel died, timeout...
        problems.append({"cell": -1, "kind": type(error).__name__, "text": str(error)[:2000]})
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        outputs.append([o.get("output_type") for o in cell.get("outputs", [])])
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                text = "%s: %s" % (output.get("ename"), output.get("evalue"))
                problems.append({"cell": index, "kind": "error", "text": text[:2000]})
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                problems.append({"cell": index, "kind": "stderr", "text": output.get("text", "")[:2000]})
    return {
        "file": path,
        "ok": not problems,
        "seconds": round(time.time() - started, 2),
        "problems": problems,
        "outputs": outputs,
    }


def main(argv):
    deno = None
    timeout = 120
    files = []
    i = 0
    while i < len(argv):
        if argv[i] == "--deno":
            deno = argv[i + 1]
            i += 2
        elif argv[i] == "--timeout":
            timeout = int(argv[i + 1])
            i += 2
        else:
            files.append(argv[i])
            i += 1
    if deno:
        install_kernelspec(deno)
    ok = True
    for path in files:
        result = run(path, timeout)
        ok = ok and result["ok"]
        print(json.dumps(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
