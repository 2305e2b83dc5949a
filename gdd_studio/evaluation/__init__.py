"""Training and testing classifiers on a distilled set (phase 4 of docs/METHOD.md)."""
