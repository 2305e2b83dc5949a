"""Exports of a run: distilled sets, the generator, evaluation charts and tables."""

from .charts import CHART_KINDS, architecture_figure, ipc_figure, write_chart
from .sets import (
    FORMATS,
    SET_FORMATS,
    ExportError,
    export_generator,
    export_set,
    load_generator_file,
    sample_from_file,
)

__all__ = [
    "CHART_KINDS",
    "FORMATS",
    "SET_FORMATS",
    "ExportError",
    "architecture_figure",
    "export_generator",
    "export_set",
    "ipc_figure",
    "load_generator_file",
    "sample_from_file",
    "write_chart",
]
