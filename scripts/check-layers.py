#!/usr/bin/python3
"""The layers of the house, checked (make lint, and so make check):

1. lib/ is the shared library: its files include only each other (and system headers), never
   daemon/, client/, offload/ or tools/.
2. No circle of files calling each other: file A calls file B when A calls a function B defines
   (a header's static inline function belongs to the .c file of the same name beside it, else to
   the header). Among lib/, daemon/, client/, offload/ and tools/, the graph of those calls has no
   cycle; every cycle found is printed with the calls that tie it.

The C is read as text (function definitions start at column 0, calls are NAME followed by "(");
good enough for this code base, whose style clang-format keeps.  Exit 0 when both hold, 1 otherwise.
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FOLDERS = ["lib", "daemon", "client", "offload", "tools"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# a definition: at column 0, not static (unless inline in a header), a name then "(" ... ") {"
DEFINITION = re.compile(r"^(?!static\b)(?![ \t#/*])[A-Za-z_][^;(){}=]*?\b([A-Za-z_]\w*)\s*\([^;{]*?\)\s*\{", re.M | re.S)
INLINE = re.compile(r"^static\s+inline\s+[^;(){}=]*?\b([A-Za-z_]\w*)\s*\([^;{]*?\)\s*\{", re.M | re.S)
CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\\n])*"')


def files(ext):
    for folder in FOLDERS:
        d = os.path.join(ROOT, folder)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            if name.endswith(ext):
                yield f"{folder}/{name}"


def source(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def code(rel):
    """The file without comments and string literals."""
    return STRING.sub('""', COMMENT.sub(" ", source(rel)))


def check_lib_includes():
    problems = []
    for rel in list(files(".c")) + list(files(".h")):
        if not rel.startswith("lib/"):
            continue
        for inc in INCLUDE.findall(source(rel)):
            target = os.path.normpath(os.path.join("lib", inc))
            if not target.startswith("lib/") or not os.path.exists(os.path.join(ROOT, target)):
                problems.append(f'{rel}: #include "{inc}": lib/ includes only lib/ (it is what the others '
                                f"stand on; move the code it needs into lib/, or this code out of it)")
    return problems


def owner_of_header(rel):
    c = rel[:-2] + ".c"
    return c if os.path.exists(os.path.join(ROOT, c)) else rel


def call_graph():
    """Each program's folder sees its own functions and lib/'s (handrecctl, handrecd,
    handrec-offload and the tools are separate programs: a name may be defined in each)."""
    defined = {folder: {} for folder in FOLDERS}  # folder -> function name -> the file that defines it
    for rel in files(".c"):
        for name in DEFINITION.findall(code(rel)):
            if name not in ("if", "for", "while", "switch", "return", "sizeof"):
                defined[rel.split("/")[0]].setdefault(name, rel)
    for rel in files(".h"):
        for name in INLINE.findall(code(rel)):
            defined[rel.split("/")[0]].setdefault(name, owner_of_header(rel))
    edges = {}  # file -> {file: set(names)}
    for rel in files(".c"):
        folder = rel.split("/")[0]
        for name in set(CALL.findall(code(rel))):
            target = defined[folder].get(name) or defined["lib"].get(name)
            if target and target != rel:
                edges.setdefault(rel, {}).setdefault(target, set()).add(name)
    return edges


def cycles(edges):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(set(edges) | {w for t in edges.values() for w in t}):
        if v not in index:
            visit(v)
    return out


def main():
    problems = check_lib_includes()
    edges = call_graph()
    for comp in cycles(edges):
        lines = [f"a circle of {len(comp)} files calling each other: {', '.join(comp)}"]
        for a in comp:
            for b, names in sorted(edges.get(a, {}).items()):
                if b in comp:
                    lines.append(f"    {a} -> {b}: {', '.join(sorted(names))}")
        problems.append("\n".join(lines))
    for p in problems:
        print(f"check-layers: {p}")
    if problems:
        print("check-layers: a lower layer calls up (docs/architecture.md, 'Layers'): mark what is to be "
              "done and let the upper layer do it, or move the code to the layer it belongs to")
        return 1
    n = sum(len(t) for t in edges.values())
    print(f"check-layers: lib/ includes only lib/; {n} calls between files, no circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
