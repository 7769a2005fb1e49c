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
    """NotebookClient that collects a cell's late outputs deterministically.

    Deno's kernel sometimes publishes `status: idle` before the cell's
    `execute_result` (measured here: 3 cells in 40). nbclient stops collecting
    outputs at "idle", so such a result, or an error, would be lost: a false
    pass. Instead of sleeping after every cell, this client sends the kernel an
    empty, silent request once the cell reports idle, and keeps collecting the
    cell's messages until that request's own "idle" arrives: the kernel runs
    requests one at a time, so by then everything the cell published is in.
    """

    sentinel_timeout = 30

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        sentinel = None
        while True:
            msg = await ensure_async(
                self.kc.iopub_channel.get_msg(
                    timeout=self.sentinel_timeout if sentinel else None
                )
            )
            parent = msg["parent_header"].get("msg_id")
            if sentinel is not None and parent == sentinel:
                if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                    return
                continue
            if parent != parent_msg_id:
                continue
            try:
                self.process_message(msg, cell, cell_index)
            except CellExecutionComplete:
                sentinel = self.kc.execute("", silent=True, store_history=False)


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
