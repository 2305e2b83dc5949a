"""What a new user tripped on (issue 19): argparse's usage block for a bad flag, an
evaluation ETA that counted the set-up as training."""

import pytest

from gdd_studio.cli import main
from gdd_studio.config import EvalConfig
from gdd_studio.engine.events import EvalProgress
from gdd_studio.engine.run import Run
from gdd_studio.evaluation.eta import EvalEta, fmt_eta
from gdd_studio.evaluation.protocol import Evaluation
from tests.helpers import tiny_config, write_tiny_npz


@pytest.mark.parametrize(
    "argv, words",
    [
        (["export", "r", "--format", "jpg", "--out", "x"], ["--format", "jpg", "pt", "npz"]),
        (["export", "r", "--format", "pt"], ["--out"]),
        (["run", "--ipc", "ten"], ["--ipc", "ten"]),
        (["run", "--no-such-flag"], ["--no-such-flag"]),
        (["evaluate", "r", "--protocol", "best"], ["fixed", "on-the-fly"]),
        (["frobnicate"], ["frobnicate", "run"]),
    ],
)
def test_a_bad_flag_is_one_line_on_stderr(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert "error:" in err and all(w in err for w in words), err


class _Clock:
    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_the_eta_counts_work_left_and_not_the_set_up():
    clock = _Clock(100.0)  # 100 s of set-up (herding's observer) before the first network
    # Three networks of 10 epochs over 20 images (2 batches an epoch), one full-real of
    # 10 epochs over 200 images (20 batches), 100 test images (10 test batches).
    eta = EvalEta([(10, 20)] * 3 + [(10, 200)], 10, 100, clock=clock)
    assert eta.eta() is None and fmt_eta(eta.eta()) == "estimating"
    eta.begin(0)
    clock.t += 0.5
    eta.epoch(0, 1)
    assert eta.eta() is None  # half a second timed: no rate yet
    clock.t += 1.0
    eta.epoch(0, 3)  # 6 batches in 1.5 s: 0.25 s a batch
    left = (60 + 200 - 6) * 0.25 + 4 * (10 / 3) * 0.25
    assert eta.eta() == pytest.approx(left)
    for e in range(4, 11):
        clock.t += 0.5
        eta.epoch(0, e)
    clock.t += 2.0  # the test pass took 2 s
    eta.end(0)
    assert eta.eta() == pytest.approx((40 + 200) * 0.25 + 3 * 2.0)
    assert fmt_eta(eta.eta()) == "01:06"


def test_the_first_epoch_of_a_network_is_its_warm_up_not_its_rate():
    clock = _Clock()
    eta = EvalEta([(100, 20)] * 2, 10, 10, clock=clock)
    eta.begin(0)
    clock.t += 30.0  # the first epoch compiled the network
    eta.epoch(0, 1)
    assert eta.eta() is None  # nothing timed yet: "estimating", not 100 x 30 s
    for e in range(2, 6):
        clock.t += 0.5
        eta.epoch(0, e)
    # 8 batches in 2 s: 0.25 s a batch for the 190 + 200 left (and two test passes)
    assert eta.eta() == pytest.approx((190 + 200) * 0.25 + 2 * (1 / 3) * 0.25)


def test_an_evaluation_says_estimating_until_it_has_a_rate(tmp_path):
    data = write_tiny_npz(tmp_path / "tiny.npz")
    run = Run.create(tiny_config(f"npz:{data}"), tmp_path / "runs")
    assert run.execute() == "finished"
    seen: list[EvalProgress] = []
    settings = EvalConfig(archs=["convnet3"], ipcs=[1], epochs=30, repeats=2, width=4,
                          gan_only=False)  # fmt: skip
    Evaluation(run.dir, settings, device="cpu").execute(
        lambda e: seen.append(e) if isinstance(e, EvalProgress) else None
    )
    assert seen and seen[0].eta_s is None  # the first report: no rate yet
    assert seen[-1].eta_s is not None  # a rate from the epochs timed so far


def test_the_set_up_toggle_beside_a_results_tab_is_a_working_toggle(window):
    toggle = window.setup_toggle
    window.setup_toggle.setChecked(False)  # collapsed beside the Training tab
    window.tabs.setCurrentIndex(1)  # Evaluation
    assert toggle.isVisible() and toggle.isEnabled()  # not a greyed, tab-like label
    assert not window.setup_area.isVisible()
    toggle.click()
    assert window.tabs.currentIndex() == 0 and window.setup_area.isVisible()
    window.tabs.setCurrentIndex(2)  # Distilled set: set-up steps aside, toggle still works
    assert not window.setup_area.isVisible() and toggle.isEnabled()
    toggle.click()
    assert window.tabs.currentIndex() == 0 and window.setup_area.isVisible()
    assert toggle.isChecked() and toggle.text() == "Hide set-up"


def _row(source: str, mean: float, std: float) -> dict:
    return {"arch": "convnet3", "ipc": 10, "source": source, "mean": mean, "std": std,
            "selection": "herding" if source == "distilled" else None, "n": 3}  # fmt: skip


CLOSE = [_row("distilled", 0.944, 0.003), _row("random-real", 0.930, 0.003)]


def test_the_window_chart_shows_a_point_of_difference(window):
    chart = window.evaluation.chart
    chart.show_rows(CLOSE, "arch", 10)
    low, top = chart.getPlotItem().getViewBox().viewRange()[1]
    assert 1.4 / (top - low) >= 0.1  # 1.4 points take a tenth of the axis or more
    assert low > 80 and f"axis from {low:g} %" in chart.getPlotItem().getAxis("left").labelText
    assert sorted(d[2] for d in chart.drawn) == pytest.approx([93.0, 94.4])


def test_the_exported_chart_shows_a_point_of_difference():
    from gdd_studio.export.charts import architecture_figure

    fig = architecture_figure(CLOSE)
    ax = fig.axes[0]
    low, top = ax.get_ylim()
    assert low > 80 and 1.4 / (top - low) >= 0.1
    assert "axis from" in ax.get_ylabel()


def test_the_charts_name_a_narrowed_networks_width(window):
    """Issue 31, item 8: a smoke run evaluates at width 16; the chart label says so, and
    says nothing for the literature's width."""
    from gdd_studio.export.charts import architecture_figure, ipc_figure

    narrow = [{**r, "width": 16} for r in CLOSE]
    chart = window.evaluation.chart
    chart.show_rows(narrow, "arch", 10)
    assert "networks of width 16" in chart.getPlotItem().getAxis("left").labelText
    chart.show_rows(CLOSE, "arch", 10)
    assert "width" not in chart.getPlotItem().getAxis("left").labelText
    assert "networks of width 16" in architecture_figure(narrow).axes[0].get_ylabel()
    assert "width" not in architecture_figure(CLOSE).axes[0].get_ylabel()
    two = narrow + [{**r, "ipc": 1} for r in narrow]
    assert "networks of width 16" in ipc_figure(two).axes[0].get_ylabel()
