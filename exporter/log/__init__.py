"""Reading a training log as it grows: following the file (truncation, rotation, partial lines),
lines stamped with their Unix time, and the watcher thread that feeds a run model and publishes its
snapshots."""
