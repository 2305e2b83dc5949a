"""PySide6 6.12.0 drops a reference to True on every signal emit and crashes a process
after a few thousand emits. An upgrade that brings that back must fail here, not in a
user's three-hour run: a worker thread emits 100,000 signals to the main thread."""

import subprocess
import sys
import textwrap


def test_100k_signals_from_a_worker_thread_survive():
    script = textwrap.dedent(
        """
        import os, sys
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

        N = 100_000

        class Worker(QObject):
            value = Signal(object)
            flag = Signal(bool)
            done = Signal()

            @Slot()
            def run(self):
                for i in range(N):
                    self.value.emit(i)
                    self.flag.emit(i % 2 == 0)
                self.done.emit()

        class Receiver(QObject):
            def __init__(self):
                super().__init__()
                self.count = 0
                self.flags = 0

            @Slot(object)
            def on_value(self, v):
                self.count += 1

            @Slot(bool)
            def on_flag(self, f):
                self.flags += 1

        app = QCoreApplication(sys.argv)
        thread = QThread()
        worker = Worker()
        worker.moveToThread(thread)
        rec = Receiver()
        worker.value.connect(rec.on_value)
        worker.flag.connect(rec.on_flag)
        worker.done.connect(app.quit)
        thread.started.connect(worker.run)
        thread.start()
        app.exec()
        app.processEvents()
        thread.quit()
        thread.wait()
        print(rec.count, rec.flags)
        sys.exit(0 if rec.count == N and rec.flags == N else 3)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    assert proc.stdout.split() == ["100000", "100000"]
