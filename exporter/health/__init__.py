"""What the exporter learns about a run's health over time: pure maths of plain numbers, fed by the
run model and the serve loop."""
