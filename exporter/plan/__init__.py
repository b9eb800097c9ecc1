"""Planning a run before it starts: the formulas (tokens, FLOPs, time at an MFU, memory, energy),
the plan's numbers and how they are shown. Pure: no file, clock or GPU is read here."""
