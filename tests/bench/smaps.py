#!/usr/bin/python3
"""The resident memory of a process by mapping and by what it holds, from /proc/PID/smaps:

    smaps.py PID [--allocations FILE] [--json]

- the program and its libraries (file-backed pages: code and constants, shared with every other
  process that maps them), and what the loader wrote into them (relocations: anonymous copies);
- the heap (malloc's main arena), the other threads' malloc arenas (64 MiB reservations), the
  threads' stacks, the main stack;
- the other anonymous maps.

With --allocations, the log of build/alloc-map.so (LD_PRELOAD, ALLOC_MAP_FILE: every allocation of
64 KiB or more and who asked for it), the resident pages of each live large allocation are read
from /proc/PID/pagemap and named by the function that allocated it (the writer queue's ring, the
rectification maps, the decode windows, ...); what is left of each mapping is "small blocks and
free space" (heap, arenas) or "other" (anonymous maps). Works on any build of handrecd: the
breakdown before and after issue 23 comes from the same tool. Needs to read the process's
/proc files (root, or the same user).

The figures add up to VmRSS. kB are 1024 bytes.
"""
import argparse
import collections
import json
import os
import re
import struct
import subprocess
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")
ARENA = 64 << 20  # glibc's HEAP_MAX_SIZE on 64-bit: each non-main arena reserves this, aligned

# what the functions that make handrecd's large allocations hold (the first known one of the
# allocation's callers names it)
LABELS = [
    ("queue_new", "writer queue ring"),
    ("frame_init_jpeg", "jobs: camera JPEG buffers"),
    ("alloc_jobs", "jobs: I420 frames"),
    ("alloc_workers", "workers: decoded frames"),
    ("jpeg_bands_new", "workers: decode windows"),
    ("candidate_init", "rectification maps"),
    ("build_with", "rectification maps"),
    ("map_build", "rectification maps"),
    ("rectify_new", "rectification maps"),
    ("convert_new", "decoders' 4:2:2/4:4:4 buffers"),
    ("encoder_new", "encoders: spill buffers"),
    ("band_init", "encoders: band buffers"),
    ("jpeg_arena_init", "libjpeg arenas"),
    ("arena_free_pool", "libjpeg arenas"),
    ("arena_init", "libjpeg arenas"),
    ("source_synthetic_new", "source: synthetic scene"),
    ("source_replay", "source: replay buffers"),
    ("replay_", "source: replay buffers"),
    ("preview", "preview buffers"),
    ("writer_", "writer: index buffers"),
]
LIB_LABELS = [("libhdf5", "HDF5 (inside)"), ("libjpeg", "libjpeg (inside)"), ("libturbojpeg", "TurboJPEG (inside)"),
              ("libsystemd", "sd-bus (inside)"), ("libc.so", "libc (inside)")]


def read_smaps(pid):
    vmas, cur = [], None
    head = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$")
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = head.match(line)
            if m:
                cur = dict(start=int(m.group(1), 16), end=int(m.group(2), 16), perm=m.group(3),
                           offset=int(m.group(4), 16), path=m.group(5).strip())
                vmas.append(cur)
            elif cur is not None and ":" in line:
                k, _, v = line.partition(":")
                v = v.split()
                if v and v[0].isdigit():
                    cur[k] = int(v[0])
    return vmas


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def classify(vmas):
    """Each mapping's kind: lib, program, heap, arena, stack, thread-stack, anon, other."""
    exe = None
    for i, v in enumerate(vmas):
        p = v["path"]
        if p == "[heap]":
            v["kind"] = "heap"
        elif p == "[stack]":
            v["kind"] = "stack"
        elif p.startswith("["):
            v["kind"] = "other"
        elif p.startswith("/"):
            v["kind"] = "lib" if ".so" in os.path.basename(p) else "program"
            exe = exe or (p if v["kind"] == "program" else None)
        else:
            nxt = vmas[i + 1] if i + 1 < len(vmas) else None
            prev = vmas[i - 1] if i > 0 else None
            if (v["start"] % ARENA == 0 and "w" in v["perm"] and nxt and nxt["start"] == v["end"]
                    and nxt["perm"].startswith("---") and nxt["end"] - v["start"] <= ARENA):
                v["kind"] = "arena"
            elif v["perm"].startswith("---"):
                v["kind"] = "reserved"
            elif (prev and prev["end"] == v["start"] and prev["perm"].startswith("---") and not prev["path"]
                  and prev["end"] - prev["start"] <= 64 << 10 and v["end"] - v["start"] >= 128 << 10):
                v["kind"] = "thread-stack"  # a stack above its guard page
            else:
                v["kind"] = "anon"
    return exe


def live_allocations(path):
    live = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "+" and len(parts) >= 3:
                live[int(parts[1], 16)] = (int(parts[2], 16), [int(x, 16) for x in parts[3:] if int(x, 16)])
            elif parts[0] == "-" and len(parts) >= 2:
                live.pop(int(parts[1], 16), None)
    return live


def resident_pages(pagemap, start, end):
    """Pages of [start, end) present (or swapped) in memory, by their addresses."""
    first, last = start // PAGE, (end + PAGE - 1) // PAGE
    pagemap.seek(first * 8)
    data = pagemap.read((last - first) * 8)
    out = []
    for i in range(len(data) // 8):
        (entry,) = struct.unpack_from("<Q", data, i * 8)
        if entry & (3 << 62):
            out.append((first + i) * PAGE)
    return out


class Symbols:
    """Return addresses to function names: the program through addr2line, libraries by the
    nearest symbol they export before the address (nm -D)."""

    def __init__(self, pid, vmas, exe):
        self.vmas = [v for v in vmas if v["path"].startswith("/")]
        self.exe = exe
        self.base = min((v["start"] - v["offset"] for v in vmas if v["path"] == exe), default=0)
        self.cache = {}
        self.tables = {}

    def library_symbol(self, path, offset):
        if path not in self.tables:
            table = []
            try:
                out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True,
                                     timeout=30).stdout
                for line in out.splitlines():
                    parts = line.split()
                    if len(parts) == 3 and parts[1] in "tTwW":
                        table.append((int(parts[0], 16), parts[2]))
            except (OSError, subprocess.SubprocessError, ValueError):
                pass
            self.tables[path] = sorted(table)
        best = None
        for addr, name in self.tables[path]:
            if addr > offset:
                break
            best = name
        return best

    def name(self, addr):
        if addr in self.cache:
            return self.cache[addr]
        name = "?"
        for v in self.vmas:
            if v["start"] <= addr < v["end"]:
                if v["path"] == self.exe:
                    try:
                        out = subprocess.run(["addr2line", "-f", "-e", self.exe, hex(addr - self.base - 1)],
                                             capture_output=True, text=True, timeout=10).stdout.split("\n")
                        name = out[0].strip() or "?"
                    except (OSError, subprocess.SubprocessError):
                        pass
                else:
                    sym = self.library_symbol(v["path"], addr - (v["start"] - v["offset"]))
                    name = os.path.basename(v["path"]) + (":" + sym if sym else "")
                break
        self.cache[addr] = name
        return name


def label(symbols, callers):
    names = [symbols.name(a) for a in callers]
    for n in names:
        for key, what in LABELS:
            if n == key or (key.endswith("_") and n.startswith(key)):
                return what
    for n in names:
        for key, what in LIB_LABELS:
            if n.startswith(key):
                return what
    return names[0] if names else "?"


def breakdown(pid, allocations=None):
    vmas = read_smaps(pid)
    exe = classify(vmas)
    kb = lambda v: v.get("Rss", 0)  # noqa: E731
    out = dict(pid=pid, rss_kb=status_kb(pid, "VmRSS"), hwm_kb=status_kb(pid, "VmHWM"), groups=collections.OrderedDict())

    libs = collections.Counter()
    reloc = 0
    for v in vmas:
        if v["kind"] in ("lib", "program"):
            libs[os.path.basename(v["path"])] += kb(v)
            reloc += v.get("Anonymous", 0)
    g = out["groups"]
    g["program and libraries"] = dict(kb=sum(libs.values()), parts=dict(libs.most_common()),
                                      note=f"of which {reloc} kB written by the loader (relocations, anonymous)")
    # where the large allocations' resident pages are
    held = collections.defaultdict(collections.Counter)  # vma index -> label -> kB
    if allocations and os.path.exists(allocations):
        symbols = Symbols(pid, vmas, exe)
        spans = sorted((a, a + size, callers) for a, (size, callers) in live_allocations(allocations).items())
        with open(f"/proc/{pid}/pagemap", "rb") as pm:
            for start, end, callers in spans:
                what = label(symbols, callers)
                for page in resident_pages(pm, start, end):
                    for i, v in enumerate(vmas):
                        if v["start"] <= page < v["end"] and v["kind"] in ("heap", "arena", "anon"):
                            held[i][what] += PAGE // 1024
                            break
    rest_name = {"heap": "small blocks and free space", "arena": "small blocks and free space", "anon": "other"}
    for kind, title in (("heap", "heap (main malloc arena)"), ("arena", "malloc arenas of other threads"),
                        ("anon", "anonymous maps"), ("thread-stack", "thread stacks"), ("stack", "main stack"),
                        ("other", "kernel (vdso, vvar)")):
        vs = [(i, v) for i, v in enumerate(vmas) if v["kind"] == kind]
        parts = collections.Counter()
        for i, v in vs:
            total = kb(v)
            for what, n in held[i].items():
                n = min(n, total)
                parts[what] += n
                total -= n
            if kind in rest_name:
                parts[rest_name[kind]] += total
        g[title] = dict(kb=sum(kb(v) for _, v in vs), count=len(vs),
                        parts=dict(sorted(parts.items(), key=lambda x: -x[1])) if kind in rest_name else {})
    out["total_kb"] = sum(x["kb"] for x in g.values())
    return out


def print_breakdown(b, title=None, file=sys.stdout):
    print(f"  {title or 'smaps of ' + str(b['pid'])}: RSS {b['rss_kb'] / 1024:.1f} MB (peak {b['hwm_kb'] / 1024:.1f} MB)",
          file=file)
    for name, x in b["groups"].items():
        if not x["kb"]:
            continue
        count = f" ({x['count']})" if x.get("count", 1) > 1 else ""
        print(f"    {name + count:<52} {x['kb'] / 1024:7.1f} MB", file=file)
        parts = [(k, v) for k, v in x["parts"].items() if v >= 64]
        shown = parts[:8] if name == "program and libraries" else parts
        for k, v in shown:
            print(f"      {k:<50} {v / 1024:7.2f} MB", file=file)
        if name == "program and libraries":
            rest = sum(v for k, v in x["parts"].items()) - sum(v for _, v in shown)
            print(f"      {'the other ' + str(len(x['parts']) - len(shown)) + ' libraries':<50} {rest / 1024:7.2f} MB",
                  file=file)
            print(f"      ({x['note']})", file=file)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pid", type=int)
    ap.add_argument("--allocations", help="the log alloc-map.so wrote (ALLOC_MAP_FILE)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    b = breakdown(a.pid, a.allocations)
    if a.json:
        json.dump(b, sys.stdout, indent=1)
        print()
    else:
        print_breakdown(b)


if __name__ == "__main__":
    main()
