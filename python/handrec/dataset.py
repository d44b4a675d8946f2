"""Episodes as a dataset: a folder of takes (handrecd's output_dir, or a copy of it) or a bucket
prefix (s3://bucket/prefix, as handrec-offload uploads it), listed, filtered, and read with both
hands aligned in time.

    import handrec
    ds = handrec.Dataset("/var/lib/handrec", task="stack the cups", decision="kept", hands=("left", "right"))
    for ep in ds:                                   # or ds[0], ds["20261206T043804Z-a494b8"]
        steps = ep.align()                          # each left frame, and the right frame nearest in time
        batch = ep.frames(steps.ok_steps, scale=1/4)          # both hands, both eyes, decoded on threads
        batch["left"].right                         # the left hand's right eye: N x H x W x 3 uint8, RGB

Layout (docs/file-format.md): <root>/<hand>/<name>.h5, one take per hand, and
<root>/episodes/<id>.json, each episode's manifest (task, operator, outcome, the operator's
decision and success, and each hand's file, frames and quality verdict). Episodes are listed from
the manifests; takes that no manifest names (recorded before manifests existed, or copied without
them) are grouped by their own `episode` attribute, read from the takes' headers. Listing a
bucket reads the listing and the manifests, never a take named by a manifest.

An episode's takes are opened on first use (ep.hands), in each process that uses them: a dataset
may be handed to forked workers (handrec.torch) once built.
"""
import datetime
import json
import os

import numpy as np

import handrec

__all__ = ["Dataset", "Episode", "Alignment", "LocalStore", "open_store"]

MANIFESTS = "episodes"
_INHERITED = []  # takes a forked process got from its parent's episodes


# ---- where the takes are ----

class LocalStore:
    """A folder of takes: <root>/<hand>/*.h5 and <root>/episodes/*.json."""

    def __init__(self, root):
        self.root = os.path.abspath(os.fspath(root))
        self.url = self.root
        self.stats = None

    def list(self):
        """{relative path: size} of the takes and manifests (hidden files left out: handrecd
        writes a manifest under a temporary name first)."""
        out = {}
        try:
            folders = list(os.scandir(self.root))
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.root}: no such folder") from None
        for d in folders:
            if d.name.startswith(".") or not d.is_dir():
                continue
            suffix = ".json" if d.name == MANIFESTS else ".h5"
            try:
                entries = list(os.scandir(d.path))
            except OSError:  # a hand folder we may not read (0750 handrec): its takes are not listed
                continue
            for f in entries:
                if f.name.endswith(suffix) and not f.name.startswith(".") and f.is_file():
                    out[f"{d.name}/{f.name}"] = f.stat().st_size
        return out

    def location(self, rel):
        return os.path.join(self.root, rel)

    def read_bytes(self, rel):
        with open(self.location(rel), "rb") as f:
            return f.read()

    def open_take(self, rel, size=None, rectify=False, probe=False):
        return handrec.Take(self.location(rel), rectify=rectify)

    def __repr__(self):
        return f"<handrec.dataset.LocalStore {self.root}>"


def open_store(root, endpoint_url=None, **options):
    """A LocalStore for a folder, a handrec.s3.Store for s3://bucket/prefix."""
    if isinstance(root, (LocalStore,)) or hasattr(root, "open_take"):
        return root
    if str(root).startswith("s3://"):
        from handrec import s3
        return s3.Store(str(root), endpoint_url=endpoint_url, **options)
    if options or endpoint_url:
        raise TypeError(f"{root}: endpoint_url and store options are for s3:// roots")
    return LocalStore(root)


# ---- times ----

def utc(value):
    """@value (an ISO 8601 string, "Z" or an offset allowed; a datetime, naive ones taken as UTC;
    a numpy datetime64) as numpy datetime64[ns] UTC; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[ns]")
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r}: not an ISO 8601 time (2026-12-06, 2026-12-06T09:30:00Z)") from None
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return np.datetime64(value, "ns")
    raise TypeError(f"{value!r}: a time is an ISO 8601 string, a datetime or a numpy datetime64")


# ---- the alignment of an episode's hands ----

class Alignment:
    """Per step, each hand's frame nearest in time.

    .t_ns       int64[S]: the steps' times (CLOCK_MONOTONIC ns of the takes, which share it within
                one boot; takes of different boots are aligned in UTC ns instead: .clock says which)
    .utc        datetime64[ns][S]: the same in UTC
    .index      {hand: int64[S]}: the nearest frame of each hand (always a real frame: gaps are
                flagged, never filled with invented frames)
    .error_ns   {hand: int64[S]}: that frame's time minus the step's
    .valid      {hand: bool[S]}: |error| <= the hand's tolerance
    .ok         bool[S]: every hand valid; .ok_steps: their positions
    .tolerance_ns {hand: int}
    len(a) is the number of steps; a.gaps() the runs of steps where a hand has no frame."""

    def __init__(self, hands, reference, clock, t_ns, utc_offset_ns, index, error_ns, tolerance_ns):
        self.hands = tuple(hands)
        self.reference = reference
        self.clock = clock
        self.t_ns = t_ns
        self.utc_offset_ns = utc_offset_ns
        self.index = index
        self.error_ns = error_ns
        self.tolerance_ns = tolerance_ns
        self.valid = {h: np.abs(error_ns[h]) <= tolerance_ns[h] for h in self.hands}
        ok = np.ones(len(t_ns), bool)
        for h in self.hands:
            ok &= self.valid[h]
        self.ok = ok

    def __len__(self):
        return len(self.t_ns)

    @property
    def ok_steps(self):
        """The steps where every hand has a frame within its tolerance."""
        return np.nonzero(self.ok)[0]

    @property
    def utc(self):
        return (self.t_ns + self.utc_offset_ns).astype("datetime64[ns]")

    def gaps(self):
        """[(hand, first step, last step)]: each run of steps where @hand has no frame within its
        tolerance."""
        out = []
        for h in self.hands:
            bad = ~self.valid[h]
            if not bad.any():
                continue
            edges = np.diff(np.concatenate([[0], bad.view(np.int8), [0]]))
            for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
                out.append((h, int(a), int(b - 1)))
        return out

    def __repr__(self):
        return (f"<handrec.Alignment {len(self)} steps on {self.reference or 'a regular grid'}, "
                f"{int(self.ok.sum())} with every hand; gaps: {len(self.gaps())}>")


def nearest(times, t):
    """For each of @t (sorted or not), the index of the nearest of @times (sorted ascending;
    ties go to the earlier frame), and times[index] − t."""
    times = np.asarray(times, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    if not len(times):
        return np.zeros(len(t), np.int64), np.full(len(t), np.iinfo(np.int64).max // 2, np.int64)
    right = np.clip(np.searchsorted(times, t, side="left"), 0, len(times) - 1)
    left = np.clip(right - 1, 0, len(times) - 1)
    dl = np.abs(t - times[left])
    dr = np.abs(times[right] - t)
    idx = np.where(dl <= dr, left, right)
    return idx.astype(np.int64), (times[idx] - t).astype(np.int64)


def align_times(times, rate=None, tolerance=None, reference=None, fps=None):
    """The alignment of hands whose frames were taken at @times ({hand: int64 ns, ascending}, one
    clock): steps at the @reference hand's frames (rate None) or every 1/@rate s over the reference's
    span; @tolerance in seconds (None: half a frame period of each hand, from @fps {hand: nominal
    fps}, else from its median frame interval)."""
    hands = list(times)
    if not hands:
        raise ValueError("no hands to align")
    ref = reference if reference is not None else ("left" if "left" in times else hands[0])
    if ref not in times:
        raise ValueError(f"reference hand {ref!r} is not among {hands}")
    rt = np.asarray(times[ref], dtype=np.int64)
    if rate is None:
        steps = rt.copy()
    else:
        if not rate > 0:
            raise ValueError(f"rate {rate!r}: steps a second, > 0")
        if not len(rt):
            steps = np.zeros(0, np.int64)
        else:
            period = 1e9 / float(rate)
            n = int(np.floor((rt[-1] - rt[0]) / period + 1e-9)) + 1
            steps = rt[0] + np.round(np.arange(n) * period).astype(np.int64)
    index, error, tol = {}, {}, {}
    for h in hands:
        ht = np.asarray(times[h], dtype=np.int64)
        index[h], error[h] = nearest(ht, steps)
        if tolerance is not None:
            tol[h] = int(round(float(tolerance) * 1e9))
        else:
            f = (fps or {}).get(h) or 0
            if f > 0:
                period = 1e9 / f
            elif len(ht) > 1:
                period = float(np.median(np.diff(ht)))
            else:
                period = 1e9 / 30
            tol[h] = int(round(period / 2))
    return ref if rate is None else None, steps, index, error, tol


# ---- episodes ----

def _verdict(info):
    q = info.get("qc")
    if isinstance(q, dict):
        return q.get("verdict")
    return info.get("qc_verdict")


class Episode:
    """One episode: its takes, one per hand, and what its manifest says.

    .id, .task, .operator, .host, .started_utc (str), .utc (datetime64[ns] of the start),
    .ended_utc, .outcome ("complete", "incomplete", "recording", None when no manifest says),
    .reason, .decision ("kept", "discarded", None), .success (True, False, None), .note,
    .manifest (the manifest as a dict, None when the episode was gathered from its takes),
    .hand_names (the hands with a take, in the dataset's order), .files {hand: path relative to
    the root}, .qc {hand: the take's quality verdict, "ok" or a sentence}, .missing (hands the
    manifest names whose take is not there).

    ep.hands: {hand: Take}, opened on first use; ep.align(), ep.frames(): both hands in time."""

    def __init__(self, store, record, hands=None, rectify="auto"):
        self._store = store
        self._record = record
        self._rectify = rectify
        self.manifest = record.get("manifest")
        for k in ("id", "task", "operator", "host", "started_utc", "ended_utc", "outcome", "reason", "decision",
                  "success", "note"):
            setattr(self, k, record.get(k))
        takes = record["takes"]
        present = [h for h in takes if takes[h].get("size") is not None]
        self.missing = tuple(h for h in takes if h not in present)
        if hands is not None:
            present = [h for h in hands if h in present]
        self.hand_names = tuple(present)
        self.files = {h: takes[h]["file"] for h in self.hand_names}
        self.qc = {h: _verdict(takes[h]) for h in self.hand_names}
        self._takes = {}
        self._pid = os.getpid()
        self.alignment = None

    @property
    def utc(self):
        return utc(self.started_utc)

    @property
    def qc_ok(self):
        """Whether every take's quality verdict is "ok" (None when a take has none)."""
        v = list(self.qc.values())
        if any(x is None for x in v):
            return None
        return all(x == "ok" for x in v)

    def take(self, hand):
        """@hand's take, opened on first use in this process."""
        if self._pid != os.getpid():  # a forked worker: its own handles, never the parent's
            _INHERITED.extend(self._takes.values())  # neither used nor closed here
            self._takes = {}
            self._pid = os.getpid()
        t = self._takes.get(hand)
        if t is None:
            if hand not in self.files:
                raise KeyError(f"episode {self.id} has no take of hand {hand!r} (it has {list(self.hand_names)})")
            info = self._record["takes"][hand]
            t = self._store.open_take(info["file"], size=info.get("size"), rectify=self._rectify)
            self._takes[hand] = t
        return t

    @property
    def hands(self):
        """{hand: Take}: each hand's take, in the dataset's hand order."""
        return {h: self.take(h) for h in self.hand_names}

    def close(self):
        """Close the takes opened in this process (they open again on next use)."""
        if self._pid == os.getpid():
            for t in self._takes.values():
                t.close()
        else:
            _INHERITED.extend(self._takes.values())
        self._takes = {}
        self._pid = os.getpid()

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_takes"] = {}
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)
        self._pid = os.getpid()

    def timestamps(self, hand):
        return self.take(hand).timestamps

    def align(self, rate=None, tolerance=None, reference=None, hands=None):
        """Per step, the index of each hand's frame nearest in time: an Alignment.
        @rate None: a step per frame of the @reference hand (default "left", else the first);
        @rate R: a step every 1/R s over the reference's span. @tolerance (s): a hand whose nearest
        frame is further from a step than that is flagged there (.valid, .ok, .gaps());
        default half a frame period at the hand's nominal rate: the hand has a frame in the step's slot.
        Kept as ep.alignment, which ep.frames() uses."""
        names = tuple(hands) if hands is not None else self.hand_names
        if not names:
            raise ValueError(f"episode {self.id} has no takes to align")
        takes = {h: self.take(h) for h in names}
        boots = {h: takes[h].attrs.get("boot_id") for h in names}
        one_boot = len(set(boots.values())) == 1 and None not in boots.values()
        times, offsets = {}, {}
        for h, t in takes.items():
            ts = t.timestamps
            offsets[h] = t.monotonic_to_utc_ns
            times[h] = ts if one_boot else ts + offsets[h]
        fps = {h: t.fps_nominal for h, t in takes.items()}
        ref, steps, index, error, tol = align_times(times, rate, tolerance, reference, fps)
        ref_hand = reference if reference is not None else ("left" if "left" in times else names[0])
        offset = offsets[ref_hand] if one_boot else 0
        self.alignment = Alignment(names, ref, "monotonic" if one_boot else "utc", steps, offset, index, error, tol)
        return self.alignment

    def frames(self, steps=None, scale=0.25, hands=None, rectify=None, threads=None, alignment=None):
        """The frames of @steps (step numbers of the alignment, a slice, a boolean mask; None:
        every step) for each hand: {hand: Stereo} with .left and .right (numpy N x H x W x 3 uint8,
        RGB, each eye), .index (the frame numbers) and .valid (whether that hand had a frame within
        the tolerance at that step: where not, the nearest frame is given all the same). Decoded
        at @scale (1, 1/2, 1/4, 1/8, in the DCT domain) on @threads threads, each JPEG once.
        @alignment: default ep.alignment, else ep.align()'s."""
        al = alignment if alignment is not None else self.alignment if self.alignment is not None else \
            self.align()
        names = tuple(hands) if hands is not None else al.hands
        if steps is None:
            sel = np.arange(len(al))
        elif isinstance(steps, slice):
            sel = np.arange(len(al))[steps]
        else:
            sel = np.asarray(steps)
            if sel.dtype == bool:
                sel = np.nonzero(sel)[0]
            sel = sel.astype(np.int64)
        denom = handrec._jpeg.denominator(scale)
        jobs = []
        for h in names:
            t = self.take(h)
            jobs.append((t, al.index[h][sel], denom, t._rectifies(rectify)))
        out = {}
        for h, (left, right), job in zip(names, handrec.decode_batch(jobs, threads), jobs):
            out[h] = handrec.Stereo(left, right, job[1], al.valid[h][sel])
        return out

    def __repr__(self):
        bits = [f"task {self.task!r}" if self.task else "no task", "+".join(self.hand_names) or "no takes"]
        if self.decision:
            bits.append(self.decision + ({True: " (success)", False: " (failure)"}.get(self.success, "")))
        if self.outcome and self.outcome != "complete":
            bits.append(self.outcome)
        return f"<handrec.Episode {self.id}: {', '.join(bits)}>"


# ---- the dataset ----

def _matches(value, wanted):
    if wanted is None:
        return True
    if callable(wanted):
        return bool(wanted(value))
    if isinstance(wanted, (str, bool)) or not hasattr(wanted, "__iter__"):
        return value == wanted
    return value in set(wanted)


class Dataset:
    """The episodes under @root, a folder (handrecd's output_dir, or a copy) or s3://bucket/prefix,
    that pass the filters; len(), iteration, ds[i], ds["episode id"], ds[a:b].

    Filters (None: any):
      task      a task text, a collection of them, or a function of the text
      success   True or False: the operator's judgement (episodes not judged have None)
      qc_ok     True: every take's quality verdict is "ok"; False: some take's is not
      since, until   the episode's start, UTC (ISO 8601 text, datetime, numpy datetime64)
      hands     e.g. ("left", "right"): only episodes with a take of each, and ep.hands those only
      decision  "kept", "discarded", "undecided", or a collection; by default every one but
                "discarded" (include_discarded=True for those too; their takes are gone unless the
                files were kept elsewhere)
      outcome   "complete", "incomplete", or a collection; episodes still recording are left out
                unless include_recording=True
    rectify: how the takes' images are read: "auto" (rectified when a calibration is stored:
    a take recorded raw is rectified on read), True, False (as stored).
    endpoint_url and **store_options (block_size, cache_blocks, boto3 client options) for s3://."""

    def __init__(self, root, *, task=None, success=None, qc_ok=None, since=None, until=None, hands=None,
                 decision=None, outcome=None, include_discarded=False, include_recording=False,
                 rectify="auto", endpoint_url=None, **store_options):
        if rectify not in handrec.RECTIFY_MODES:
            raise ValueError(f"rectify={rectify!r}: False, True or 'auto'")
        self.root = str(root)
        self.store = open_store(root, endpoint_url=endpoint_url, **store_options)
        self.problems = []
        self._records = None
        self.filters = {}
        self._set_filters(dict(task=task, success=success, qc_ok=qc_ok, since=since, until=until, hands=hands,
                               decision=decision, outcome=outcome, include_discarded=include_discarded,
                               include_recording=include_recording, rectify=rectify))
        self._records = self._scan()
        self._select()

    def _set_filters(self, f):
        if isinstance(f.get("hands"), str):
            f["hands"] = (f["hands"],)
        if f.get("hands") is not None:
            f["hands"] = tuple(f["hands"])
        for k in ("since", "until"):
            f[k] = utc(f.get(k))
        self.filters = f

    def filter(self, **changes):
        """A new Dataset over the same listing (nothing is listed or read again) with these
        filters changed (the others kept)."""
        unknown = set(changes) - set(self.filters)
        if unknown:
            raise TypeError(f"unknown filters: {sorted(unknown)}")
        new = object.__new__(Dataset)
        new.root, new.store, new.problems, new._records = self.root, self.store, self.problems, self._records
        new._set_filters({**self.filters, **changes})
        new._select()
        return new

    # -- listing --

    def _scan(self):
        listing = self.store.list()
        records, named = [], set()
        for rel in sorted(k for k in listing if k.startswith(MANIFESTS + "/") and k.endswith(".json")
                          and k.count("/") == 1):
            try:
                m = json.loads(self.store.read_bytes(rel))
                if m.get("format") != "handrec-episode" or not m.get("episode"):
                    raise ValueError("not an episode manifest")
            except (ValueError, OSError, UnicodeDecodeError) as e:
                self.problems.append(f"{self.store.location(rel) if hasattr(self.store, 'location') else rel}: {e}")
                continue
            takes = {}
            for hand, t in (m.get("takes") or {}).items():
                t = dict(t)
                rel_take = t.get("file", "")
                t["size"] = listing.get(rel_take)
                takes[hand] = t
                named.add(rel_take)
            records.append(dict(manifest=m, id=m["episode"], task=m.get("task"), operator=m.get("operator"),
                                host=m.get("host"), started_utc=m.get("started_utc"), ended_utc=m.get("ended_utc"),
                                outcome=m.get("outcome"), reason=m.get("reason"), decision=m.get("decision"),
                                success=m.get("success"), note=m.get("note"), takes=takes))
        # takes no manifest names: grouped by their own attributes, read from their headers
        orphans = {}
        for rel in sorted(k for k in listing if k.endswith(".h5") and k.count("/") == 1 and k not in named):
            try:
                t = self.store.open_take(rel, size=listing[rel], probe=True)
                try:
                    a = t.attrs
                finally:
                    t.close()
            except (OSError, ValueError, KeyError) as e:
                self.problems.append(f"{rel}: {e}")
                continue
            hand = a.get("hand") or rel.split("/")[0]
            ep = a.get("episode") or rel[:-3]
            rec = orphans.get(ep)
            if rec is None:
                rec = orphans[ep] = dict(manifest=None, id=ep, task=a.get("task"), operator=a.get("operator"),
                                         host=a.get("host"), started_utc=a.get("started_utc"), ended_utc=None,
                                         outcome=None, reason="", decision=None, success=None, note="", takes={})
            if hand in rec["takes"]:
                self.problems.append(f"{rel}: a second take of hand {hand} in episode {ep} "
                                     f"(kept: {rec['takes'][hand]['file']})")
                continue
            if a.get("status") == "recording":
                rec["outcome"] = "recording"
            if a.get("started_utc") and (not rec["started_utc"] or a["started_utc"] < rec["started_utc"]):
                rec["started_utc"] = a["started_utc"]
            rec["takes"][hand] = dict(file=rel, size=listing[rel], frames=a.get("frames"),
                                      stop_reason=a.get("stop_reason"), qc_verdict=a.get("qc_verdict"),
                                      status=a.get("status"))
        records += orphans.values()
        records.sort(key=lambda r: (r.get("started_utc") or "", r["id"]))
        return records

    def _keep(self, r, f):
        decision = r.get("decision") or None
        d = f["decision"]
        if d is None:
            if decision == "discarded" and not f["include_discarded"]:
                return False
        elif callable(d):
            if not d(decision):
                return False
        else:
            wanted = {d} if isinstance(d, str) else set(d)
            if decision not in {None if w in ("undecided", None) else w for w in wanted}:
                return False
        if r.get("outcome") == "recording" and not f["include_recording"]:
            return False
        if f["outcome"] is not None and not _matches(r.get("outcome"), f["outcome"]):
            return False
        if f["task"] is not None and not _matches(r.get("task"), f["task"]):
            return False
        if f["success"] is not None and r.get("success") is not f["success"]:
            return False
        if f["since"] is not None or f["until"] is not None:
            start = utc(r.get("started_utc"))
            if start is None or (f["since"] is not None and start < f["since"]) or \
                    (f["until"] is not None and start >= f["until"]):
                return False
        return True

    def _select(self):
        f = self.filters
        eps = []
        for r in self._records:
            if not self._keep(r, f):
                continue
            ep = Episode(self.store, r, hands=f["hands"], rectify=f["rectify"])
            if f["hands"] is not None and len(ep.hand_names) != len(f["hands"]):
                continue
            if not ep.hand_names and r.get("decision") != "discarded":
                continue  # (a discarded episode asked for is listed without its deleted takes)
            if f["qc_ok"] is not None and bool(ep.qc_ok) != bool(f["qc_ok"]):
                continue
            eps.append(ep)
        self.episodes = eps
        self._by_id = {e.id: e for e in eps}

    # -- a sequence of episodes --

    @property
    def ids(self):
        return [e.id for e in self.episodes]

    def __len__(self):
        return len(self.episodes)

    def __iter__(self):
        return iter(self.episodes)

    def __contains__(self, key):
        return key in self._by_id if isinstance(key, str) else key in self.episodes

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return self._by_id[key]
            except KeyError:
                raise KeyError(f"no episode {key!r} in {self.root} with these filters") from None
        return self.episodes[key]

    def close(self):
        """Close every take opened in this process."""
        for e in self.episodes:
            e.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        shown = {k: v for k, v in self.filters.items() if v not in (None, False) and k != "rectify"}
        return f"<handrec.Dataset {self.root}: {len(self)} episodes{' ' + repr(shown) if shown else ''}>"
