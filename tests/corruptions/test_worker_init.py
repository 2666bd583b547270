"""The builder's pool workers die with the main process (Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, and
exit at once if it is already gone) and then cap their threads. The calls are recorded in-process here;
tests/reliability/test_reliability_corruptions_kill.py kills a real build's main process."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

import pytest

from fan_det.corruptions import builder


class FakeLibc:
    """Records what the worker asks of the C library instead of changing this test process."""

    calls: list = []

    def __init__(self, name, use_errno=False):
        self.calls.append(("open", name))

    def prctl(self, option, value):
        self.calls.append(("prctl", option, value))


@pytest.fixture
def libc(monkeypatch):
    FakeLibc.calls = []
    exits = []
    monkeypatch.setattr(ctypes, "CDLL", FakeLibc)
    monkeypatch.setattr(os, "_exit", exits.append)
    return FakeLibc.calls, exits


def test_on_linux_a_worker_asks_to_be_killed_with_its_parent(libc, monkeypatch):
    calls, exits = libc
    monkeypatch.setattr(sys, "platform", "linux")
    builder._die_with_parent(os.getppid())
    assert calls == [("open", None), ("prctl", 1, signal.SIGKILL)]  # PR_SET_PDEATHSIG is 1 in <linux/prctl.h>
    assert exits == []


def test_a_worker_whose_parent_is_already_gone_exits_with_status_1(libc, monkeypatch):
    calls, exits = libc
    monkeypatch.setattr(sys, "platform", "linux")
    builder._die_with_parent(os.getppid() + 1)
    assert exits == [1]


def test_elsewhere_it_does_nothing(libc, monkeypatch):
    calls, exits = libc
    monkeypatch.setattr(sys, "platform", "darwin")
    builder._die_with_parent(os.getppid() + 1)
    assert calls == [] and exits == []


def test_the_pool_initializer_ties_the_worker_to_its_parent_then_caps_its_threads(monkeypatch):
    done = []
    monkeypatch.setattr(builder, "_die_with_parent", lambda parent: done.append(("parent", parent)))
    monkeypatch.setattr(builder, "budgeted_worker_init",
                        lambda threads: lambda: done.append(("threads", threads)))
    builder._WorkerInit(4242, 3)()
    assert done == [("parent", 4242), ("threads", 3)]
