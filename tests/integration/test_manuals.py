"""The manual pages and the shell completion as make install leaves them: every page renders with
man-db (man -l) without a warning; bash completes handrecctl's commands, each command's options and
the hand names the running daemon has configured; zsh's file is valid zsh when zsh is installed."""
import os
import shutil
import subprocess

import pytest

from test_reader import installed  # noqa: F401 (the module's DESTDIR install)

PAGES = {"man1/handrecctl.1": ["record", "discard", "takes", "--json", "--hand all", "--task", "EXIT STATUS"],
         "man1/handrec.1": ["export", "handrec.open", "timestamps_utc"],
         "man1/handrec-info.1": ["--check"], "man1/handrec-rectify.1": ["--size"],
         "man5/handrecd.conf.5": ["output_dir", "batch_timeout", "camera.controls", "offload.keep_free_gb"],
         "man8/handrecd.8": ["org.handrec1", "episode", "queue:2/30", "mem:27MB"],
         "man8/handrec-offload.8": ["org.handrec1.Offload", "uploaded-verified", "keep_free_gb", "rclone hashsum --download"]}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_man_page_renders(installed, page):  # noqa: F811
    path = os.path.join(installed, "usr/local/share/man", page)
    p = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                       env=dict(os.environ, MANPAGER="cat", MANWIDTH="100", LANG="C.UTF-8"))
    assert p.returncode == 0 and p.stderr == "", p.stderr
    name = os.path.basename(page).rsplit(".", 1)[0]
    assert p.stdout.splitlines()[0].split()[0] == f"{name}({page[3]})".upper() or \
        p.stdout.splitlines()[0].split()[0].lower() == f"{name}({page[3]})", p.stdout[:200]
    text = p.stdout.replace("\u2010", "-").replace("\u2011", "-")
    text = " ".join(text.split())  # undo man's line breaks and hyphenation-free justification
    for word in PAGES[page]:
        assert word in text, (page, word)


def complete(installed, env, *words):  # noqa: F811
    """What bash offers for the last of words (the line typed so far), with only the installed
    completion file sourced."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); '
              'complete -p handrecctl >&2; _handrecctl; printf "%s\\n" "${COMPREPLY[@]}"')
    comp = os.path.join(installed, "usr/local/share/bash-completion/completions/handrecctl")
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", comp, *words], capture_output=True,
                       text=True, env=env, timeout=30)
    assert p.returncode == 0 and "-F _handrecctl handrecctl" in p.stderr, p.stderr
    return sorted(filter(None, p.stdout.splitlines()))


def test_bash_completion(installed, daemon, bus, tmp):  # noqa: F811
    # the installed handrecctl, asking this test's daemon (--user: the session bus)
    env = dict(bus.env, PATH=os.path.join(installed, "usr/local/bin") + os.pathsep + os.environ["PATH"])
    assert complete(installed, env, "handrecctl", "") == sorted(
        "start stop record discard takes info status watch list devices preview snapshot check recover".split())
    assert complete(installed, env, "handrecctl", "st") == ["start", "status", "stop"]
    assert complete(installed, env, "handrecctl", "--") == ["--help", "--json", "--user", "--version"]
    assert complete(installed, env, "handrecctl", "--user", "start", "--hand", "") == ["all", "left", "right"]
    assert complete(installed, env, "handrecctl", "--user", "stop", "--hand", "r") == ["right"]
    assert "--task" in complete(installed, env, "handrecctl", "record", "--")
    assert complete(installed, env, "handrecctl", "discard", "--") == ["--help", "--last"]
    # take files for info: *.h5 and folders, not other files
    for name in ("a.h5", "b.txt"):
        open(os.path.join(tmp, name), "w").close()
    os.mkdir(os.path.join(tmp, "sub"))
    got = complete(installed, env, "handrecctl", "info", os.path.join(tmp, ""))
    assert os.path.join(tmp, "a.h5") in got and os.path.join(tmp, "sub") in got
    assert os.path.join(tmp, "b.txt") not in got


def test_zsh_completion_loads(installed, daemon, bus):  # noqa: F811
    """The file parses, compinit finds it in its folder and binds it to handrecctl, and its hand
    helper lists the daemon's hands (zsh: scripts/install-deps.sh installs it for the tests)."""
    assert shutil.which("zsh"), "zsh is not installed (scripts/install-deps.sh all installs it)"
    folder = os.path.join(installed, "usr/local/share/zsh/site-functions")
    p = subprocess.run(["zsh", "-n", os.path.join(folder, "_handrecctl")], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    # then the file sourced with zsh's completion functions stubbed, and its hand helper called as
    # on `handrecctl --user start --hand <Tab>`: _describe is given the hands
    script = (f'fpath=({folder} $fpath); autoload -U compinit; compinit -u -D; print -r -- $_comps[handrecctl]; '
              '_arguments() { return 1 }; _describe() { print -r -- ${(P)4} }; '
              f'source {folder}/_handrecctl; words=(handrecctl --user start --hand ""); _handrecctl_hands')
    env = dict(bus.env, PATH=os.path.join(installed, "usr/local/bin") + os.pathsep + os.environ["PATH"])
    p = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "_handrecctl" and sorted(lines[1].split()) == ["all", "left", "right"], p.stdout
