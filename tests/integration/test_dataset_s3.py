"""handrec.Dataset over a bucket (issue 22): the takes and manifests handrec-offload uploads to S3
(s3rver on loopback, tests/integration/objectstore.py), read where they lie with boto3's ranged
GETs. Listing reads the listing and the manifests, never a take; frames read from the bucket are
those read from the folder, byte for byte; a frame in the middle of a take costs a few blocks, not
the object; a DataLoader's workers each read the bucket with their own client.

Credentials and endpoint as boto3 users give them: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL (or endpoint_url=). Waits are on the uploads' states and the objects' bytes."""
import os
import subprocess

import numpy as np
import pytest

from conftest import wait_until
from objectstore import S3Server, s3server  # noqa: F401 (fixture)
from test_dataset import HANDREC, PY, H, W, files_of, record
from test_offload_remote import s3setup  # noqa: F401 (fixture)

import handrec

pytest.importorskip("boto3", reason="python3-boto3 (scripts/install-deps.sh installs it)")


@pytest.fixture
def aws(monkeypatch, s3server, tmp):
    """boto3's usual variables pointing at s3rver, and no file of this machine's."""
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3Server.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3Server.SECRET)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3server.endpoint())
    monkeypatch.setenv("AWS_CONFIG_FILE", os.path.join(tmp, "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.path.join(tmp, "no-aws-credentials"))
    return s3server


def uploaded(offload, s3server, outdir, takes):
    """Until every take is uploaded and verified, and the bucket's manifests are the folder's
    (handrec-offload uploads a manifest again after each decision)."""
    offload.wait_verified(takes)

    def same():
        for name in os.listdir(os.path.join(outdir, "episodes")):
            if name.startswith(".") or not name.endswith(".json"):
                continue
            with open(os.path.join(outdir, "episodes", name), "rb") as f:
                local = f.read()
            try:
                if s3server.object_bytes("episodes/" + name) != local:
                    return False
            except FileNotFoundError:
                return False
        return True
    wait_until(same, 240, "the decided manifests in the bucket")


def test_bucket_reads_like_the_folder(s3setup, aws, ctl, outdir, tmp):  # noqa: F811
    s3 = aws
    d, offload, state = s3setup(hands=("right", "left"))
    a, a_takes = record(ctl, "stack the cups")
    ctl("keep", "--episode", a, "--success")
    b, b_takes = record(ctl, "stack the cups")
    ctl("keep", "--episode", b, "--failure")
    uploaded(offload, s3, outdir, list(a_takes.values()) + list(b_takes.values()))

    local = handrec.Dataset(outdir)
    bucket = handrec.Dataset("s3://takes")
    assert bucket.ids == local.ids == [a, b] and bucket.problems == []
    # listing read the manifests, and not one byte of a take
    st = bucket.store.stats
    assert st.lists >= 1 and sorted(st.by_key) == sorted(f"episodes/{e}.json" for e in (a, b)), st.by_key
    assert handrec.Dataset("s3://takes", success=True).ids == [a]
    assert handrec.Dataset("s3://takes", decision="kept", hands=("left", "right"), task="stack the cups").ids == [a, b]
    for e in (a, b):
        x, y = bucket[e], local[e]
        assert (x.task, x.decision, x.success, x.qc, x.files) == (y.task, y.decision, y.success, y.qc, y.files)
        assert set(x.hand_names) == {"left", "right"}
        for h in ("left", "right"):
            tx, ty = x.hands[h], y.hands[h]
            assert tx.path == f"s3://takes/{y.files[h]}" and tx.attrs == ty.attrs and len(tx) == len(ty)
            assert np.array_equal(tx.timestamps, ty.timestamps)
            assert tx.jpegs(range(len(tx))) == ty.jpegs(range(len(ty)))
            assert "complete (duration)" in repr(tx) and "live" not in repr(tx)
        ax, ay = x.align(), y.align()
        assert np.array_equal(ax.t_ns, ay.t_ns) and all(np.array_equal(ax.index[h], ay.index[h]) for h in ax.hands)
        fx, fy = x.frames(ax.ok_steps, scale=1 / 4), y.frames(ay.ok_steps, scale=1 / 4)
        for h in ("left", "right"):
            assert np.array_equal(fx[h].left, fy[h].left) and np.array_equal(fx[h].right, fy[h].right)
            assert fx[h].left.shape == (len(ax.ok_steps), H // 4, W // 4, 3)
    bucket.close()

    # a frame in the middle of a take reads a few blocks of it, not the object
    key = b_takes["right"].split("/")[-2] + "/" + os.path.basename(b_takes["right"])
    size = os.path.getsize(b_takes["right"])
    t = handrec.open(f"s3://takes/{key}", block_size=16 << 10)
    before = t._fileobj.store.stats.bytes
    mid = t[len(t) // 2]
    assert mid.jpeg == local[b].hands["right"].frame(len(t) // 2)
    assert t._fileobj.store.stats.bytes - before < size / 3, (t._fileobj.store.stats.bytes - before, size)
    assert t._fileobj.store.stats.bytes < size, "the whole take was read to open it"
    t.close()

    # endpoint_url= instead of the variable
    os.environ.pop("AWS_ENDPOINT_URL")
    ds = handrec.Dataset("s3://takes", endpoint_url=s3.endpoint(), decision="kept")
    assert ds.ids == [a, b]
    assert np.array_equal(ds[a].frames([0], scale=1)["left"].left, local[a].frames([0], scale=1)["left"].left)
    ds.close()
    local.close()

    # the command line: an episode exported from the bucket
    out = os.path.join(tmp, "video")
    p = subprocess.run([PY, HANDREC, "export", a, "--root", "s3://takes", "--endpoint-url", s3.endpoint(), "--mp4",
                        out], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(out)) == sorted([f"{a}-left.mp4", f"{a}-right.mp4", f"{a}.json"])


def test_takes_without_manifests_listed_from_their_headers(aws, daemon, ctl, outdir):
    """A prefix holding takes but no manifest (copied by hand): the episodes are gathered from the
    takes' attributes, read through ranged GETs of their first blocks only."""
    import boto3
    s3 = aws
    out = ctl("start", "--hand", "all", "--task", "no manifest", "--duration", "2", "--follow", timeout=120).stdout
    paths = files_of(out)
    client = boto3.client("s3", endpoint_url=s3.endpoint(), region_name="us-east-1")
    sizes = {}
    for p in paths:
        key = "bare/" + "/".join(p.split("/")[-2:])
        with open(p, "rb") as f:
            client.put_object(Bucket=s3.bucket, Key=key, Body=f.read())
        sizes[key] = os.path.getsize(p)
    ds = handrec.Dataset("s3://takes/bare")
    assert len(ds) == 1 and ds[0].manifest is None and ds[0].task == "no manifest"
    assert set(ds[0].hand_names) == {"left", "right"}
    for p in paths:
        with handrec.open(p) as t:
            assert ds[0].qc[t.attrs["hand"]] == t.attrs["qc_verdict"]
    for key, size in sizes.items():
        got = ds.store.stats.by_key.get(key, 0)
        assert 0 < got <= size / 4, (key, got, size)
    assert ds[0].frames([0, 1], scale=1 / 8)["right"].left.shape == (2, H // 8, W // 8, 3)


def test_dataloader_workers_read_the_bucket(s3setup, aws, ctl, outdir):  # noqa: F811
    torch = pytest.importorskip("torch", reason="python3-torch (scripts/install-deps.sh installs it)")
    from torch.utils.data import DataLoader
    from handrec.torch import StepDataset
    d, offload, _ = s3setup(hands=("right", "left"))
    a, takes = record(ctl, "torch from a bucket")
    ctl("keep", "--episode", a, "--success")
    uploaded(offload, aws, outdir, list(takes.values()))
    steps = StepDataset("s3://takes", decision="kept", scale=1 / 4, steps="all")
    local = StepDataset(outdir, decision="kept", scale=1 / 4, steps="all")
    assert len(steps) == len(local) > 8
    seen = 0
    for batch in DataLoader(steps, batch_size=4, num_workers=2):
        for k in range(len(batch["step"])):
            i = seen + k
            want = local[i]
            assert int(batch["step"][k]) == want["step"]
            assert torch.equal(batch["left"][k], want["left"]) and torch.equal(batch["right"][k], want["right"])
        seen += len(batch["step"])
    assert seen == len(local)
