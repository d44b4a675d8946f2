"""One JSON (issue 20): every --json output's keys, at any depth, are snake_case and are those
handrecctl(1) lists for the command in its JSON KEYS section; and every key the manual lists
shows up in a run that makes it (status with handrec-offload answering, takes with an
unreadable file and an upload state, info of a finished take)."""
import json
import os
import re

import pytest

from conftest import ROOT, make_config
from test_passthrough import calibration
from test_upload_client import Offload

MANUAL = os.path.join(ROOT, "man", "handrecctl.1.scd")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def manual_keys():
    """{command: set of keys}, from the manual's JSON KEYS section: each paragraph that begins
    with *command*: lists its keys as _key_."""
    text = open(MANUAL).read()
    section = text.split("# JSON KEYS", 1)[1].split("\n# ", 1)[0]
    keys = {}
    for para in section.split("\n\n"):
        m = re.match(r"\*([a-z]+)\*: (.*)", para.strip(), re.S)
        if m:
            keys[m.group(1)] = set(re.findall(r"_([a-z][a-z0-9_]*)_", m.group(2)))
    return keys


def keys_of(doc):
    found = set()

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                found.add(k)
                walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)
    walk(doc)
    return found


@pytest.fixture
def offload(bus, tmp):
    o = Offload(bus, tmp)
    yield o
    if o.proc.poll() is None:
        o.stop()


def test_every_json_output_has_the_manuals_keys(daemon_factory, ctl, offload, outdir, tmp):
    # the right hand calibrated: info's calibration object has its keys
    cal = calibration(os.path.join(tmp, "cal.yml"))
    daemon_factory(make_config(outdir).replace("right_hand = {", f'right_hand = {{\n    calibration = "{cal}";', 1))
    listed = manual_keys()
    assert set(listed) == {"list", "devices", "status", "start", "stop", "takes", "info"}, listed.keys()
    started = json.loads(ctl("start", "--hand", "all", "--task", "keys", "--json").stdout)
    offload.set(status={"State": "uploading", "TakesBehind": 1, "BytesBehind": 2, "Rate": 1.5, "Current": "x",
                        "CurrentDone": 1, "CurrentSize": 2, "LastError": "", "NextRetry": 0.0, "Uploaded": 0,
                        "Removed": 0, "FreeBytes": 1, "KeepFreeBytes": 1, "MaxTakesBytes": 0, "SpaceNote": "",
                        "Remote": "r:"})
    outputs = {"start": [started], "status": [json.loads(ctl("status", "--json").stdout)]}
    outputs["stop"] = [json.loads(ctl("stop", "--json").stdout)]
    files = [t["file"] for t in started["takes"]]
    offload.set(uploads={files[0]: {"state": "failed", "error": "boom", "remote": "r:/x"}})
    with open(os.path.join(outdir, "right", "20000101-000000.h5"), "wb"):
        pass  # an empty file where a take would be: listed, with its error
    outputs["takes"] = [json.loads(ctl("takes", "--json").stdout)]
    outputs["info"] = [json.loads(ctl("info", f, "--json").stdout) for f in files]
    outputs["list"] = [json.loads(ctl("list", "--json").stdout)]
    outputs["devices"] = [json.loads(ctl("devices", "--json").stdout)]
    for command, docs in outputs.items():
        seen = set().union(*(keys_of(d) for d in docs))
        assert all(SNAKE.match(k) for k in seen), (command, sorted(k for k in seen if not SNAKE.match(k)))
        assert seen <= listed[command], (command, "not in the manual:", sorted(seen - listed[command]))
        if command != "devices":  # no camera here: the VM test lists vivid's
            assert listed[command] <= seen, (command, "the manual lists, no output has:", sorted(listed[command] - seen))
