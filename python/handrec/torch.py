"""handrec.torch: the steps of handrec episodes as a map-style torch Dataset (the only module of
handrec that imports torch).

    from torch.utils.data import DataLoader
    from handrec.torch import StepDataset

    steps = StepDataset("/var/lib/handrec", task="stack the cups", decision="kept", scale=1/4)
    for batch in DataLoader(steps, batch_size=32, shuffle=True, num_workers=4):
        batch["left"]            # uint8 [B, 2, H, W, 3]: the left hand's eyes (0 left eye, 1 right eye), RGB
        batch["right"]           # the right hand's, at the step's nearest frame in time
        batch["valid"]           # bool [B, hands]: the hand had a frame within the tolerance

One item a step of an episode's Alignment (ep.align(rate, tolerance, reference)): by default
every step where each hand has a frame within the tolerance (steps="ok"; steps="all" keeps the
others, flagged in "valid"). Building it reads every take's timestamps, then closes every file:
each DataLoader worker opens its own takes on first use (h5py handles are never shared across
fork; an s3:// dataset makes a boto3 client per worker), and decodes in its own thread.
"""
import numpy as np
import torch
from torch.utils.data import Dataset as _TorchDataset

import handrec

__all__ = ["StepDataset"]


class StepDataset(_TorchDataset):
    """Map-style: len() steps over every episode of @source (a folder, s3://bucket/prefix, or a
    handrec.Dataset), item i a dict:

      <hand>        uint8 tensor [2, H, W, 3] for each of @hands: both eyes, decoded at @scale
      valid         bool [hands]: the hand's frame was within the tolerance at this step
      frame         int64 [hands]: the frame number in each hand's take
      t_ns          int64: the step's time (CLOCK_MONOTONIC of the takes, or UTC ns: Alignment.clock)
      episode       int: the episode's position in .dataset (.dataset[episode].id names it)
      step          int: the step's number in that episode's alignment

    @transform, when given, is applied to the dict. Filters (task=, decision=, qc_ok=, since=, ...)
    go to handrec.Dataset."""

    def __init__(self, source, *, hands=("left", "right"), rate=None, tolerance=None, reference=None, scale=0.25,
                 steps="ok", rectify=None, transform=None, **filters):
        if steps not in ("ok", "all"):
            raise ValueError(f"steps={steps!r}: 'ok' (every hand has a frame) or 'all'")
        if isinstance(source, handrec.Dataset):
            if filters:
                source = source.filter(**filters)
            if hands is not None:
                source = source.filter(hands=hands)
            self.dataset = source
        else:
            self.dataset = handrec.Dataset(source, hands=hands, **filters)
        self.hands = tuple(hands) if hands is not None else None
        self.denom = handrec._jpeg.denominator(scale)
        self.rectify = rectify
        self.transform = transform
        self._eps = []  # per episode: (hands, {hand: frame index per kept step}, {hand: valid}, t_ns, steps)
        counts = []
        try:
            for ep in self.dataset:
                al = ep.align(rate=rate, tolerance=tolerance, reference=reference, hands=self.hands)
                sel = al.ok_steps if steps == "ok" else np.arange(len(al))
                self._eps.append((al.hands, {h: al.index[h][sel] for h in al.hands},
                                  {h: al.valid[h][sel] for h in al.hands}, al.t_ns[sel], sel))
                counts.append(len(sel))
        finally:
            # nothing open when the DataLoader forks its workers: each opens its own
            self.dataset.close()
        self._ends = np.cumsum(counts, dtype=np.int64)

    def __len__(self):
        return int(self._ends[-1]) if len(self._ends) else 0

    def locate(self, i):
        """(episode position, position among its kept steps) of item @i."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"step {i} of {n}")
        e = int(np.searchsorted(self._ends, i, side="right"))
        return e, int(i - (self._ends[e - 1] if e else 0))

    def __getitem__(self, i):
        e, k = self.locate(int(i))
        ep = self.dataset[e]
        hands, index, valid, t_ns, sel = self._eps[e]
        jobs = []
        for h in hands:
            take = ep.take(h)
            jobs.append((take, index[h][k:k + 1], self.denom, take._rectifies(self.rectify)))
        item = {}
        for h, (left, right) in zip(hands, handrec.decode_batch(jobs, threads=1)):
            item[h] = torch.from_numpy(np.stack([left[0], right[0]]))
        item["valid"] = torch.tensor([bool(valid[h][k]) for h in hands])
        item["frame"] = torch.tensor([int(index[h][k]) for h in hands], dtype=torch.int64)
        item["t_ns"] = torch.tensor(int(t_ns[k]), dtype=torch.int64)
        item["episode"] = e
        item["step"] = int(sel[k])
        return self.transform(item) if self.transform else item

    def __repr__(self):
        return f"<handrec.torch.StepDataset {len(self)} steps of {len(self.dataset)} episodes of {self.dataset.root}>"
