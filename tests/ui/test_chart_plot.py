"""The chart panes' plotext figure renders the same characters in every process (issue 13: the
200x60 snapshots were order- and process-dependent because plotext keeps tick labels in a set)."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from zdte_tui.ui.widgets.chart_plot import StablePlot, sort_ticks

# ten half-hour labels on a 40-column axis: they cannot all fit, so plotext drops some, and which
# ones it keeps depends on the order it places them in
DRAW = """
from rich.text import Text
from zdte_tui.ui.widgets.chart_plot import StablePlot
plt = StablePlot()
plt.plot(list(range(300)), [i % 37 for i in range(300)], marker="braille")
ticks = list(range(0, 300, 30))
plt.xticks(ticks, [f"{9 + (30 + 30 * k) // 60:02d}:{(30 + 30 * k) % 60:02d}" for k in range(len(ticks))])
plt.plotsize(40, 12)
print(Text.from_ansi(plt.build()).plain)
"""


def _draw_in_process(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", DRAW], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def test_the_same_chart_draws_the_same_text_whatever_the_hash_seed():
    drawn = {_draw_in_process(seed) for seed in ("1", "2", "3", "4")}
    assert len(drawn) == 1
    axis = [line for line in drawn.pop().splitlines() if line.strip()][-1]
    assert axis.split() == ["09:30", "10:30", "11:30", "12:30", "13:30"]  # on a collision the leftmost wins


def test_sort_ticks_orders_pairs_by_position():
    monitor = SimpleNamespace(xticks=[[30, 0, 60], None], xlabels=[["10:00", "09:30", "10:30"], None],
                              yticks=[[2.0, 1.0], None], ylabels=[["b", "a"], None])
    sort_ticks(monitor)
    assert monitor.xticks == [[0, 30, 60], None] and monitor.xlabels == [["09:30", "10:00", "10:30"], None]
    assert monitor.yticks == [[1.0, 2.0], None] and monitor.ylabels == [["a", "b"], None]


@given(st.lists(st.tuples(st.integers(-1000, 1000), st.text(max_size=5)), unique_by=lambda p: p[0], max_size=30))
def test_sort_ticks_keeps_every_label_with_its_tick(pairs):
    monitor = SimpleNamespace(xticks=[[t for t, _ in pairs], None], xlabels=[[label for _, label in pairs], None],
                              yticks=[None, None], ylabels=[None, None])
    sort_ticks(monitor)
    assert list(zip(monitor.xticks[0], monitor.xlabels[0], strict=True)) == sorted(pairs)


def test_a_stable_plot_still_draws_after_clear_figure():
    plt = StablePlot()
    plt.plot([0, 1, 2], [1.0, 3.0, 2.0], marker="braille")
    plt.clear_figure()  # every pane redraws from a cleared figure
    plt.plot([0, 1, 2], [5.0, 6.0, 7.0], marker="braille")
    plt.plotsize(30, 8)
    assert isinstance(plt, StablePlot) and "7" in Text.from_ansi(plt.build()).plain
