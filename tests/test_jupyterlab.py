"""A reader's path into a chapter: ``jupyter lab`` serves a chapter's MyST source as a
notebook (through jupytext) and a kernel started by that server runs it, at ``smoke``."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

from speechxai.profiles import chapter_parameters

pytestmark = pytest.mark.book

CHAPTER = "book/listening.md"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A ``jupyter lab`` server on the project, without a browser; yields (url, token,
    runtime folder holding its kernels' connection files)."""
    port, token = free_port(), secrets.token_hex(16)
    runtime = tmp_path / "runtime"
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--allow-root",
         f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}"],
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited: {server.stderr.read()[-2000:]}")
            try:
                request(url, token, "/api/status")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not answer within 60 s")
        yield url, token, runtime
    finally:
        server.terminate()
        server.wait(timeout=30)


def request(url: str, token: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    call = urllib.request.Request(f"{url}{path}", data=data, method="POST" if data else "GET",
                                  headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(call, timeout=30) as response:
        return json.loads(response.read())


def test_jupyter_lab_opens_a_chapter_as_a_notebook_and_its_kernel_runs_it(lab):
    from jupyter_client import BlockingKernelClient

    url, token, runtime = lab
    served = request(url, token, f"/api/contents/{CHAPTER}?type=notebook&content=1")
    assert served["type"] == "notebook", "jupytext does not serve the MyST source as a notebook"
    cells = [cell for cell in served["content"]["cells"] if cell["cell_type"] == "code"]
    assert "parameters" in cells[0]["metadata"].get("tags", []), "the parameters cell is lost"

    kernel = request(url, token, "/api/kernels", {"name": "python3", "path": "book"})
    client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{kernel['id']}.json"))
    client.load_connection_file()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        smoke = chapter_parameters("listening", "smoke")  # after the defaults, as papermill
        sources = ["".join(cell["source"]) for cell in cells]
        sources.insert(1, "\n".join(f"{name} = {value!r}" for name, value in smoke.items()))
        for number, source in enumerate(sources, 1):
            reply = client.execute_interactive(source, timeout=300, output_hook=lambda _: None)
            assert reply["content"]["status"] == "ok", (
                f"code cell {number} failed in the lab's kernel: "
                f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    finally:
        client.stop_channels()
    assert not (ROOT / "book" / "data").exists(), "the kernel in book/ wrote a data folder there"
