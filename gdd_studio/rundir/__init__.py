"""The run folder: the one contract between the process that trains and every reader."""
