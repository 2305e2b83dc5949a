"""The Distilled set tab: a run's whole set, one row of images per class.

The set is made (or read back) by a ``SetWorker`` job (``ui/jobs.py``), never on the GUI
thread: herding may first train the run's observer, and a wide generator samples slowly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..errors import GddError, user_message
from .jobs import Job, wait_for_jobs
from .setup_widgets import SELECTION_TITLES
from .worker import SetWorker

Message = Callable[[str, str, str], None]  # (kind, title, text)


class SetViewer(QWidget):
    """The whole distilled set of a run as a grid by class, at a size the user picks.

    The set is made (or read back) on a worker thread: herding may first train the run's
    observer. With "Show candidates" the viewer shows every draw the rule chose from, the
    kept ones framed and the rejected ones dimmed; hovering an image names its class,
    whether it was kept and the observer's confidence in its label.
    """

    loaded = Signal()  # a set (or a message) is shown

    def __init__(self, message: Message, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("setViewer")
        self._message = message
        self.run_dir: Path | None = None
        self.stored = None  # the StoredSet shown
        self._mosaic: QPixmap | None = None
        self._classes: list[str] = []
        self._rows: list[int] = []  # mosaic row where each class starts
        self._tiles: list[tuple[int, int, int]] = []  # (top, left, index shown) per tile
        self._tile = 0
        self._margin = 110
        self._job: Job | None = None
        self._wanted: tuple | None = None  # what the running worker was asked for
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("IPC"))
        self.ipc = QSpinBox(objectName="viewerIpcSpin", minimum=1, maximum=1000, value=10)
        self.ipc.setToolTip("Images per class to show (made from the generator if needed)")
        self.ipc.setKeyboardTracking(False)
        self.ipc.valueChanged.connect(self.reload)
        row.addWidget(self.ipc)
        row.addSpacing(12)
        row.addWidget(QLabel("Selection"))
        self.selection = QComboBox(objectName="viewerSelectionCombo")
        for value, text in SELECTION_TITLES.items():
            self.selection.addItem(text, value)
        self.selection.setToolTip(
            "How the generator's draws become the set. Another rule makes another set (kept "
            "beside the run's own); evaluations and exports record which rule made theirs."
        )
        self.selection.currentIndexChanged.connect(self.reload)
        self.selection.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.selection.setMinimumContentsLength(19)  # the list opens full width
        row.addWidget(self.selection)
        self.show_candidates = QCheckBox("Show candidates", objectName="viewerCandidatesCheck")
        self.show_candidates.setToolTip(
            "Every draw the rule chose from: kept images framed, rejected ones dimmed"
        )
        self.show_candidates.toggled.connect(self._rebuild)
        row.addWidget(self.show_candidates)
        row.addStretch(1)
        layout.addLayout(row)
        # The size control shares the caption's line, so the first row fits a 1280 px window.
        below = QHBoxLayout()
        self.caption = QLabel("Select a finished run.", objectName="viewerCaption")
        self.caption.setWordWrap(True)
        below.addWidget(self.caption, 1)
        below.addWidget(QLabel("Size"))
        self.zoom = QSlider(Qt.Orientation.Horizontal, objectName="viewerZoomSlider")
        self.zoom.setRange(1, 8)
        self.zoom.setValue(2)
        self.zoom.setFixedWidth(90)
        self.zoom.setToolTip("Each generated pixel as a square of this many screen pixels")
        self.zoom.valueChanged.connect(self._draw)
        below.addWidget(self.zoom)
        self.zoom_label = QLabel()
        below.addWidget(self.zoom_label)
        layout.addLayout(below)
        self.view = QLabel(objectName="setView", alignment=Qt.AlignmentFlag.AlignCenter)
        self.view.setStyleSheet("background: #111; color: #aaa;")
        self.view.setMouseTracking(True)
        self.view.installEventFilter(self)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(self.view)
        layout.addWidget(scroll, 1)
        self.images: np.ndarray | None = None
        self.labels: np.ndarray | None = None

    @property
    def busy(self) -> bool:
        return self._job is not None

    def set_run(self, run_dir: Path | None) -> None:
        if run_dir == self.run_dir and self.images is not None:
            return
        self.run_dir = run_dir
        if run_dir is not None:
            try:
                from ..rundir.artifacts import run_config

                cfg = run_config(run_dir)
                for widget, value in ((self.ipc, cfg.ipc), (self.selection, None)):
                    widget.blockSignals(True)
                    if value is not None:
                        widget.setValue(value)
                    else:
                        i = widget.findData(cfg.sampling.selection)
                        widget.setCurrentIndex(max(i, 0))
                    widget.blockSignals(False)
            except GddError:
                pass
        if self.isVisible():
            self.reload()
        else:
            self.images = None  # loaded when the tab is shown

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.images is None and self.run_dir is not None and not self.busy:
            self.reload()

    def _request(self) -> tuple | None:
        if self.run_dir is None:
            return None
        return (self.run_dir, self.ipc.value(), self.selection.currentData())

    @Slot()
    def reload(self) -> None:
        """Show the run's set at the chosen IPC and rule (made once and kept, like exports)."""
        self.images = self.labels = self.stored = None
        self._mosaic = None
        wanted = self._request()
        if wanted is None:
            self._blank("Select a finished run in the runs list.")
            self.loaded.emit()
            return
        if self.busy:  # the running worker's answer is dropped; this request follows it
            self._wanted = None
            self._job.stop()
            return
        from ..rundir.artifacts import run_config

        run_dir, ipc, selection = wanted
        try:
            sampling = run_config(run_dir).sampling
        except GddError as exc:
            self._blank(str(exc))
            self.loaded.emit()
            return
        sampling.selection = selection
        what = "choosing" if selection != "random" else "drawing"
        self._blank(f"{what} {ipc} images per class from the generator...")
        self._wanted = wanted
        worker = SetWorker(run_dir, ipc, sampling)
        self._job = Job(worker, self)
        worker.returned.connect(self._on_done)
        worker.errored.connect(self._on_error)
        self._job.finished.connect(self._on_thread_finished)
        self._job.start()

    def _superseded(self) -> bool:
        return self._wanted is None or self._wanted != self._request()

    @Slot(object)
    def _on_error(self, exc: Exception) -> None:
        if self._superseded():
            return  # the next request starts when this thread has ended
        self._blank(user_message(exc))
        self.loaded.emit()

    @Slot(object)
    def _on_done(self, result: tuple[Path, int, Any, list[str]]) -> None:
        if self._superseded():
            return  # the next request starts when this thread has ended
        _, _, stored, classes = result
        self.stored, self._classes = stored, classes
        self.images, self.labels = stored.images, stored.labels
        has = stored.candidates is not None
        self.show_candidates.setEnabled(has)
        self._rebuild()

    @Slot()
    def _on_thread_finished(self) -> None:
        superseded = self._superseded()
        self._job = None
        if superseded and self._request() is not None and self.isVisible():
            self.reload()
        elif superseded:
            self.images = None  # made when the tab is shown again

    def shutdown(self) -> None:
        """Stop making a set and wait for the thread (closing the window, tests)."""
        wait_for_jobs(self)

    def _blank(self, text: str) -> None:
        self.view.clear()
        self.view.setText(text)
        self.caption.setText("")

    @Slot()
    def _rebuild(self) -> None:
        if self.stored is None:
            return
        self._build_mosaic()
        self._draw()
        self.loaded.emit()

    def _showing_candidates(self) -> bool:
        return (
            self.show_candidates.isChecked() and self.stored is not None
            and self.stored.candidates is not None
        )  # fmt: skip

    def _build_mosaic(self) -> None:
        """Rows by class (wrapping after 25 images), 2 px between images, 6 between classes.

        Showing candidates: every draw, kept ones framed in green, rejected ones dimmed.
        """
        st = self.stored
        assert st is not None
        if self._showing_candidates():
            images, labels = st.candidates, st.candidate_labels
            kept = np.zeros(len(labels), dtype=bool)
            kept[st.kept] = True
        else:
            images, labels, kept = st.images, st.labels, None
        n, h, w, c = images.shape
        per_row = 25
        gap, class_gap = 2, 6
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=len(self._classes))
        lines = [max(1, -(-int(k) // per_row)) for k in counts]
        cols = min(per_row, int(counts.max())) if n else 1
        height = sum(lines) * (h + gap) + (len(lines) - 1) * class_gap
        width = cols * (w + gap) - gap
        canvas = np.full((height, width, 3), 17, dtype=np.uint8)
        self._rows, self._tiles, y, i = [], [], 0, 0
        for k, count in enumerate(counts):
            self._rows.append(y)
            for j in range(int(count)):
                r, col = divmod(j, per_row)
                top, left = y + r * (h + gap), col * (w + gap)
                tile = images[order[i]]
                tile = np.repeat(tile, 3, axis=2) if c == 1 else tile
                if kept is not None and not kept[order[i]]:
                    tile = (tile.astype(np.float32) * 0.35).astype(np.uint8)
                canvas[top : top + h, left : left + w] = tile
                if kept is not None and kept[order[i]]:
                    _frame(canvas, top, left, h, w, (60, 220, 90))
                self._tiles.append((top, left, int(order[i])))
                i += 1
            y += lines[k] * (h + gap) + class_gap
        from .monitor import _qimage

        self._mosaic = QPixmap.fromImage(_qimage(canvas))
        self._tile = h

    @Slot()
    def _draw(self) -> None:
        k = self.zoom.value()
        self.zoom_label.setText(f"{k}x")
        if self._mosaic is None or self.stored is None:
            return
        scaled = self._mosaic.scaled(
            self._mosaic.width() * k, self._mosaic.height() * k,
            Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation,
        )  # fmt: skip
        margin = self._margin
        out = QPixmap(scaled.width() + margin, scaled.height())
        out.fill(QColor(17, 17, 17))
        painter = QPainter(out)
        painter.drawPixmap(margin, 0, scaled)
        painter.setPen(QColor(200, 200, 200))
        for name, y in zip(self._classes, self._rows, strict=False):
            painter.drawText(4, y * k, margin - 8, max(14, self._tile * k),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                             name)  # fmt: skip
        painter.end()
        self.view.setPixmap(out)
        st = self.stored
        n = len(st.labels)
        text = f"{self.run_dir.name}: {n} images, {len(self._classes)} classes, "
        if st.candidates is not None:
            text += (
                f"chosen by herding from {len(st.candidate_labels)} draws "
                f"({len(st.candidate_labels) // max(1, len(self._classes))} per class)"
            )
        else:
            text += "the first draws per class (random selection)"
        if self._showing_candidates():
            text += "; framed: kept, dimmed: rejected"
        self.caption.setText(text)

    def tile_at(self, x: int, y: int) -> int | None:
        """The index (into the shown images) of the tile under a point of the view."""
        pix = self.view.pixmap()
        if self._mosaic is None or pix is None or pix.isNull():
            return None
        k = self.zoom.value()
        ox = (self.view.width() - pix.width()) // 2 + self._margin
        oy = (self.view.height() - pix.height()) // 2
        mx, my = (x - ox) / k, (y - oy) / k
        for top, left, index in self._tiles:
            if top <= my < top + self._tile and left <= mx < left + self._tile:
                return index
        return None

    def _origin(self, index: int) -> int | None:
        """A shown image's index in the real training split (-1: a draw); None: unknown."""
        st = self.stored
        if st is None or st.origin is None:
            return None
        if self._showing_candidates():
            return int(st.origin[index])
        return int(st.origin[int(st.kept[index])]) if st.kept is not None else None

    def describe(self, index: int) -> str:
        """The tooltip of a shown image: class, kept or not, the observer's confidence."""
        st = self.stored
        assert st is not None
        if self._showing_candidates():
            label = int(st.candidate_labels[index])
            kept = index in set(st.kept.tolist())
            state = "kept" if kept else "rejected"
            conf = st.confidence[index] if st.confidence is not None else None
        else:
            label = int(st.labels[index])
            state = "in the set"
            conf = None
            if st.kept is not None and st.confidence is not None:
                conf = st.confidence[int(st.kept[index])]
        text = f"{self._classes[label]}: {state}"
        origin = self._origin(index)
        if origin is not None:
            text += f"; real training image #{origin}" if origin >= 0 else "; a generator draw"
        if conf is not None:
            text += f"; observer's confidence in this class {100 * float(conf):.1f} %"
        return text

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if obj is self.view and event.type() == QEvent.Type.MouseMove and self.stored:
            pos = event.position().toPoint()
            index = self.tile_at(pos.x(), pos.y())
            self.view.setToolTip("" if index is None else self.describe(index))
        return super().eventFilter(obj, event)


def _frame(canvas: np.ndarray, top: int, left: int, h: int, w: int, colour) -> None:
    """A one-pixel frame just inside a tile."""
    canvas[top, left : left + w] = colour
    canvas[top + h - 1, left : left + w] = colour
    canvas[top : top + h, left] = colour
    canvas[top : top + h, left + w - 1] = colour
