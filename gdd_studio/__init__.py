"""GDD Studio: generative dataset distillation with self-knowledge distillation.

The engine (config, data, models, engine, evaluation, cli) never imports Qt; the window
lives in ``gdd_studio.ui`` and only wires widgets to the engine.
"""

__version__ = "0.1.0"
