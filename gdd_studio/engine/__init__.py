"""The Qt-free training engine: runs, events, losses, sampling and storage."""
